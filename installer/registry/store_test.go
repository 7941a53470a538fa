package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ferry/internal/oci"
)

// replaceIndex rewrites index.json as the store's writer does: a new file
// renamed over the old one.
func replaceIndex(t *testing.T, dir string, edit func(idx *v1.IndexManifest)) {
	t.Helper()
	if err := writeIndex(dir, edit); err != nil {
		t.Fatal(err)
	}
}

func writeIndex(dir string, edit func(idx *v1.IndexManifest)) error {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return err
	}
	edit(&idx)
	if b, err = json.Marshal(&idx); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "index.json.*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, "index.json"))
}

// TestIndexReplaced checks that the registry follows the store's writer:
// an added image is served, and a removed one is not, from the next request.
func TestIndexReplaced(t *testing.T) {
	f := newFixture(t)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.appendImage(t, "wf/api:3.0.0", img)
	if _, err := remote.Image(f.ref(t, "wf/api:3.0.0")); err != nil {
		t.Fatalf("added image: %v", err)
	}

	// Renaming the tag keeps index.json the same size, so only the file's
	// identity tells the versions apart.
	replaceIndex(t, f.dir, func(idx *v1.IndexManifest) {
		for i, d := range idx.Manifests {
			if d.Annotations[oci.RefNameAnnotation] == "wf/api:3.0.0" {
				idx.Manifests[i].Annotations[oci.RefNameAnnotation] = "wf/api:3.0.1"
			}
		}
	})
	resp, body := f.do(t, http.MethodGet, "/v2/wf/api/manifests/3.0.0", nil)
	wantStatus(t, resp, http.StatusNotFound)
	wantCode(t, body, "MANIFEST_UNKNOWN")
	if _, err := remote.Image(f.ref(t, "wf/api:3.0.1")); err != nil {
		t.Fatalf("renamed tag: %v", err)
	}

	// Removing the last image of a repository removes the repository, and
	// its blobs are no longer readable through it.
	layers, _ := f.images["library/nginx:1.25"].Layers()
	layer, _ := layers[0].Digest()
	replaceIndex(t, f.dir, func(idx *v1.IndexManifest) {
		var keep []v1.Descriptor
		for _, d := range idx.Manifests {
			if d.Annotations[oci.RefNameAnnotation] != "library/nginx:1.25" {
				keep = append(keep, d)
			}
		}
		idx.Manifests = keep
	})
	resp, body = f.do(t, http.MethodGet, "/v2/library/nginx/blobs/"+layer.String(), nil)
	wantStatus(t, resp, http.StatusNotFound)
	wantCode(t, body, "NAME_UNKNOWN")
}

func TestEmptyStore(t *testing.T) {
	dir := t.TempDir()
	srv := Handler(filepath.Join(dir, "store"), Options{Logger: testLogger(t)})
	f := &fixture{dir: dir}
	f.serve(t, srv)
	resp, _ := f.do(t, http.MethodGet, "/v2/", nil)
	wantStatus(t, resp, http.StatusOK)
	resp, body := f.do(t, http.MethodGet, "/v2/_catalog", nil)
	wantStatus(t, resp, http.StatusOK)
	if string(body) != `{"repositories":[]}` {
		t.Errorf("catalog %s", body)
	}
	resp, body = f.do(t, http.MethodGet, "/v2/wf/api/manifests/1.0.0", nil)
	wantStatus(t, resp, http.StatusNotFound)
	wantCode(t, body, "NAME_UNKNOWN")
}

func TestDamagedIndex(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.dir, "index.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body := f.do(t, http.MethodGet, "/v2/wf/api/manifests/1.0.0", nil)
	wantStatus(t, resp, http.StatusInternalServerError)
	wantCode(t, body, "UNKNOWN")
	resp, _ = f.do(t, http.MethodGet, "/v2/", nil)
	wantStatus(t, resp, http.StatusOK)
}

