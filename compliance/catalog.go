package compliance

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	ferryembed "ferry/embed"
)

// Catalog is the part of the NIST SP 800-53 rev5 catalog that ferry's
// findings cite. Titles and statements are the official text: a report
// quotes the catalog, it never paraphrases it.
type Catalog struct {
	Source   CatalogSource    `json:"source"`
	Controls []CatalogControl `json:"controls"`
}

// CatalogSource says exactly which official file the subset was copied
// from, so that an assessor can compare the two.
type CatalogSource struct {
	Title        string `json:"title"`
	Version      string `json:"version"`
	OSCALVersion string `json:"oscal-version"`
	LastModified string `json:"last-modified"`
	UUID         string `json:"uuid"`
	Repository   string `json:"repository"`
	Path         string `json:"path"`
	Commit       string `json:"commit"`
	URL          string `json:"url"`
	SHA256       string `json:"sha256"`
	License      string `json:"license"`
}

// CatalogControl is one control or enhancement as the OSCAL catalog has
// it, without its guidance and links, plus the title of the control it
// enhances.
type CatalogControl struct {
	ID          string  `json:"id"`
	Class       string  `json:"class"`
	Title       string  `json:"title"`
	Params      []Param `json:"params,omitempty"`
	Props       []Prop  `json:"props,omitempty"`
	Parts       []Part  `json:"parts,omitempty"`
	ParentID    string  `json:"parent-id,omitempty"`
	ParentTitle string  `json:"parent-title,omitempty"`
}

// Param is an OSCAL parameter: an assignment (label) or a selection.
type Param struct {
	ID     string  `json:"id"`
	Label  string  `json:"label,omitempty"`
	Select *Select `json:"select,omitempty"`
}

// Select is an OSCAL parameter selection.
type Select struct {
	HowMany string   `json:"how-many,omitempty"`
	Choice  []string `json:"choice,omitempty"`
}

// Prop is an OSCAL property.
type Prop struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Class string `json:"class,omitempty"`
}

// Part is an OSCAL part: the statement and its items.
type Part struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Props []Prop `json:"props,omitempty"`
	Prose string `json:"prose,omitempty"`
	Parts []Part `json:"parts,omitempty"`
}

// LoadCatalog reads the catalog subset ferry carries.
func LoadCatalog() (*Catalog, error) {
	data, err := ferryembed.Catalog()
	if err != nil {
		return nil, fmt.Errorf("control catalog: %w", err)
	}
	var c Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("control catalog: %w", err)
	}
	return &c, nil
}

// Control returns the control with the OSCAL id (such as "si-7.1").
func (c *Catalog) Control(id string) (CatalogControl, bool) {
	for _, ctl := range c.Controls {
		if ctl.ID == id {
			return ctl, true
		}
	}
	return CatalogControl{}, false
}

// Label is the control's label as NIST prints it, such as "SI-7(1)".
func (c CatalogControl) Label() string {
	for _, p := range c.Props {
		if p.Name == "label" && p.Class == "" {
			return p.Value
		}
	}
	return strings.ToUpper(c.ID)
}

// FullTitle is the title as NIST prints an enhancement's: the control's
// title, a bar, and the enhancement's.
func (c CatalogControl) FullTitle() string {
	if c.ParentTitle == "" {
		return c.Title
	}
	return c.ParentTitle + " | " + c.Title
}

// StatementID is the OSCAL id of the control's statement part, which
// findings target.
func (c CatalogControl) StatementID() string {
	for _, p := range c.Parts {
		if p.Name == "statement" && p.ID != "" {
			return p.ID
		}
	}
	return c.ID + "_smt"
}

var insertParam = regexp.MustCompile(`\{\{\s*insert:\s*param,\s*([^\s}]+)\s*\}\}`)

// Statement renders the control's statement as text, one item a line,
// with parameters shown the way NIST prints them: "[Assignment: …]" and
// "[Selection (one or more): …]".
func (c CatalogControl) Statement() string {
	params := make(map[string]Param, len(c.Params))
	for _, p := range c.Params {
		params[p.ID] = p
	}
	var b strings.Builder
	var walk func(parts []Part, depth int)
	walk = func(parts []Part, depth int) {
		for _, p := range parts {
			if p.Name != "statement" && p.Name != "item" {
				continue
			}
			text := strings.Join(strings.Fields(renderProse(p.Prose, params, 0)), " ")
			label := ""
			for _, pr := range p.Props {
				if pr.Name == "label" && pr.Class == "" {
					label = pr.Value
				}
			}
			if label != "" {
				text = label + " " + text
			}
			if strings.TrimSpace(text) != "" {
				if b.Len() > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(strings.Repeat("  ", depth))
				b.WriteString(text)
			}
			next := depth
			if p.Name == "item" {
				next++
			}
			walk(p.Parts, next)
		}
	}
	walk(c.Parts, 0)
	return b.String()
}

func renderProse(prose string, params map[string]Param, depth int) string {
	return insertParam.ReplaceAllStringFunc(prose, func(m string) string {
		id := insertParam.FindStringSubmatch(m)[1]
		p, ok := params[id]
		switch {
		case !ok || depth > 4:
			return "[Assignment: " + id + "]"
		case p.Select != nil:
			how := ""
			if p.Select.HowMany == "one-or-more" {
				how = " (one or more)"
			}
			choices := make([]string, len(p.Select.Choice))
			for i, ch := range p.Select.Choice {
				choices[i] = strings.Join(strings.Fields(renderProse(ch, params, depth+1)), " ")
			}
			return "[Selection" + how + ": " + strings.Join(choices, "; ") + "]"
		default:
			return "[Assignment: " + p.Label + "]"
		}
	})
}
