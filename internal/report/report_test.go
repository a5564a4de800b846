package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

func sample() *finding.Result {
	t0 := time.Date(2021, 3, 3, 5, 12, 44, 0, time.UTC)
	f := finding.Finding{Server: "EXCH01", Rule: "proxylogon-ecp-js", Title: "t", Stage: finding.StageExecution,
		CVEs: []string{"CVE-2021-26855"}, Severity: finding.SeverityHigh, Time: t0,
		Source:    finding.Source{File: "EXCH01/u_ex210303.log", Line: 7, Kind: "iis"},
		UserAgent: "evil\x1b[31mred\x07", Fields: map[string]string{"cs-uri-stem": "/ecp/y.js"}}
	return &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Rules: 1,
		Servers: []finding.Server{{Name: "EXCH01\x1b]0;pwned\x07", Verdict: finding.VerdictExploited, Findings: []finding.Finding{f},
			Attackers: []finding.Attacker{{IP: "198.51.100.7", UserAgents: []string{f.UserAgent}, MaxStage: f.Stage, Requests: 1}},
			Timeline:  []finding.TimelineEntry{{Time: t0, Rule: f.Rule, Stage: f.Stage, Summary: "x\ry", Source: f.Source}}}}}
}

func TestTextStripsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, sample(), false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, c := range []string{"\x1b", "\x07", "\r"} {
		if strings.Contains(out, c) {
			t.Errorf("text output carries control character %q:\n%s", c, out)
		}
	}
	for _, want := range []string{"EXPLOITED", "EXCH01/u_ex210303.log:7", "198.51.100.7", "1 server(s): 1 exploited"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	r := sample()
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Servers[0].Name != r.Servers[0].Name || got.Servers[0].Findings[0].Source != r.Servers[0].Findings[0].Source ||
		!got.Servers[0].Findings[0].Time.Equal(r.Servers[0].Findings[0].Time) {
		t.Fatalf("round trip changed the result: %+v", got.Servers[0])
	}
	if _, err := ReadJSON(strings.NewReader(`{"schema_version": 99}`)); err == nil {
		t.Error("accepted an unknown schema version")
	}
}
