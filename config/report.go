package config

import (
	"fmt"
	"io"
	"text/tabwriter"

	"ferry/bundle/spec"
)

// Report is the configuration in force as `ferry config show --json`
// and `ferry plan --json` print it: every value with its source, a
// secret's only as set or not.
type Report struct {
	// Release is the release the configuration belongs to.
	Release  string        `json:"release"`
	Revision int           `json:"revision"`
	Values   []ReportValue `json:"values"`
}

// ReportValue is one variable's value as shown. Value is absent for a
// secret and for a value not set.
type ReportValue struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Value       string `json:"value,omitempty"`
	Set         bool   `json:"set"`
	Secret      bool   `json:"secret,omitempty"`
	Source      Source `json:"source"`
}

// NewReport shows c, the configuration of release, with the descriptions
// of vars.
func NewReport(release string, c *Config, vars []spec.Variable) Report {
	r := Report{Release: release, Values: []ReportValue{}}
	if c == nil {
		return r
	}
	r.Revision = c.Revision
	desc := map[string]string{}
	for _, v := range vars {
		desc[v.Name] = v.Description
	}
	for _, v := range c.Values {
		rv := ReportValue{Name: v.Name, Type: v.Type, Description: desc[v.Name], Set: v.Set, Source: v.Source, Secret: v.Type == spec.TypeSecret}
		if v.Set && !rv.Secret {
			rv.Value = v.Value
		}
		r.Values = append(r.Values, rv)
	}
	return r
}

// WriteText writes the report as a table: name, value, source.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "configuration revision %d of release %s\n", r.Revision, r.Release)
	if len(r.Values) == 0 {
		fmt.Fprintln(tw, "  the release declares no variables")
	}
	for _, v := range r.Values {
		value := fmt.Sprintf("%q", v.Value)
		switch {
		case v.Secret && v.Set:
			value = "(secret, set)"
		case v.Secret:
			value = "(secret, unset)"
		case !v.Set:
			value = "(unset)"
		}
		src := ""
		if v.Set {
			src = v.Source.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", v.Name, v.Type, value, src)
	}
	return tw.Flush()
}
