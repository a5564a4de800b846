package report

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

func TestRemediationCSV(t *testing.T) {
	r := &finding.Result{Servers: []finding.Server{{
		Name: "EXCH01", Verdict: finding.VerdictExploited,
		Remediation: []finding.Action{
			{Step: finding.StepContain, Urgency: "immediate", Title: "Isolate the server", Guidance: "contain-isolate",
				Reason: finding.Reason{Findings: []string{"webshell-file-answered"}, Facts: []string{"verdict exploited"}}},
			{Step: finding.StepPreserve, Urgency: "high", Title: "Copy the web shells", Guidance: "preserve-webshells",
				Items: []finding.ActionItem{
					{Kind: "file", Name: `=cmd|' /C calc'!A0.aspx`, SHA256: "61a4", Findings: []string{"yara:A;B"}},
					{Kind: "file", Name: `C:\inetpub\wwwroot\aspnet_client\x.aspx`, SHA256: "f315"},
				},
				Reason: finding.Reason{Findings: []string{"yara:A;B"}}},
		},
	}}}
	var b bytes.Buffer
	if err := RemediationCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, one row for the action without items, one per file
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if got := rows[1][col["reason_facts"]]; got != "verdict exploited" || rows[1][col["item"]] != "" || rows[1][col["action"]] != "1" {
		t.Errorf("contain row %q", rows[1])
	}
	if got := rows[2][col["item"]]; got != `'=cmd|' /C calc'!A0.aspx` {
		t.Errorf("formula not neutralised: %q", got)
	}
	if got := rows[2][col["item_findings"]]; got != `yara:A\;B` {
		t.Errorf("list item not escaped: %q", got)
	}
	if rows[3][col["sha256"]] != "f315" || rows[3][col["action"]] != "2" {
		t.Errorf("second file row %q", rows[3])
	}
}
