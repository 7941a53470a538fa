package compliance

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// oscalVersion is the OSCAL release whose assessment-results schema the
// output is valid against.
const oscalVersion = "1.2.1"

// The OSCAL assessment-results model, as much of it as ferry fills in.
// Field order follows the schema so the output reads like NIST's examples.
type (
	oscalDocument struct {
		AssessmentResults oscalAR `json:"assessment-results"`
	}
	oscalAR struct {
		UUID       string          `json:"uuid"`
		Metadata   oscalMetadata   `json:"metadata"`
		ImportAP   oscalImportAP   `json:"import-ap"`
		Results    []oscalResult   `json:"results"`
		BackMatter oscalBackMatter `json:"back-matter"`
	}
	oscalMetadata struct {
		Title        string      `json:"title"`
		LastModified string      `json:"last-modified"`
		Version      string      `json:"version"`
		OSCALVersion string      `json:"oscal-version"`
		Props        []oscalProp `json:"props,omitempty"`
		Remarks      string      `json:"remarks,omitempty"`
	}
	oscalProp struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	oscalLink struct {
		Href string `json:"href"`
		Rel  string `json:"rel,omitempty"`
		Text string `json:"text,omitempty"`
	}
	oscalImportAP struct {
		Href    string `json:"href"`
		Remarks string `json:"remarks,omitempty"`
	}
	oscalResult struct {
		UUID             string             `json:"uuid"`
		Title            string             `json:"title"`
		Description      string             `json:"description"`
		Start            string             `json:"start"`
		End              string             `json:"end"`
		Links            []oscalLink        `json:"links,omitempty"`
		ReviewedControls oscalReviewed      `json:"reviewed-controls"`
		Observations     []oscalObservation `json:"observations,omitempty"`
		Findings         []oscalFinding     `json:"findings,omitempty"`
		Remarks          string             `json:"remarks,omitempty"`
	}
	oscalReviewed struct {
		Description       string                  `json:"description,omitempty"`
		ControlSelections []oscalControlSelection `json:"control-selections"`
	}
	oscalControlSelection struct {
		IncludeControls []oscalControlRef `json:"include-controls"`
	}
	oscalControlRef struct {
		ControlID string `json:"control-id"`
	}
	oscalObservation struct {
		UUID             string          `json:"uuid"`
		Title            string          `json:"title,omitempty"`
		Description      string          `json:"description"`
		Methods          []string        `json:"methods"`
		RelevantEvidence []oscalEvidence `json:"relevant-evidence,omitempty"`
		Collected        string          `json:"collected"`
	}
	oscalEvidence struct {
		Description string `json:"description"`
	}
	oscalFinding struct {
		UUID                string            `json:"uuid"`
		Title               string            `json:"title"`
		Description         string            `json:"description"`
		Props               []oscalProp       `json:"props,omitempty"`
		Target              oscalTarget       `json:"target"`
		RelatedObservations []oscalRelatedObs `json:"related-observations,omitempty"`
		Remarks             string            `json:"remarks,omitempty"`
	}
	oscalTarget struct {
		Type                 string               `json:"type"`
		TargetID             string               `json:"target-id"`
		Title                string               `json:"title,omitempty"`
		Description          string               `json:"description,omitempty"`
		Status               oscalStatus          `json:"status"`
		ImplementationStatus *oscalImplementation `json:"implementation-status,omitempty"`
	}
	oscalStatus struct {
		State   string `json:"state"`
		Reason  string `json:"reason,omitempty"`
		Remarks string `json:"remarks,omitempty"`
	}
	oscalImplementation struct {
		State   string `json:"state"`
		Remarks string `json:"remarks,omitempty"`
	}
	oscalRelatedObs struct {
		ObservationUUID string `json:"observation-uuid"`
	}
	oscalBackMatter struct {
		Resources []oscalResource `json:"resources"`
	}
	oscalResource struct {
		UUID        string         `json:"uuid"`
		Title       string         `json:"title,omitempty"`
		Description string         `json:"description,omitempty"`
		Props       []oscalProp    `json:"props,omitempty"`
		Citation    *oscalCitation `json:"citation,omitempty"`
		RLinks      []oscalRLink   `json:"rlinks,omitempty"`
	}
	oscalCitation struct {
		Text string `json:"text"`
	}
	oscalRLink struct {
		Href      string      `json:"href"`
		MediaType string      `json:"media-type,omitempty"`
		Hashes    []oscalHash `json:"hashes,omitempty"`
	}
	oscalHash struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"value"`
	}
)

// oscalTime formats a time for OSCAL, which requires a time zone; a time
// ferry did not record is reported as the collection time.
func oscalTime(t, fallback time.Time) string {
	if t.IsZero() {
		t = fallback
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func writeOSCAL(w io.Writer, ev *Evidence, findings []Finding) error {
	cat, err := LoadCatalog()
	if err != nil {
		return err
	}
	src := cat.Source
	collected := oscalTime(ev.Collected, ev.Collected)
	docID := nameUUID("assessment-results", ev.Root, collected, ev.Audit.Head)
	catalogID := nameUUID("catalog", src.URL, src.SHA256)
	methodID := nameUUID("method", docID)

	res := oscalResult{
		UUID:  nameUUID("result", docID),
		Title: "ferry assessment of the appliance at " + ev.Root,
		Description: "Evidence that ferry recorded on this appliance (trust store, releases and their signed manifests, the install journal, the hash-chained audit log, the installed licence and its history, the clock high-water mark, the rollouts ferry serve saved, file modes), " +
			"re-checked when the report was made (audit chain, installed content against the signed manifests, the licence against the release's licence keys and the clock), and the status of each control decided from it.",
		Start: collected,
		End:   collected,
		Links: []oscalLink{{Href: "#" + catalogID, Rel: "reference", Text: src.Title + " " + src.Version}},
		ReviewedControls: oscalReviewed{
			Description: "The NIST SP 800-53 rev5 controls that ferry's records bear on.",
		},
		Remarks: "Nothing is stated as satisfied without evidence. What only the organisation can show is named in each finding's remarks and is not claimed.",
	}
	var sel oscalControlSelection
	for _, f := range findings {
		sel.IncludeControls = append(sel.IncludeControls, oscalControlRef{ControlID: f.Control})
		of := oscalFinding{
			UUID:        nameUUID("finding", docID, f.Control),
			Title:       f.Label + " " + f.Title,
			Description: f.Summary,
			Props:       []oscalProp{{Name: "label", Value: f.Label}},
			Target: oscalTarget{
				Type: "statement-id", TargetID: f.StatementID, Title: f.Label + " statement",
				Description: f.Statement,
				Status:      oscalStatus{State: string(Satisfied), Reason: "pass"},
			},
			Remarks: "Organisation's responsibility: " + f.Organisation,
		}
		switch f.Status {
		case NotSatisfied:
			of.Target.Status = oscalStatus{State: string(NotSatisfied), Reason: "fail"}
		case NotApplicable:
			of.Target.Status = oscalStatus{State: string(NotSatisfied), Reason: "not-applicable", Remarks: f.Summary}
			of.Target.ImplementationStatus = &oscalImplementation{State: "not-applicable", Remarks: f.Summary}
		}
		for i, it := range f.Evidence {
			id := nameUUID("observation", docID, f.Control, strconv.Itoa(i), it.Description)
			res.Observations = append(res.Observations, oscalObservation{
				UUID:             id,
				Title:            fmt.Sprintf("%s evidence %d", f.Label, i+1),
				Description:      it.Description,
				Methods:          []string{it.Method},
				RelevantEvidence: []oscalEvidence{{Description: evidenceSource(it.Method)}},
				Collected:        oscalTime(it.Time, ev.Collected),
			})
			of.RelatedObservations = append(of.RelatedObservations, oscalRelatedObs{ObservationUUID: id})
		}
		res.Findings = append(res.Findings, of)
	}
	res.ReviewedControls.ControlSelections = []oscalControlSelection{sel}

	doc := oscalDocument{AssessmentResults: oscalAR{
		UUID: docID,
		Metadata: oscalMetadata{
			Title:        "Compliance evidence for the ferry appliance at " + ev.Root,
			LastModified: collected,
			Version:      collected,
			OSCALVersion: oscalVersion,
			Props: []oscalProp{
				{Name: "tool", Value: ev.Tool.Name + " " + ev.Tool.Version},
			},
			Remarks: fmt.Sprintf("Control titles and statements are quoted from %s, version %s (%s %s at %s, SHA-256 %s).",
				src.Title, src.Version, src.Repository, src.Path, src.Commit, src.SHA256),
		},
		ImportAP: oscalImportAP{
			Href:    "#" + methodID,
			Remarks: "ferry has no separate assessment plan; its method is the back-matter resource this points to.",
		},
		Results: []oscalResult{res},
		BackMatter: oscalBackMatter{Resources: []oscalResource{
			{
				UUID:        catalogID,
				Title:       src.Title,
				Description: fmt.Sprintf("Version %s (OSCAL %s, last modified %s). %s.", src.Version, src.OSCALVersion, src.LastModified, src.License),
				Props:       []oscalProp{{Name: "version", Value: src.Version}},
				Citation:    &oscalCitation{Text: src.Repository + " " + src.Path + " at " + src.Commit},
				RLinks: []oscalRLink{{
					Href: src.URL, MediaType: "application/json",
					Hashes: []oscalHash{{Algorithm: "SHA-256", Value: src.SHA256}},
				}},
			},
			{
				UUID:  methodID,
				Title: "ferry compliance report method",
				Description: "ferry opens the appliance state read-only, reads the trust store, the releases with their signed manifests, the install journal, the rollouts ferry serve saved and the audit log, " +
					"re-verifies the audit log's hash chain and its recorded head, recomputes each release's manifest digest, re-hashes installed files and store blobs " +
					"against the signed manifests (as ferry check does), verifies the installed licence against the current release's licence keys and judges it at the later of the system clock and the clock high-water mark, " +
					"records the modes and owners of the root and state.db, and whether it runs in FIPS 140-3 mode. " +
					"Each control is then decided from that evidence alone.",
			},
		}},
	}}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func evidenceSource(method string) string {
	if method == Test {
		return "re-checked on the appliance when this report was made"
	}
	return "recorded by ferry in the appliance state (state.db)"
}
