package main

import (
	"fmt"
	"io"
	"time"
)

// The targets of the issue "Offline rollouts": the router against direct
// connections, and how fast traffic moves on an abort or a switch.
const (
	throughputTarget = 0.80                   // routed / direct requests per second
	addedP99Target   = time.Millisecond       // at moderate load
	switchTarget     = 100 * time.Millisecond // abort to stable; blue-green switch
)

// target is one figure judged against its target.
type target struct {
	what, figure string
	ok           bool
}

// targets collects the judged figures of a run, printed at its end.
type targets []target

func (t *targets) add(what, figure string, ok bool) {
	*t = append(*t, target{what, figure, ok})
}

func (t targets) print(w io.Writer) {
	fmt.Fprintln(w, "targets")
	for _, x := range t {
		verdict := "ok"
		if !x.ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "  %-46s %12s  %s\n", x.what, x.figure, verdict)
	}
}
