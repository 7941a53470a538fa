package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestBodies: response bodies of every size around the connection
// buffers' reach the client intact while many requests share the
// router's pooled connections and buffers at once, and the response's
// encoding is the backend's: the router asks for no gzip of its own.
func TestBodies(t *testing.T) {
	sizes := []int{0, 1, connBufferSize - 1, connBufferSize, connBufferSize + 1, 3*connBufferSize + 7, 1 << 20}
	bodies := make(map[int][]byte, len(sizes))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		bodies[n] = b
	}
	b := newBackend(t, "1.0.0", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		_, _ = w.Write(bodies[n])
	})
	r, srv := newRouter(t, Options{})
	if err := r.Set(context.Background(), Config{Stable: b.backend()}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	errs := make(chan string, 16*len(sizes))
	for range 16 {
		wg.Go(func() {
			for _, n := range sizes {
				resp, err := client.Get(srv.URL + "/?n=" + strconv.Itoa(n))
				if err != nil {
					errs <- err.Error()
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					errs <- err.Error()
				case !bytes.Equal(got, bodies[n]):
					errs <- "body of " + strconv.Itoa(n) + " bytes: got " + strconv.Itoa(len(got)) + " bytes, sha256 " + sum(got)
				case resp.Header.Get("X-Accept-Encoding") != "":
					errs <- "the backend was asked for " + resp.Header.Get("X-Accept-Encoding")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return string(strconv.AppendQuote(nil, string(s[:4])))
}
