package oci

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestVerifyingReader(t *testing.T) {
	content := []byte(strings.Repeat("ferry ", 5000))
	want := FromBytes(content)

	v := NewVerifyingReader(iotest.HalfReader(bytes.NewReader(content)), want)
	got, err := io.ReadAll(v)
	if err != nil || !bytes.Equal(got, content) || v.Digest() != want || v.N() != int64(len(content)) {
		t.Fatalf("the right content: %d bytes, %v; digest %s, n %d", len(got), err, v.Digest(), v.N())
	}

	for name, bad := range map[string][]byte{
		"changed":   append(bytes.Clone(content[:len(content)-1]), 'X'),
		"truncated": content[:len(content)-1],
		"longer":    append(bytes.Clone(content), 'X'),
		"empty":     nil,
	} {
		_, err := io.ReadAll(NewVerifyingReader(bytes.NewReader(bad), want))
		if !errors.Is(err, ErrDigestMismatch) {
			t.Errorf("%s content: err %v, want ErrDigestMismatch", name, err)
		}
	}

	// An error of the underlying reader comes through as it is.
	boom := errors.New("boom")
	if _, err := io.ReadAll(NewVerifyingReader(iotest.ErrReader(boom), want)); !errors.Is(err, boom) {
		t.Errorf("reader error: %v, want boom", err)
	}
}

func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	r := ContextReader(ctx, strings.NewReader("ferry"))
	p := make([]byte, 2)
	if n, err := r.Read(p); n != 2 || err != nil {
		t.Fatalf("Read before cancel = %d, %v", n, err)
	}
	stop := errors.New("stopped")
	cancel(stop)
	if n, err := r.Read(p); n != 0 || !errors.Is(err, stop) {
		t.Fatalf("Read after cancel = %d, %v; want the cause", n, err)
	}

	ctx2, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := ContextReader(ctx2, strings.NewReader("x")).Read(p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after plain cancel: %v, want context.Canceled", err)
	}
}
