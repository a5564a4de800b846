package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/stream"
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

// TestTextVerdictFindingsFirst: a server whose verdict rests on findings
// late in a long timeline shows them first, every one, never behind
// "… N more".
func TestTextVerdictFindingsFirst(t *testing.T) {
	t0 := time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC)
	s := finding.Server{Name: "EXCH01", Verdict: finding.VerdictExploited}
	add := func(i int, rule string, st finding.Stage, supporting bool) {
		f := finding.Finding{Server: s.Name, Rule: rule, Title: rule, Stage: st, Severity: finding.SeverityHigh,
			Time: t0.Add(time.Duration(i) * time.Minute), Supporting: supporting,
			Source: finding.Source{File: "EXCH01/W3SVC1/u_ex210303.log", Line: int64(i + 1), Kind: "iis"}}
		s.Findings = append(s.Findings, f)
		s.Timeline = append(s.Timeline, finding.TimelineEntry{Time: f.Time, Rule: rule, Stage: st, Severity: f.Severity,
			Summary: rule + " summary", Source: f.Source})
	}
	for i := range 200 {
		add(i, "autodiscover-probe", finding.StageReconnaissance, false)
	}
	add(200, "collection-archive", finding.StageExecution, true) // supporting: does not set the verdict
	for i := range 45 {
		add(201+i, "webshell-command", finding.StageExecution, false)
	}
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Servers: []finding.Server{s}}
	var b bytes.Buffer
	if err := Text(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	head, rest, ok := strings.Cut(out, "  other evidence\n")
	if !ok || !strings.Contains(head, "verdict    exploited, set by 45 finding(s):") {
		t.Fatalf("no verdict section first:\n%.600s", out)
	}
	if n := strings.Count(head, "[webshell-command]"); n != 45 {
		t.Errorf("%d of the 45 findings that set the verdict listed first", n)
	}
	if strings.Contains(head, "more") || strings.Contains(head, "autodiscover-probe") || strings.Contains(head, "collection-archive") {
		t.Errorf("verdict section holds other findings or a cut:\n%s", head)
	}
	if !strings.Contains(rest, "… 161 more (use --verbose or --format json)") {
		t.Errorf("the other evidence is not capped at 40 with a count:\n%.300s", rest[len(rest)-300:])
	}
}

// TestScanReport renders a scan, live as a stream and replayed, as the
// text table and summary.
func TestScanReport(t *testing.T) {
	t0 := time.Date(2023, 1, 10, 9, 0, 0, 0, time.UTC)
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: finding.KindScan, RunID: stream.NewRunID(), Tool: "exhunt",
		Targets: []finding.Target{
			{Seq: 0, Target: "https://192.0.2.10/", IP: "192.0.2.10", Status: finding.StatusExchange, Time: t0,
				Exchange: &finding.Exchange{Build: "15.1.2176.2", Exact: true, Source: "x-owa-version", Product: "Exchange 2016", Update: "CU19"},
				Chains:   []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainVulnerable}, {Chain: "proxyshell", Verdict: finding.ChainVulnerable, Mitigated: true}}},
			{Seq: 1, Target: "https://192.0.2.11/", IP: "192.0.2.11", Status: finding.StatusExchange, Time: t0,
				Exchange: &finding.Exchange{Build: "15.2.1118.20", Exact: true, Product: "Exchange 2019", Update: "CU12 Nov22SU"},
				Chains:   []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainPatched}, {Chain: "owassrf", Verdict: finding.ChainPatched}}},
			{Seq: 2, Target: "https://192.0.2.12/", Status: finding.StatusUnreachable, Error: "connect: connection refused", Time: t0},
			{Seq: 3, Input: "bad host!", Status: finding.StatusInvalid},
		}}
	var lines bytes.Buffer
	if err := Render(&lines, r, "jsonl", Options{}); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	h, _ := New("text", &text, Options{})
	if err := stream.Read(bytes.NewReader(lines.Bytes()), h); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"TARGET", "https://192.0.2.10/  15.1.2176.2", "vulnerable", "vulnerable+mitigated", "https://192.0.2.11/",
		"4 target(s): 2 exchange, 1 invalid, 1 unreachable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scan text lacks %q:\n%s", want, out)
		}
	}
	// each server once: its row is not repeated by the summary
	if n := strings.Count(out, "https://192.0.2.10/"); n != 1 {
		t.Errorf("vulnerable target listed %d times:\n%s", n, out)
	}
	if strings.Contains(out, "192.0.2.12") {
		t.Errorf("unreachable target in the table of Exchange servers:\n%s", out)
	}
	got, err := ReadJSON(bytes.NewReader(lines.Bytes()))
	if err != nil || len(got.Targets) != 4 || !got.Notable() || got.Targets[0].Exchange.Build != "15.1.2176.2" || got.RunID != r.RunID {
		t.Fatalf("scan stream read back as %+v (%v)", got, err)
	}
	var csvOut bytes.Buffer
	if err := Render(&csvOut, got, "csv", Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(csvOut.String(), strings.Join(scanCSVHeader, ",")+"\n") || strings.Count(csvOut.String(), "\n") != 5 ||
		!strings.Contains(csvOut.String(), "https://192.0.2.10/,,192.0.2.10,exchange,,15.1.2176.2,true,Exchange 2016,CU19,,vulnerable,vulnerable+mitigated,,,") {
		t.Errorf("scan csv:\n%s", csvOut.String())
	}
	if err := Render(&bytes.Buffer{}, got, "sarif", Options{}); err == nil {
		t.Error("a scan rendered as SARIF")
	}
}

func TestEventLines(t *testing.T) {
	var b bytes.Buffer
	id := stream.NewRunID()
	e, err := NewEventLines(&b, id, "v1")
	if err != nil {
		t.Fatal(err)
	}
	e.Write([]byte(`{"time":"2023-01-10T09:00:00Z","client":"198.51.100.7","method":"POST","uri":"/ecp/y.js","status":241,"class":"exploit","kind":"proxylogon-ssrf"}` + "\n"))
	e.Write([]byte("not json\n"))
	e.Close()
	var kinds []string
	err = stream.Read(&b, stream.HandlerFunc(func(m *stream.Message) error {
		if m.RunID != id {
			t.Errorf("message without the run id: %+v", m)
		}
		switch {
		case m.Start != nil:
			kinds = append(kinds, "start:"+m.Start.Kind)
		case m.Event != nil:
			kinds = append(kinds, "event:"+string(m.Event[:14]))
		case m.Run != nil:
			kinds = append(kinds, "run:"+m.Run.Kind)
		}
		return nil
	}))
	if err != nil || strings.Join(kinds, " ") != `start:decoy event:{"time":"2023- run:decoy` {
		t.Errorf("decoy stream %q (%v)", kinds, err)
	}
}
