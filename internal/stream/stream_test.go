package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

func huntResult() *finding.Result {
	t0 := time.Date(2021, 3, 3, 5, 12, 44, 0, time.UTC)
	f := func(server, rule string, stage finding.Stage, line int64) finding.Finding {
		return finding.Finding{Server: server, Rule: rule, Title: rule, Stage: stage, CVEs: []string{"CVE-2021-26855"},
			Severity: finding.SeverityHigh, Time: t0.Add(time.Duration(line) * time.Second),
			Source: finding.Source{File: server + "/u_ex210303.log", Line: line, Kind: "iis"},
			Fields: map[string]string{"cs-uri-stem": "/ecp/y.js"}}
	}
	return &finding.Result{SchemaVersion: finding.SchemaVersion, RunID: NewRunID(), Kind: finding.KindHunt,
		Tool: "exhunt", Version: "v1.2.3", StartedAt: t0, DurationMS: 1234, Roots: []string{"/evidence"}, Rules: 42,
		Servers: []finding.Server{
			{Name: "EXCH01", Verdict: finding.VerdictExploited,
				Findings: []finding.Finding{f("EXCH01", "proxylogon-ssrf", finding.StageExploitation, 7), f("EXCH01", "webshell-cmd", finding.StageExecution, 9)},
				Gaps:     []finding.Gap{{File: "EXCH01/u_ex210304.log.gz", Reason: "truncated gzip at offset 4096"}},
				Timeline: []finding.TimelineEntry{{Time: t0, Rule: "proxylogon-ssrf", Stage: finding.StageExploitation}}},
			{Name: "EXCH02", Verdict: finding.VerdictClean},
			{Name: "EXCH03", Verdict: finding.VerdictProbed, Findings: []finding.Finding{f("EXCH03", "scan-autodiscover", finding.StageReconnaissance, 1)}},
		},
		Gaps: []finding.Gap{{File: "bundle.zip", Reason: "not a zip file"}},
	}
}

func TestEmitCollectRoundTrip(t *testing.T) {
	want := huntResult()
	var c Collector
	var msgs []*Message
	if err := Emit(want, Tee(&c, HandlerFunc(func(m *Message) error { msgs = append(msgs, m); return nil }))); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.kinds() != 1 || m.RunID != want.RunID {
			t.Fatalf("message %+v: kinds %d, run id %q", m, m.kinds(), m.RunID)
		}
	}
	if got := c.Result(); !reflect.DeepEqual(got, want) {
		t.Fatalf("collected\n%+v\nwant\n%+v", got, want)
	}
	if !c.Closed() {
		t.Error("collector did not see the closing run")
	}
	// the order the stream promises: start, findings, gaps, servers, run
	var kinds strings.Builder
	for _, m := range msgs {
		switch {
		case m.Start != nil:
			kinds.WriteByte('S')
		case m.Finding != nil:
			kinds.WriteByte('f')
		case m.Gap != nil:
			kinds.WriteByte('g')
		case m.Server != nil:
			kinds.WriteByte('s')
		case m.Run != nil:
			kinds.WriteByte('r')
		}
	}
	if kinds.String() != "Sfffggsssr" {
		t.Errorf("message order %q", kinds.String())
	}
}

func TestNewRunID(t *testing.T) {
	a, b := NewRunID(), NewRunID()
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" || a == b {
		t.Errorf("run ids %q %q: want distinct 32 hex digits", a, b)
	}
}

func writeLines(t *testing.T, r *finding.Result) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	if err := Emit(r, HandlerFunc(func(m *Message) error { return enc.Encode(m) })); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReadFormats(t *testing.T) {
	want := huntResult()
	lines := writeLines(t, want)
	doc, _ := json.MarshalIndent(want, "", "  ")
	oneLine, _ := json.Marshal(want)
	for name, in := range map[string]string{"jsonl": lines, "json": string(doc), "one-line json": string(oneLine)} {
		var c Collector
		if err := Read(strings.NewReader(in), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := c.Result(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: replay differs\n%+v\nwant\n%+v", name, got, want)
		}
		got, err := ReadResult(strings.NewReader(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ReadResult: %v\n%+v", name, err, got)
		}
	}
}

func TestReadLegacyScanLines(t *testing.T) {
	// scans wrote one bare result per line before the stream
	in := `{"seq":0,"target":"https://192.0.2.10/","ip":"192.0.2.10","status":"exchange","exchange":{"build":"15.1.2176.2","exact":true},"chains":[{"chain":"proxylogon","cves":["CVE-2021-26855"],"verdict":"vulnerable","reason":"build before Mar21SU"}],"requests":4,"time":"2021-03-03T05:12:44Z","duration_ms":120}
{"seq":1,"input":"bad host!","status":"invalid","error":"not a host","requests":0,"time":"2021-03-03T05:12:44Z","duration_ms":0}
`
	var c Collector
	if err := Read(strings.NewReader(in), &c); err != nil {
		t.Fatal(err)
	}
	r := c.Result()
	if r.Kind != finding.KindScan || len(r.Targets) != 2 || !r.Targets[0].Vulnerable() || r.Targets[1].Status != finding.StatusInvalid || !r.Notable() {
		t.Fatalf("legacy scan lines read as %+v", r)
	}
}

func TestReadTruncatedAndBad(t *testing.T) {
	lines := writeLines(t, huntResult())
	cut := lines[:len(lines)-40] // the closing run line cut short
	var c Collector
	err := Read(strings.NewReader(cut), &c)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "line 10") {
		t.Fatalf("truncated stream: %v", err)
	}
	if !c.Closed() || len(c.Result().Servers) != 3 || len(c.Result().Servers[0].Findings) != 2 {
		t.Errorf("truncated stream: what came before the cut was not kept: %+v", c.Result())
	}
	for in, want := range map[string]string{
		"":                      "empty input",
		"  \n":                  "empty input",
		`{"run_id":"x"}` + "\n": "line 1: not a message",
		`{"run_id":"x","gap":{},"run":{}}` + "\n":                          "line 1: a message must have one kind, this one has 2",
		strings.Replace(lines, "\n", "\nnot json\n", 1):                    "line 2: invalid character",
		`{"run_id":"x","start":{"schema_version":9,"kind":"hunt"}}` + "\n": "line 1: stream schema version 9",
		"{\n  \"schema_version\": 7\n}\n":                                  "schema version 7",
	} {
		var c Collector
		err := Read(strings.NewReader(in), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%.40q) = %v, want %q", in, err, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	r := huntResult()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	Emit(r, HandlerFunc(func(m *Message) error { return enc.Encode(m) }))
	f.Add(b.String())
	doc, _ := json.MarshalIndent(r, "", "  ")
	f.Add(string(doc))
	f.Add(`{"seq":1,"status":"exchange"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var c Collector
		n := 0
		err := Read(strings.NewReader(in), Tee(&c, HandlerFunc(func(m *Message) error {
			if m.kinds() != 1 {
				t.Fatalf("handler got a message with %d kinds", m.kinds())
			}
			n++
			return nil
		})))
		if err == nil && !c.Closed() {
			t.Fatalf("read %d messages without error but no closing run", n)
		}
		c.Result()
		if r, err := ReadResult(strings.NewReader(in)); err == nil && r.SchemaVersion != finding.SchemaVersion {
			t.Fatalf("ReadResult accepted schema version %d", r.SchemaVersion)
		}
	})
}
