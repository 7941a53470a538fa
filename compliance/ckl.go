package compliance

import (
	"encoding/xml"
	"io"
)

// The CKL (STIG Viewer 2 checklist) model of U_Checklist_Schema_V2.xsd.
type (
	cklChecklist struct {
		XMLName xml.Name  `xml:"CHECKLIST"`
		Asset   cklAsset  `xml:"ASSET"`
		STIGs   []cklSTIG `xml:"STIGS>iSTIG"`
	}
	cklAsset struct {
		Role          string `xml:"ROLE"`
		AssetType     string `xml:"ASSET_TYPE"`
		HostName      string `xml:"HOST_NAME"`
		HostIP        string `xml:"HOST_IP"`
		HostMAC       string `xml:"HOST_MAC"`
		HostFQDN      string `xml:"HOST_FQDN"`
		TargetComment string `xml:"TARGET_COMMENT"`
		TechArea      string `xml:"TECH_AREA"`
		TargetKey     string `xml:"TARGET_KEY"`
		WebOrDatabase bool   `xml:"WEB_OR_DATABASE"`
		WebDBSite     string `xml:"WEB_DB_SITE"`
		WebDBInstance string `xml:"WEB_DB_INSTANCE"`
	}
	cklSTIG struct {
		Info  []cklSIData `xml:"STIG_INFO>SI_DATA"`
		Vulns []cklVuln   `xml:"VULN"`
	}
	cklSIData struct {
		Name string `xml:"SID_NAME"`
		Data string `xml:"SID_DATA"`
	}
	cklVuln struct {
		Data                  []cklSTIGData `xml:"STIG_DATA"`
		Status                string        `xml:"STATUS"`
		FindingDetails        string        `xml:"FINDING_DETAILS"`
		Comments              string        `xml:"COMMENTS"`
		SeverityOverride      string        `xml:"SEVERITY_OVERRIDE"`
		SeverityJustification string        `xml:"SEVERITY_JUSTIFICATION"`
	}
	cklSTIGData struct {
		Attribute string `xml:"VULN_ATTRIBUTE"`
		Data      string `xml:"ATTRIBUTE_DATA"`
	}
)

// cklStatus is the CKL spelling of a status.
func cklStatus(s Status) string {
	switch s {
	case Satisfied:
		return "NotAFinding"
	case NotApplicable:
		return "Not_Applicable"
	}
	return "Open"
}

func writeCKL(w io.Writer, ev *Evidence) error {
	results := checkRules(ev)
	stigUUID := nameUUID("stig", stigID, stigVersion, stigRelease)
	st := cklSTIG{Info: []cklSIData{
		{"version", stigVersion},
		{"classification", "UNCLASSIFIED"},
		{"customname", ""},
		{"stigid", stigID},
		{"description", "Checks of a ferry appliance that ferry decides from its own records: signed installs, installed content, refusals, the audit log, file modes, transactions, cryptography and post-install checks."},
		{"filename", stigID + ".xml"},
		{"releaseinfo", stigRelease},
		{"title", stigTitle},
		{"uuid", stigUUID},
		{"notice", ""},
		{"source", "ferry"},
	}}
	for _, r := range results {
		data := []cklSTIGData{
			{"Vuln_Num", r.groupID()},
			{"Severity", r.severity},
			{"Group_Title", r.version()},
			{"Rule_ID", r.ruleID() + "_rule"},
			{"Rule_Ver", r.version()},
			{"Rule_Title", r.title},
			{"Vuln_Discuss", discussion(r.rule)},
			{"IA_Controls", ""},
			{"Check_Content", r.check},
			{"Fix_Text", r.fix},
			{"False_Positives", ""},
			{"False_Negatives", ""},
			{"Documentable", "false"},
			{"Mitigations", ""},
			{"Potential_Impact", ""},
			{"Third_Party_Tools", ""},
			{"Mitigation_Control", ""},
			{"Responsibility", ""},
			{"Security_Override_Guidance", ""},
			{"Check_Content_Ref", "M"},
			{"Weight", r.weight()},
			{"Class", "Unclass"},
			{"STIGRef", r.stigRef()},
			{"TargetKey", ""},
			{"STIG_UUID", stigUUID},
		}
		st.Vulns = append(st.Vulns, cklVuln{
			Data: data, Status: cklStatus(r.status), FindingDetails: r.details, Comments: checklistComment(ev),
		})
	}
	doc := cklChecklist{
		Asset: cklAsset{
			Role: "None", AssetType: "Computing", HostName: ev.Host,
			TargetComment: "ferry appliance root " + ev.Root, TechArea: "Application Review",
		},
		STIGs: []cklSTIG{st},
	}
	if _, err := io.WriteString(w, xml.Header+"<!--ferry compliance report-->\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
