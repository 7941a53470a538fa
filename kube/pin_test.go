package kube

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"ferry/bundle"
)

var (
	dNginx  = "sha256:" + strings.Repeat("1", 64)
	dAPI    = "sha256:" + strings.Repeat("2", 64)
	dWorker = "sha256:" + strings.Repeat("3", 64)
	dSrc    = "sha256:" + strings.Repeat("4", 64)
	dBusy   = "sha256:" + strings.Repeat("5", 64)
)

// testImages are a bundle's images named the ways ferry names them: a
// Docker Hub short name with Hub's library/ path, a registry image without
// its host, an image narrowed to platforms (SourceDigest), and a local
// image whose spec name is kept as written.
var testImages = []bundle.Image{
	{Name: "library/nginx:1.25", Digest: dNginx},
	{Name: "wf/api:1.4.0", Digest: dAPI},
	{Name: "wf/worker:2.0", Digest: dWorker, SourceDigest: dSrc},
	{Name: "busybox:1.36", Digest: dBusy},
}

func testPinner() *Pinner {
	return &Pinner{Registry: "registry.local:5000", Chart: "platform", Images: testImages}
}

const (
	pinNginx  = "registry.local:5000/library/nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	pinAPI    = "registry.local:5000/wf/api@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	pinWorker = "registry.local:5000/wf/worker@sha256:3333333333333333333333333333333333333333333333333333333333333333"
	pinBusy   = "registry.local:5000/busybox@sha256:5555555555555555555555555555555555555555555555555555555555555555"
)

// podSpec is a pod spec at indent with one container of each kind.
func podSpec(indent string) string {
	return indent + "initContainers:\n" +
		indent + "- name: init\n" +
		indent + "  image: busybox:1.36\n" +
		indent + "containers:\n" +
		indent + "- name: app\n" +
		indent + "  image: registry.example.com/wf/api:1.4.0 # the app\n" +
		indent + "  ports: [{containerPort: 80}]\n" +
		indent + "ephemeralContainers:\n" +
		indent + "- {name: debug, image: \"docker.io/library/nginx:1.25\"}\n"
}

func TestPinWorkloadKinds(t *testing.T) {
	three := []string{pinBusy, pinAPI, pinNginx}
	for _, tc := range []struct {
		kind, doc string
	}{
		{"Pod", "spec:\n" + podSpec("  ")},
		{"PodTemplate", "template:\n  spec:\n" + podSpec("    ")},
		{"Deployment", "spec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n" + podSpec("      ")},
		{"StatefulSet", "spec:\n  template:\n    spec:\n" + podSpec("      ")},
		{"DaemonSet", "spec:\n  template:\n    spec:\n" + podSpec("      ")},
		{"ReplicaSet", "spec:\n  template:\n    spec:\n" + podSpec("      ")},
		{"ReplicationController", "spec:\n  template:\n    spec:\n" + podSpec("      ")},
		{"Job", "spec:\n  template:\n    spec:\n" + podSpec("      ")},
		{"CronJob", "spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" + podSpec("          ")},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			in := "---\n# Source: platform/templates/x.yaml\napiVersion: v1\nkind: " + tc.kind + "\nmetadata:\n  name: web\n" + tc.doc
			out, uses, err := testPinner().Pin([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer(
				"image: busybox:1.36", `image: "`+pinBusy+`"`,
				"image: registry.example.com/wf/api:1.4.0", `image: "`+pinAPI+`"`,
				`image: "docker.io/library/nginx:1.25"`, `image: "`+pinNginx+`"`,
			).Replace(in)
			if string(out) != want {
				t.Fatalf("got\n%s\nwant\n%s", out, want)
			}
			if len(uses) != 3 {
				t.Fatalf("uses = %+v", uses)
			}
			for i, u := range uses {
				if u.Pinned != three[i] || u.Kind != tc.kind || u.Name != "web" || u.Template != "platform/templates/x.yaml" {
					t.Errorf("use %d = %+v", i, u)
				}
			}
			if uses[0].Field != "initContainers" || uses[1].Field != "containers" || uses[2].Field != "ephemeralContainers" {
				t.Errorf("fields = %+v", uses)
			}
		})
	}
}

