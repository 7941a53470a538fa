package kube

import (
	"errors"
	"testing"
)

// FuzzPin feeds the post-renderer untrusted rendered YAML: it must not
// panic, and what it returns must read back with every image pinned.
func FuzzPin(f *testing.F) {
	f.Add([]byte("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n"))
	f.Add([]byte("# Source: a.yaml\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: 'wf/api:1.4.0'}]}}}}}\n---\nkind: List\nitems: [{kind: Pod, spec: {initContainers: [{name: i, image: \"busybox:1.36\"}]}}]\n"))
	f.Add([]byte("kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - {name: \"é\", image: !!str nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := testPinner()
		out, uses, err := p.Pin(data)
		if err != nil {
			if out != nil {
				t.Fatal("output with an error")
			}
			var me *MissingError
			if errors.Is(err, ErrMissingImage) && !errors.As(err, &me) {
				t.Fatal("missing image without the list")
			}
			return
		}
		back, err := p.Uses(out)
		if err != nil || len(back) != len(uses) {
			t.Fatalf("output does not read back: %v", err)
		}
		for i, u := range back {
			if u.Image != uses[i].Pinned {
				t.Fatalf("use %d reads %q, want %q", i, u.Image, uses[i].Pinned)
			}
		}
	})
}
