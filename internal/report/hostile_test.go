package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/stream"
	"github.com/exhunt/exhunt/internal/visible"
)

// hostileStrings are what an attacker puts in log fields, file and zip
// member names, and what a scanned server answers.
var hostileStrings = []string{
	"title\x1b]0;pwned\x07",     // ESC, BEL: terminal title change
	"clear\x1b[2J\x1b[H",        // screen clear
	"cr\roverwritten",           // CR: overwrite the line
	"nul\x00byte",               // NUL
	"\u202egpj.exe",             // bidi override: reads as exe.jpg
	"bad\xffutf8\xc3",           // invalid UTF-8
	"<script>alert(1)</script>", // markup
	`"><img src=x onerror=alert(1)>`,
	"javascript:alert(document.domain)",
	"=cmd|' /C calc'!A0", // spreadsheet formula
	"c1\u009b31m",        // C1 CSI
}

func hostileHunt() *finding.Result {
	t0 := time.Date(2021, 3, 3, 5, 12, 44, 0, time.UTC)
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, RunID: stream.NewRunID(), Kind: finding.KindHunt,
		Tool: "exhunt", Version: hostileStrings[0], StartedAt: t0, Roots: hostileStrings, Rules: 3}
	for i, h := range hostileStrings {
		name := fmt.Sprintf("EXCH%02d%s", i, h)
		f := finding.Finding{Server: name, Rule: "rule-" + h, Title: h, Stage: finding.StageExecution, Outcome: h,
			CVEs: []string{h}, Chain: h, Severity: finding.SeverityHigh, Time: t0,
			Source: finding.Source{File: name + "/W3SVC1/" + h, Line: 7, Kind: "iis"}, ClientIP: h, UserAgent: h,
			Mailbox: h, Fields: map[string]string{h: h}, IOCs: []string{h}}
		r.Servers = append(r.Servers, finding.Server{Name: name, Verdict: finding.VerdictExploited, Reasons: []string{h},
			Inconclusive:      true,
			Build:             finding.BuildHistory{Current: h, Seen: []finding.BuildSeen{{Build: h, Product: h, Update: h, Source: h}}, Chains: []finding.ChainStatus{{Chain: h, Status: h}}, Changes: []string{h}},
			Coverage:          []finding.Coverage{{Source: h, Files: 1}},
			Gaps:              []finding.Gap{{Server: name, File: h, Reason: h}},
			Attackers:         []finding.Attacker{{IP: h, UserAgents: []string{h}, MaxStage: finding.StageExecution, IOCs: []string{h}}},
			MailboxesAccessed: []finding.MailboxAccess{{Mailbox: h, Actions: []string{h}, Via: []string{h}}},
			Findings:          []finding.Finding{f},
			Suppressed:        []finding.RuleCount{{Rule: h, Count: 2}},
			Timeline:          []finding.TimelineEntry{{Time: t0, Rule: f.Rule, Stage: f.Stage, Summary: h, Source: f.Source}}})
		r.Gaps = append(r.Gaps, finding.Gap{File: h, Reason: h})
	}
	return r
}

func hostileScanResult() *finding.Result {
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: finding.KindScan, Tool: "exhunt", Version: hostileStrings[1]}
	for i, h := range hostileStrings {
		r.Targets = append(r.Targets, finding.Target{Seq: uint64(i), Target: "https://host/" + h, IP: h, Status: finding.StatusExchange,
			Error: h, Exchange: &finding.Exchange{Build: h, Product: h, Update: h, Server: h},
			Chains:    []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainVulnerable, Reason: h}, {Chain: "owassrf", Verdict: h}},
			Webshells: []finding.Webshell{{Path: "/owa/auth/" + h, Status: 200}}, Mitigations: []string{h}})
	}
	r.Targets = append(r.Targets, finding.Target{Seq: 99, Input: hostileStrings[0], Status: hostileStrings[1]})
	return r
}