func TestPinReferenceForms(t *testing.T) {
	for _, tc := range []struct {
		ref, want string
	}{
		{"nginx:1.25", pinNginx},                                   // Docker Hub short name
		{"docker.io/nginx:1.25", pinNginx},                         // Hub without library/
		{"index.docker.io/library/nginx:1.25", pinNginx},           // Hub's full name
		{"nginx@" + dNginx, pinNginx},                              // by digest
		{"nginx:1.25@" + dNginx, pinNginx},                         // tag and digest: the digest decides
		{"quay.io/wf/api:1.4.0", pinAPI},                           // another registry host
		{"wf/api:1.4.0", pinAPI},                                   // no host
		{"wf/worker@" + dSrc, pinWorker},                           // the digest at the source
		{"busybox:1.36", pinBusy},                                  // a local name kept as written
		{"'wf/api:1.4.0'", pinAPI},                                 // single-quoted
		{"!!str wf/api:1.4.0", pinAPI},                             // tagged
		{"nginx:1.24", ""},                                         // another tag
		{"nginx", ""},                                              // latest, which the bundle lacks
		{"wf/api@" + dNginx, ""},                                   // a digest of another image
		{"wf/api:1.4.0@" + strings.Replace(dAPI, "2", "9", 1), ""}, // right tag, wrong digest
	} {
		t.Run(tc.ref, func(t *testing.T) {
			in := "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: " + tc.ref + "\n"
			out, uses, err := testPinner().Pin([]byte(in))
			if tc.want == "" {
				if !errors.Is(err, ErrMissingImage) {
					t.Fatalf("got %v, want a missing image", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if uses[0].Pinned != tc.want || !bytes.Contains(out, []byte(`"`+tc.want+`"`+"\n")) {
				t.Fatalf("pinned %q, out\n%s", uses[0].Pinned, out)
			}
		})
	}
}

// TestPinKeepsEverythingElse pins a manifest of several documents, a
// hook and resources without pods, and checks that only the image
// scalars changed: comments, annotations Helm needs, order, a document
// that is not a workload, a List of workloads.
func TestPinKeepsEverythingElse(t *testing.T) {
	in := `---
# Source: platform/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  image: nginx:9.9   # not a container: left alone
---
# Source: platform/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    postrenderer.helm.sh/postrender-filename: templates/deployment.yaml
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
          env: [{name: IMAGE, value: "nginx:1.25"}]
---
# Source: platform/templates/migrate-job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: "wf/api:1.4.0"
        command: ["/api", "migrate"]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: listed}
  spec: {containers: [{name: a, image: busybox:1.36}]}
`
	out, uses, err := testPinner().Pin([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"          image: nginx:1.25", `          image: "`+pinNginx+`"`,
		`image: "wf/api:1.4.0"`, `image: "`+pinAPI+`"`,
		"image: busybox:1.36", `image: "`+pinBusy+`"`,
	).Replace(in)
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.Template+" "+u.Kind+"/"+u.Name+" "+u.Container)
	}
	wantUses := []string{
		"templates/deployment.yaml Deployment/web web",
		"platform/templates/migrate-job.yaml Job/migrate migrate",
		" Pod/listed a",
	}
	if strings.Join(got, "|") != strings.Join(wantUses, "|") {
		t.Errorf("uses = %q, want %q", got, wantUses)
	}
	// Run, the post-renderer Helm calls, gives the same bytes.
	buf, err := testPinner().Run(bytes.NewBufferString(in))
	if err != nil || buf.String() != want {
		t.Errorf("Run = %v", err)
	}
}

// TestMissingImagesNamed checks the refusal names every missing image with
// its chart, template, resource and container, not only the first.
func TestMissingImagesNamed(t *testing.T) {
	in := `# Source: platform/templates/deployment.yaml
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers: [{name: wait, image: busybox:1.35}]
      containers: [{name: web, image: nginx:1.25}, {name: sidecar, image: ghcr.io/acme/proxy:3}]
---
# Source: platform/templates/cron.yaml
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: backup, image: acme/backup}]
`
	out, _, err := testPinner().Pin([]byte(in))
	if out != nil {
		t.Error("a refused manifest must not be returned")
	}
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, ErrMissingImage) {
		t.Fatalf("got %v, want a *MissingError", err)
	}
	want := `chart platform names 3 image(s) the bundle does not carry:
  platform/templates/deployment.yaml: Deployment/web initContainer "wait": image "busybox:1.35"
  platform/templates/deployment.yaml: Deployment/web container "sidecar": image "ghcr.io/acme/proxy:3"
  platform/templates/cron.yaml: CronJob/nightly container "backup": image "acme/backup"
add them to the component's images: in ferry.yaml, or set the chart's values to an image the bundle has`
	if err.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", err, want)
	}
}

// TestPinRefusesWhatItCannotPinSafely covers manifests whose images ferry
// cannot rewrite exactly as Kubernetes will read them.
func TestPinRefusesWhatItCannotPinSafely(t *testing.T) {
	pod := func(containers string) string {
		return "kind: Pod\nmetadata: {name: p}\nspec:\n" + containers
	}
	for name, in := range map[string]string{
		"duplicate image key":  pod("  containers:\n  - name: c\n    image: nginx:1.25\n    image: evil/x:1\n"),
		"duplicate containers": pod("  containers: [{name: a, image: nginx:1.25}]\n  containers: [{name: b, image: evil/x:1}]\n"),
		"alias container":      "x: &c {name: c, image: evil/x:1}\n---\n" + pod("  containers: [*c]\n"),
		"merge key":            pod("  containers:\n  - <<: {image: evil/x:1}\n    name: c\n"),
		"block scalar":         pod("  containers:\n  - name: c\n    image: |\n      nginx:1.25\n"),
		"multi-line plain":     pod("  containers:\n  - name: c\n    image:\n      nginx\n      :1.25\n"),
		"image a mapping":      pod("  containers:\n  - name: c\n    image: {a: b}\n"),
		"no image":             pod("  containers:\n  - name: c\n"),
		"containers a string":  pod("  containers: nginx\n"),
		"spec a list":          "kind: Deployment\nmetadata: {name: d}\nspec: [1]\n",
		"not UTF-8":            pod("  containers: [{name: c, image: \"\xff\"}]\n"),
		"syntax":               pod("  containers: [{name: c, image: nginx:1.25\n"),
	} {
		t.Run(name, func(t *testing.T) {
			out, _, err := testPinner().Pin([]byte(in))
			if err == nil {
				t.Fatalf("pinned:\n%s", out)
			}
			if errors.Is(err, ErrMissingImage) && name != "no image" {
				t.Logf("refused as missing: %v", err)
			}
		})
	}
	if _, _, err := (&Pinner{Chart: "c", Images: testImages}).Pin([]byte(pod("  containers: []\n"))); err == nil {
		t.Error("no registry must be refused")
	}
	if _, _, err := (&Pinner{Registry: "https://r", Images: testImages}).Pin([]byte(pod("  containers: []\n"))); err == nil {
		t.Error("a registry with a scheme must be refused")
	}
}
