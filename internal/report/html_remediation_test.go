package report

import (
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

func TestHTMLRemediationEscaped(t *testing.T) {
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Servers: []finding.Server{{
		Name: "EXCH01", Verdict: finding.VerdictCompromised, UnusableClientAddresses: 3,
		Remediation: []finding.Action{{
			Step: finding.StepPreserve, Urgency: "high", Title: "Copy the web shells, then delete them",
			Detail:   "Copy each file.\nThen delete it.",
			Items:    []finding.ActionItem{{Kind: "file", Name: `C:\inetpub\wwwroot\aspnet_client\<script>alert(1)</script>.aspx`, SHA256: "61a4"}},
			Reason:   finding.Reason{Findings: []string{"file-nonstandard-script"}, Facts: []string{`"><img src=x onerror=alert(2)>`}},
			Guidance: "preserve-webshells", Sources: []string{"Microsoft, “HAFNIUM targeting Exchange Servers with 0-day exploits”, 2021-03-02"},
		}},
	}}}
	doc := renderHTML(t, r)
	for _, bad := range []string{"<script>alert(1)", "<img src=x"} {
		if strings.Contains(doc, bad) {
			t.Errorf("evidence rendered as markup: %q", bad)
		}
	}
	for _, want := range []string{`data-guidance="preserve-webshells"`, "&lt;script&gt;alert(1)&lt;/script&gt;.aspx", "SHA-256 <span class=\"mono\">61a4</span>",
		"<p class=\"note\">Then delete it.</p>", `data-count="3"`, "file-nonstandard-script"} {
		if !strings.Contains(doc, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
