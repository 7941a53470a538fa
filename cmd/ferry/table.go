package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"ferry/installer"
	"ferry/installer/state"
)

// newTable returns a writer that aligns tab-separated columns; Flush
// writes them.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// writeAuditLog prints one line per audit entry under a header: sequence,
// time, event, then its fields as key=value in key order, so that the same
// entry always reads the same and lines compare with diff.
func writeAuditLog(w io.Writer, log []state.AuditEntry) error {
	t := newTable(w)
	fmt.Fprintln(t, "SEQ\tTIME\tEVENT\tFIELDS")
	for _, e := range log {
		fmt.Fprintf(t, "%d\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Event, auditFields(e.Fields))
	}
	return t.Flush()
}

// auditFields formats fields as key=value pairs in key order. A value that
// is empty or holds spaces, quotes, '=' or anything unprintable is quoted,
// so that a field (an error message, say) reads as one and cannot break
// the line or the columns.
func auditFields(fields map[string]string) string {
	parts := make([]string, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		parts = append(parts, k+"="+fieldValue(fields[k]))
	}
	return strings.Join(parts, " ")
}

func fieldValue(v string) string {
	plain := v != "" && strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' || r == '='
	}) < 0
	if plain {
		return v
	}
	return strconv.Quote(v)
}

// writeHistory prints the transactions under a header, each followed by
// its steps, indented.
func writeHistory(w io.Writer, hist []installer.HistoryEntry) error {
	rows := [][]string{{"TXN", "STARTED", "KIND", "STATE", "VERSION", "REASON"}}
	for _, e := range hist {
		rows = append(rows, []string{strconv.FormatUint(e.ID, 10), e.Started.UTC().Format(time.RFC3339), e.Kind, e.State, dash(e.Version), e.Reason})
	}
	tab := newColumns(rows)
	tab.line(w, rows[0])
	for i, e := range hist {
		tab.line(w, rows[i+1])
		for _, s := range e.Steps {
			fmt.Fprintf(w, "      %-8s %s %s\n", s.Phase, s.Name, s.Detail)
		}
	}
	return nil
}

// writeReleases prints the kept releases under a header, each followed by
// its checks, indented.
func writeReleases(w io.Writer, rels []installer.ReleaseStatus) error {
	if len(rels) == 0 {
		return nil
	}
	rows := [][]string{{"VERSION", "STATUS", "INSTALLED", "BUNDLE", "COMPONENTS"}}
	for _, r := range rels {
		rows = append(rows, []string{r.Version, r.Status, r.Installed.UTC().Format(time.RFC3339), r.Digest, strings.Join(r.Components, ",")})
	}
	tab := newColumns(rows)
	tab.line(w, rows[0])
	for i, r := range rels {
		tab.line(w, rows[i+1])
		for _, ch := range r.Checks {
			ok := "ok"
			if !ch.OK {
				ok = "FAILED: " + ch.Detail
			}
			fmt.Fprintf(w, "      check %s: %s\n", ch.Name, ok)
		}
		for _, ch := range r.Charts {
			fmt.Fprintf(w, "      chart %s: Helm release %s/%s, revision %d\n", ch.Chart, ch.Namespace, ch.Release, ch.Revision)
		}
	}
	return nil
}

// columns aligns rows that other lines (a transaction's steps) come
// between, which text/tabwriter would not keep aligned.
type columns []int

func newColumns(rows [][]string) columns {
	var c columns
	for _, r := range rows {
		for i, cell := range r {
			if i == len(c) {
				c = append(c, 0)
			}
			c[i] = max(c[i], utf8.RuneCountInString(cell))
		}
	}
	return c
}

// line writes the cells of a row padded to the columns' widths, two
// spaces apart; the last cell is not padded.
func (c columns) line(w io.Writer, row []string) {
	var b strings.Builder
	for i, cell := range row {
		if i == len(row)-1 {
			b.WriteString(cell)
			break
		}
		b.WriteString(cell)
		b.WriteString(strings.Repeat(" ", c[i]-utf8.RuneCountInString(cell)+2))
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
