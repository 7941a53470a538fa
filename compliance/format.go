package compliance

import (
	"fmt"
	"io"
	"time"
)

// Format is a report format.
type Format string

// The report formats.
const (
	OSCAL    Format = "oscal"    // OSCAL 1.2.1 assessment results, JSON
	CKLB     Format = "cklb"     // DISA STIG Viewer 3 checklist, JSON
	CKL      Format = "ckl"      // DISA STIG Viewer 2 checklist, XML
	Markdown Format = "markdown" // for people
)

// Formats lists the formats Write accepts.
func Formats() []Format { return []Format{OSCAL, CKLB, CKL, Markdown} }

// Write renders the evidence and the findings made from it in format.
func Write(w io.Writer, format Format, ev *Evidence, findings []Finding) error {
	switch format {
	case OSCAL:
		return writeOSCAL(w, ev, findings)
	case CKLB:
		return writeCKLB(w, ev)
	case CKL:
		return writeCKL(w, ev)
	case Markdown:
		return writeMarkdown(w, ev, findings)
	}
	return fmt.Errorf("unknown report format %q (want oscal, cklb, ckl or markdown)", format)
}

// stamp formats a time the way every report shows it: UTC, RFC 3339.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
