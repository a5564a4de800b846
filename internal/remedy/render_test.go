package remedy_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/remedy"
)

func hostilePlan() *finding.Result {
	evil := "C:\\inetpub\\wwwroot\\aspnet_client\\a`b``c<script>alert(1)</script>\n- [x] **done**\x1b[31m\u202e.aspx"
	return &finding.Result{Servers: []finding.Server{{
		Name: "EXCH01\n# injected heading", Verdict: finding.VerdictCompromised,
		Build: finding.BuildHistory{Current: "15.1.2176.2"},
		Remediation: []finding.Action{{
			Step: finding.StepPreserve, Urgency: "high", Title: "Copy the web shells, then delete them",
			Detail:   "Copy each file.",
			Items:    []finding.ActionItem{{Kind: "file", Name: evil, SHA256: "ab`cd", Value: "`start and end`", Findings: []string{"yara:X"}}},
			Reason:   finding.Reason{Findings: []string{"file-nonstandard-script"}},
			Guidance: "preserve-webshells", Sources: []string{"Microsoft, “HAFNIUM…”, 2021-03-02"},
		}},
	}}}
}

func TestMarkdownEscapesEvidence(t *testing.T) {
	var b bytes.Buffer
	if err := remedy.Markdown(&b, hostilePlan()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\u202e", "\n# injected", "\n- [x]"} {
		if strings.Contains(out, bad) {
			t.Errorf("output holds %q:\n%s", bad, out)
		}
	}
	// the file item stays on one line, its name in a code span whose
	// fence is longer than the backtick runs inside it
	var item string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "aspnet_client") {
			if item != "" {
				t.Fatalf("file name spread over lines:\n%s", out)
			}
			item = l
		}
	}
	if !strings.HasPrefix(item, "  - [ ] file ```C:\\inetpub") || !strings.Contains(item, `alert(1)</script>\x0a- [x] **done**\x1b[31m\u202e.aspx`) {
		t.Errorf("file item %q", item)
	}
	if !strings.Contains(out, "`` `start and end` ``") {
		t.Errorf("value with backticks at its ends not padded:\n%s", out)
	}
	if !strings.Contains(out, "\n## EXCH01\\\\x0a# injected heading: compromised\n") {
		t.Errorf("server name not escaped:\n%s", out)
	}
	if !strings.Contains(out, "  - Why: findings `file-nonstandard-script`") {
		t.Errorf("reason missing:\n%s", out)
	}
}

// Control characters in a server name or a path are shown as the escapes
// every human-facing output uses (internal/visible), and the characters
// Markdown would act on are escaped around them.
func TestMarkdownShowsControlCharacters(t *testing.T) {
	r := &finding.Result{Servers: []finding.Server{{
		Name: "SRV*1_[x](http://e.test)<b>\x1b]0;pwned\x07\r| ~~", Verdict: finding.VerdictCompromised,
		Remediation: []finding.Action{{
			Step: finding.StepPreserve, Urgency: "high", Title: "Copy the web shells, then delete them",
			Items:  []finding.ActionItem{{Kind: "file", Name: "C:\\inetpub\\wwwroot\\x\x1b[2J\x07\r`*_.aspx"}},
			Reason: finding.Reason{Facts: []string{"found in \x1b[31m**C:\\x.aspx**\r"}},
		}},
	}}}
	var b bytes.Buffer
	if err := remedy.Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Fatalf("raw control characters:\n%q", out)
	}
	for _, want := range []string{
		// Markdown text: the escapes' backslashes and the active
		// characters escaped, so it renders as the name was written
		`## SRV\*1\_\[x\](http://e.test)\<b\>\\x1b\]0;pwned\\x07\\x0d\| \~\~: compromised`,
		// a code span keeps everything literal
		"- [ ] file ``" + `C:\inetpub\wwwroot\x\x1b[2J\x07\x0d` + "`*_.aspx``",
		`Why: found in \\x1b\[31m\*\*C:\\x.aspx\*\*\\x0d`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

func TestTextEscapesEvidence(t *testing.T) {
	var b bytes.Buffer
	if err := remedy.Text(&b, hostilePlan().Servers[0].Remediation, "  ", false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\u202e") || strings.Count(out, "\n") != 3 {
		t.Errorf("text plan:\n%q", out)
	}
}

// FuzzMarkdown: whatever an item holds, it stays one list line with no
// control characters, and its name stays inside one code span.
func FuzzMarkdown(f *testing.F) {
	f.Add("C:\\inetpub\\a`b.aspx", "``x``")
	f.Add("\n# h\r\n- [x]", "\x1b]0;t\x07")
	f.Fuzz(func(t *testing.T, name, value string) {
		r := &finding.Result{Servers: []finding.Server{{Name: name, Verdict: finding.VerdictClean,
			Remediation: []finding.Action{{Step: finding.StepPreserve, Urgency: "high", Title: value,
				Items:  []finding.ActionItem{{Kind: "file", Name: name, Value: value}},
				Reason: finding.Reason{Facts: []string{value}}}}}}}
		var b bytes.Buffer
		if err := remedy.Markdown(&b, r); err != nil {
			t.Fatal(err)
		}
		items := 0
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(l, "  - [ ] file ") {
				items++
			}
			for _, c := range l {
				if c < 0x20 && c != '\t' || c == 0x7f {
					t.Fatalf("control character in %q", l)
				}
			}
		}
		if items != 1 {
			t.Fatalf("%d item lines:\n%s", items, b.String())
		}
	})
}
