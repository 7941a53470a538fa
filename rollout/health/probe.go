package health

import "context"

// Probe checks a backend once. Check returns nil when the backend passes,
// or an error saying what failed. It must return when ctx is done.
type Probe interface {
	Check(ctx context.Context) error
}

// maxOutput bounds how much of a failed probe's response or output is kept
// for its error message.
const maxOutput = 512

// prefixWriter keeps the first maxOutput bytes written to it and discards
// the rest, so a chatty check cannot grow memory.
type prefixWriter struct {
	buf []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if room := maxOutput - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *prefixWriter) String() string { return string(w.buf) }