// checkShown fails if out could drive a terminal or hide text: raw control
// or format characters, or invalid UTF-8.
func checkShown(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not valid UTF-8", what)
	}
	for i, c := range out {
		if c != '\n' && visible.Hidden(c) {
			t.Errorf("%s: raw %U at byte %d: …%q…", what, c, i, out[max(0, i-30):min(len(out), i+30)])
			return
		}
	}
	for _, want := range []string{`title\x1b]0;pwned\x07`, `cr\x0doverwritten`, `nul\x00byte`, `\u202egpj.exe`, `c1\u009b31m`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: lacks the visible form %q", what, want)
		}
	}
}

func TestHostileText(t *testing.T) {
	for name, r := range map[string]*finding.Result{"hunt": hostileHunt(), "scan": hostileScanResult()} {
		for _, verbose := range []bool{false, true} {
			var b bytes.Buffer
			if err := Render(&b, r, "text", Options{Verbose: verbose}); err != nil {
				t.Fatal(err)
			}
			checkShown(t, fmt.Sprintf("%s text (verbose %v)", name, verbose), b.String())
		}
	}
}

func TestHostileCSV(t *testing.T) {
	for name, r := range map[string]*finding.Result{"hunt": hostileHunt(), "scan": hostileScanResult()} {
		var b bytes.Buffer
		if err := Render(&b, r, "csv", Options{}); err != nil {
			t.Fatal(err)
		}
		checkShown(t, name+" csv", b.String())
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatalf("%s csv: %v", name, err)
		}
		if len(rows) != 1+len(hostileStrings)+map[string]int{"hunt": 0, "scan": 1}[name] {
			t.Errorf("%s csv: %d rows", name, len(rows))
		}
		formulas := 0
		for _, row := range rows[1:] {
			for _, c := range row {
				if c != "" && strings.IndexByte("=+-@\t\r", c[0]) >= 0 {
					t.Errorf("%s csv: cell %q starts a formula", name, c)
				}
				if strings.HasPrefix(c, "'=cmd|") {
					formulas++
				}
			}
		}
		if formulas == 0 {
			t.Errorf("%s csv: the formula payload is not shown neutralised", name)
		}
	}
}

// TestHostileJSONExact: the machine outputs keep every value exactly
// (invalid UTF-8 aside, which JSON cannot carry).
func TestHostileJSONExact(t *testing.T) {
	for name, r := range map[string]*finding.Result{"hunt": hostileHunt(), "scan": hostileScanResult()} {
		for _, format := range []string{"json", "jsonl"} {
			var b bytes.Buffer
			if err := Render(&b, r, format, Options{}); err != nil {
				t.Fatal(err)
			}
			if format == "jsonl" {
				sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					var m stream.Message
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.RunID != r.RunID {
						t.Fatalf("%s jsonl line %q: %v", name, sc.Text(), err)
					}
				}
			}
			got, err := ReadJSON(&b)
			if err != nil {
				t.Fatalf("%s %s: %v", name, format, err)
			}
			var gotStrings, wantStrings []string
			if name == "hunt" {
				for i := range got.Servers {
					gotStrings = append(gotStrings, got.Servers[i].Findings[0].UserAgent, got.Servers[i].Name)
					wantStrings = append(wantStrings, r.Servers[i].Findings[0].UserAgent, r.Servers[i].Name)
				}
			} else {
				for i := range got.Targets {
					gotStrings = append(gotStrings, got.Targets[i].Input, got.Targets[i].Error, got.Targets[i].IP)
					wantStrings = append(wantStrings, r.Targets[i].Input, r.Targets[i].Error, r.Targets[i].IP)
				}
			}
			for i := range wantStrings {
				if w := strings.ToValidUTF8(wantStrings[i], "\ufffd"); gotStrings[i] != w {
					t.Errorf("%s %s: %q came back as %q", name, format, w, gotStrings[i])
				}
			}
		}
	}
}

func TestTextInputNotRead(t *testing.T) {
	// the input-not-read list names files an attacker may have named
	var b bytes.Buffer
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Gaps: []finding.Gap{{File: "evil\x1b[2J.zip", Reason: "zip: not a valid zip file"}}}
	if err := Text(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `evil\x1b[2J.zip: zip: not a valid zip file`) || strings.Contains(b.String(), "\x1b") {
		t.Errorf("input not read: %q", b.String())
	}
}
