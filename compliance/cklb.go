package compliance

import (
	"encoding/json"
	"io"
	"time"
)

// The CKLB (STIG Viewer 3 checklist) model, with its fields in the order
// STIG Viewer writes them.
type (
	cklbChecklist struct {
		Title      string         `json:"title"`
		ID         string         `json:"id"`
		STIGs      []cklbSTIG     `json:"stigs"`
		Active     bool           `json:"active"`
		Mode       int            `json:"mode"`
		HasPath    bool           `json:"has_path"`
		TargetData cklbTargetData `json:"target_data"`
		Version    string         `json:"cklb_version"`
	}
	cklbSTIG struct {
		STIGName            string     `json:"stig_name"`
		DisplayName         string     `json:"display_name"`
		STIGID              string     `json:"stig_id"`
		ReleaseInfo         string     `json:"release_info"`
		Version             string     `json:"version"`
		UUID                string     `json:"uuid"`
		ReferenceIdentifier string     `json:"reference_identifier"`
		Size                int        `json:"size"`
		Rules               []cklbRule `json:"rules"`
	}
	cklbRule struct {
		UUID                     string          `json:"uuid"`
		STIGUUID                 string          `json:"stig_uuid"`
		TargetKey                *string         `json:"target_key"`
		STIGRef                  *string         `json:"stig_ref"`
		GroupID                  string          `json:"group_id"`
		RuleID                   string          `json:"rule_id"`
		RuleIDSrc                string          `json:"rule_id_src"`
		Weight                   string          `json:"weight"`
		Classification           string          `json:"classification"`
		Severity                 string          `json:"severity"`
		RuleVersion              string          `json:"rule_version"`
		GroupTitle               string          `json:"group_title"`
		RuleTitle                string          `json:"rule_title"`
		FixText                  string          `json:"fix_text"`
		FalsePositives           string          `json:"false_positives"`
		FalseNegatives           string          `json:"false_negatives"`
		Discussion               string          `json:"discussion"`
		CheckContent             string          `json:"check_content"`
		Documentable             string          `json:"documentable"`
		Mitigations              string          `json:"mitigations"`
		PotentialImpacts         string          `json:"potential_impacts"`
		ThirdPartyTools          string          `json:"third_party_tools"`
		MitigationControl        string          `json:"mitigation_control"`
		Responsibility           string          `json:"responsibility"`
		SecurityOverrideGuidance string          `json:"security_override_guidance"`
		IAControls               string          `json:"ia_controls"`
		CheckContentRef          cklbRef         `json:"check_content_ref"`
		LegacyIDs                []string        `json:"legacy_ids"`
		CCIs                     []string        `json:"ccis"`
		GroupTree                []cklbGroupNode `json:"group_tree"`
		CreatedAt                string          `json:"createdAt"`
		UpdatedAt                string          `json:"updatedAt"`
		Status                   string          `json:"status"`
		Overrides                struct{}        `json:"overrides"`
		Comments                 string          `json:"comments"`
		FindingDetails           string          `json:"finding_details"`
	}
	cklbRef struct {
		Href string `json:"href"`
		Name string `json:"name"`
	}
	cklbGroupNode struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	cklbTargetData struct {
		TargetType     string `json:"target_type"`
		HostName       string `json:"host_name"`
		IPAddress      string `json:"ip_address"`
		MACAddress     string `json:"mac_address"`
		FQDN           string `json:"fqdn"`
		Comments       string `json:"comments"`
		Role           string `json:"role"`
		IsWebDatabase  bool   `json:"is_web_database"`
		TechnologyArea string `json:"technology_area"`
		WebDBSite      string `json:"web_db_site"`
		WebDBInstance  string `json:"web_db_instance"`
	}
)

// cklbStatus is the CKLB spelling of a status.
func cklbStatus(s Status) string {
	switch s {
	case Satisfied:
		return "not_a_finding"
	case NotApplicable:
		return "not_applicable"
	}
	return "open"
}

func writeCKLB(w io.Writer, ev *Evidence) error {
	results := checkRules(ev)
	id := nameUUID("cklb", ev.Root, stamp(ev.Collected), ev.Audit.Head)
	stigUUID := nameUUID("stig", stigID, stigVersion, stigRelease)
	at := ev.Collected.UTC().Format(time.RFC3339Nano)
	st := cklbSTIG{
		STIGName: stigTitle, DisplayName: stigTitle, STIGID: stigID, ReleaseInfo: stigRelease,
		Version: stigVersion, UUID: stigUUID, ReferenceIdentifier: stigID, Size: len(results),
	}
	for _, r := range results {
		ref := r.stigRef()
		key := ""
		st.Rules = append(st.Rules, cklbRule{
			UUID: nameUUID("cklb-rule", id, r.ruleID()), STIGUUID: stigUUID, TargetKey: &key, STIGRef: &ref,
			GroupID: r.groupID(), RuleID: r.ruleID(), RuleIDSrc: r.ruleID() + "_rule", Weight: r.weight(),
			Classification: "Unclass", Severity: r.severity, RuleVersion: r.version(), GroupTitle: r.version(),
			RuleTitle: r.title, FixText: r.fix, Discussion: discussion(r.rule), CheckContent: r.check,
			Documentable: "false", CheckContentRef: cklbRef{Name: "M"},
			LegacyIDs: []string{}, CCIs: []string{},
			GroupTree: []cklbGroupNode{{ID: r.groupID(), Title: r.version(), Description: "<GroupDescription></GroupDescription>"}},
			CreatedAt: at, UpdatedAt: at,
			Status: cklbStatus(r.status), Comments: checklistComment(ev), FindingDetails: r.details,
		})
	}
	doc := cklbChecklist{
		Title: "ferry appliance " + ev.Root, ID: id, STIGs: []cklbSTIG{st}, Active: true, Mode: 2,
		TargetData: cklbTargetData{
			TargetType: "Computing", HostName: ev.Host, Comments: "ferry appliance root " + ev.Root,
			Role: "None", TechnologyArea: "Application Review",
		},
		Version: "1.0",
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// discussion is the rule's discussion with the controls it supports.
func discussion(r rule) string {
	if len(r.nist) == 0 {
		return r.discussion
	}
	return r.discussion + "\n\nNIST SP 800-53 rev5: " + r.nistRefs() + "."
}

func checklistComment(ev *Evidence) string {
	return "Decided by ferry " + ev.Tool.Version + " from the appliance's records at " + stamp(ev.Collected) + "."
}