// TestStoreProblems checks what the registry makes of a store that is not
// quite right: it serves what it can trust and nothing else.
func TestStoreProblems(t *testing.T) {
	f := newFixture(t)

	// An index whose other platforms the bundle did not carry.
	im, _ := f.multi.IndexManifest()
	missing := im.Manifests[2].Digest
	if err := os.Remove(filepath.Join(f.dir, "blobs", "sha256", missing.Hex)); err != nil {
		t.Fatal(err)
	}
	// A manifest whose content no longer matches its digest.
	damaged, _ := f.images["wf/api:1.1.0"].Digest()
	if err := os.WriteFile(filepath.Join(f.dir, "blobs", "sha256", damaged.Hex), []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Entries the registry cannot name.
	replaceIndex(t, f.dir, func(idx *v1.IndexManifest) {
		for _, ann := range []string{"1.0", "", "Bad/Name:1", "wf/api:bad tag"} {
			d := idx.Manifests[0]
			d.Annotations = map[string]string{oci.RefNameAnnotation: ann}
			idx.Manifests = append(idx.Manifests, d)
		}
		// A repository whose only image is missing.
		d := idx.Manifests[0]
		d.Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		d.Annotations = map[string]string{oci.RefNameAnnotation: "wf/broken:1"}
		idx.Manifests = append(idx.Manifests, d)
	})

	resp, _ := f.do(t, http.MethodGet, "/v2/wf/multi/manifests/2.0", nil)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = f.do(t, http.MethodGet, "/v2/wf/multi/manifests/"+im.Manifests[0].Digest.String(), nil)
	wantStatus(t, resp, http.StatusOK)
	resp, body := f.do(t, http.MethodGet, "/v2/wf/multi/manifests/"+missing.String(), nil)
	wantStatus(t, resp, http.StatusNotFound)
	wantCode(t, body, "MANIFEST_UNKNOWN")

	resp, body = f.do(t, http.MethodGet, "/v2/wf/api/manifests/1.1.0", nil)
	wantStatus(t, resp, http.StatusNotFound)
	wantCode(t, body, "MANIFEST_UNKNOWN")
	resp, body = f.do(t, http.MethodGet, "/v2/wf/api/tags/list", nil)
	wantStatus(t, resp, http.StatusOK)
	if string(body) != `{"name":"wf/api","tags":["1.0.0","1.2.0","latest"]}` {
		t.Errorf("tags %s", body)
	}
	resp, body = f.do(t, http.MethodGet, "/v2/_catalog", nil)
	wantStatus(t, resp, http.StatusOK)
	if string(body) != `{"repositories":["library/nginx","wf/api","wf/multi"]}` {
		t.Errorf("catalog %s", body)
	}
}

// TestConcurrentPulls pulls from many clients while the store's writer keeps
// replacing index.json; run with -race.
func TestConcurrentPulls(t *testing.T) {
	f := newFixture(t)
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := writeIndex(f.dir, func(idx *v1.IndexManifest) {
				d := idx.Manifests[0]
				d.Annotations = map[string]string{oci.RefNameAnnotation: "wf/churn:" + strconv.Itoa(i)}
				if i == 0 {
					idx.Manifests = append(idx.Manifests, d)
				} else {
					idx.Manifests[len(idx.Manifests)-1] = d
				}
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var pulls sync.WaitGroup
	for i := 0; i < 16; i++ {
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			for _, ref := range []string{"wf/api:1.0.0", "wf/api:1.2.0", "library/nginx:1.25"} {
				img, err := remote.Image(f.ref(t, ref))
				if err != nil {
					t.Error(err)
					return
				}
				if err := readLayers(img); err != nil {
					t.Errorf("%s: %v", ref, err)
				}
			}
		}()
	}
	pulls.Wait()
	close(stop)
	writer.Wait()
}

// readLayers reads every layer of img and checks it against its digest.
func readLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		got, _, err := v1.SHA256(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if got != want {
			return fmt.Errorf("layer %d: content has digest %s, want %s", i, got, want)
		}
	}
	return nil
}
