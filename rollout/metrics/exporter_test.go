package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches url over HTTP and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// find returns the metric of family name labelled service and version.
func find(t *testing.T, families map[string]*dto.MetricFamily, name, service, version string) *dto.Metric {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("no %s in the scrape", name)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["service"] == service && labels["version"] == version {
			return m
		}
	}
	t.Fatalf("no %s{service=%q,version=%q} in the scrape", name, service, version)
	return nil
}

func TestExporterScrape(t *testing.T) {
	sampler := newSampler(t)
	exp := NewExporter(sampler)

	stable := NewRecorder("api", "1.4.0")
	canary := NewRecorder("api", "1.5.0")
	for range 90 {
		stable.ObserveResponse(200, 2*time.Millisecond)
	}
	for range 10 {
		stable.ObserveResponse(502, 50*time.Millisecond)
	}
	stable.ObserveConnError()
	canary.ObserveResponse(200, time.Minute)
	canary.ObserveCanceled()
	canary.SetProcesses([]int{startGroup(t, "exec sleep 60")})
	exp.Add(stable)
	exp.Add(canary)

	srv := httptest.NewServer(exp.Handler())
	defer srv.Close()
	families := scrape(t, srv.URL+"/metrics")

	for name, want := range map[string]float64{
		"ferry_requests_total":          101,
		"ferry_responses_5xx_total":     10,
		"ferry_connection_errors_total": 1,
		"ferry_requests_canceled_total": 0,
	} {
		if got := find(t, families, name, "api", "1.4.0").GetCounter().GetValue(); got != want {
			t.Errorf("%s{version=1.4.0} = %v, want %v", name, got, want)
		}
	}
	if got := find(t, families, "ferry_requests_canceled_total", "api", "1.5.0").GetCounter().GetValue(); got != 1 {
		t.Errorf("ferry_requests_canceled_total{version=1.5.0} = %v, want 1", got)
	}

	h := find(t, families, "ferry_request_duration_seconds", "api", "1.4.0").GetHistogram()
	if h.GetSampleCount() != 100 {
		t.Errorf("histogram count %d, want 100", h.GetSampleCount())
	}
	if want := 90*0.002 + 10*0.05; h.GetSampleSum() < want-1e-9 || h.GetSampleSum() > want+1e-9 {
		t.Errorf("histogram sum %v, want %v", h.GetSampleSum(), want)
	}
	// The text format lists the +Inf bucket too.
	if got := len(h.GetBucket()); got != BucketCount {
		t.Errorf("histogram has %d buckets, want %d", got, BucketCount)
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() >= 0.002 && b.GetUpperBound() < 0.05 && b.GetCumulativeCount() != 90 {
			t.Errorf("bucket le=%v counts %d, want 90", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
	slow := find(t, families, "ferry_request_duration_seconds", "api", "1.5.0").GetHistogram()
	if last := slow.GetBucket()[len(slow.GetBucket())-2]; slow.GetSampleCount() != 1 || last.GetCumulativeCount() != 0 {
		t.Errorf("a one-minute response: count %d, last finite bucket %d; want 1 and 0 (it is only in +Inf)", slow.GetSampleCount(), last.GetCumulativeCount())
	}

	if got := find(t, families, "ferry_processes", "api", "1.5.0").GetGauge().GetValue(); got != 1 {
		t.Errorf("ferry_processes{version=1.5.0} = %v, want 1", got)
	}
	if got := find(t, families, "ferry_process_resident_memory_bytes", "api", "1.5.0").GetGauge().GetValue(); got <= 0 {
		t.Errorf("ferry_process_resident_memory_bytes{version=1.5.0} = %v, want above 0", got)
	}
	find(t, families, "ferry_process_cpu_seconds_total", "api", "1.5.0")
	for _, m := range families["ferry_processes"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "version" && l.GetValue() == "1.4.0" {
				t.Error("process metrics for a version without processes")
			}
		}
	}

	exp.Remove(canary)
	exp.Remove(NewRecorder("api", "1.4.0")) // not the one added: nothing happens
	families = scrape(t, srv.URL+"/metrics")
	if got := len(families["ferry_requests_total"].GetMetric()); got != 1 {
		t.Errorf("after removing the canary the scrape has %d versions, want 1", got)
	}
	find(t, families, "ferry_requests_total", "api", "1.4.0")
}

func TestExporterWithoutSampler(t *testing.T) {
	exp := NewExporter(nil)
	r := NewRecorder("web", "2.0.0")
	r.SetProcesses([]int{1})
	exp.Add(r)
	srv := httptest.NewServer(exp.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.String(), `ferry_requests_total{service="web",version="2.0.0"} 0`) {
		t.Errorf("scrape lacks the request counter:\n%s", body.String())
	}
	if strings.Contains(body.String(), "ferry_process") {
		t.Errorf("process metrics without a sampler:\n%s", body.String())
	}
}
