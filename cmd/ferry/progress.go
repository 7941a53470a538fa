package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a byte-count progress bar on a terminal and nothing
// otherwise, so that logs and pipes stay clean. While registry images are
// being fetched it draws one line per image instead, and the bar waits.
type progress struct {
	w     io.Writer
	label string

	mu  sync.Mutex // calls come from the builder's goroutines
	bar *progressbar.ProgressBar
	cur string

	images []*imageLine // in the order first reported
	drawn  int          // image lines on the screen
	last   time.Time    // of the last drawing of the image lines
}

// imageLine is one image's fetch.
type imageLine struct {
	source      string
	done, total int64
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fetching() {
		return
	}
	if p.bar == nil || p.cur != name {
		p.finishBar()
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

// image updates the line of a registry image being fetched. The lines are
// drawn at most ten times a second, and once more when the last image is
// complete; they stay on the screen after.
func (p *progress) image(source string, done, total int64) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var line *imageLine
	for _, l := range p.images {
		if l.source == source {
			line = l
		}
	}
	if line == nil {
		p.finishBar()
		line = &imageLine{source: source}
		p.images = append(p.images, line)
	}
	line.done, line.total = done, total
	if p.fetching() && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn) // back to the first line
	}
	for _, l := range p.images {
		pct := 100.0
		if l.total > 0 {
			pct = 100 * float64(l.done) / float64(l.total)
		}
		fmt.Fprintf(p.w, "\r\x1b[Kfetching %s  %s of %s (%.0f%%)\n", l.source, humanBytes(l.done), humanBytes(l.total), pct)
	}
	p.drawn = len(p.images)
}

// fetching reports whether an image is still being fetched.
func (p *progress) fetching() bool {
	for _, l := range p.images {
		if l.done < l.total {
			return true
		}
	}
	return false
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
}

func (p *progress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
