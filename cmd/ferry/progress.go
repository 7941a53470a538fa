package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a byte-count progress bar on a terminal and nothing
// otherwise, so that logs and pipes stay clean.
type progress struct {
	w     io.Writer
	label string
	bar   *progressbar.ProgressBar
	cur   string
}

func newProgress(w io.Writer, label string) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	return &progress{w: w, label: label}
}

// phase updates the bar; a new phase starts a new bar.
func (p *progress) phase(name string, done, total int64) {
	if p.w == nil || total <= 0 {
		return
	}
	if p.bar == nil || p.cur != name {
		p.finish()
		p.cur = name
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.label+" ("+name+")"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100_000_000),
			progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set64(done)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
