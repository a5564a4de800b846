package report

import (
	"bytes"
	"encoding/csv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/visible"
)

// splitRaw splits s at each sep not escaped by '\', keeping the escapes.
func splitRaw(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, it := range splitRaw(s, ';') {
		out = append(out, unescape(it))
	}
	return out
}

func readFields(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	if s == "" {
		return m
	}
	for _, it := range splitRaw(s, ';') {
		kv := splitRaw(it, '=')
		if len(kv) < 2 {
			t.Errorf("field item %q has no '='", it)
			continue
		}
		// only the first unescaped '=' separates; the value may hold more
		m[unescape(kv[0])] = unescape(it[len(kv[0])+1:])
	}
	return m
}

// uncell reverses csvCell: one leading quote was added to a cell starting
// with a formula character or a quote.
func uncell(s string) string {
	if strings.HasPrefix(s, "'") {
		return s[1:]
	}
	return s
}

func csvResult() *finding.Result {
	t0 := time.Date(2021, 3, 3, 5, 12, 44, 123456789, time.FixedZone("x", 3600))
	multi := "line one\nline two, \"quoted\" and a\rCR"
	return &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Servers: []finding.Server{
		{Name: "\rEXCH02", Verdict: finding.VerdictProbed, Findings: []finding.Finding{{
			Server: "\rEXCH02", Rule: "r2", Title: "\tTAB title", Stage: finding.StageReconnaissance,
			Severity: finding.SeverityLow, Source: finding.Source{File: "=file.log"}, ClientIP: "-",
		}}},
		{Name: "EXCH01", Verdict: finding.VerdictExploited, Inconclusive: true, Findings: []finding.Finding{
			{
				Server: "EXCH01", Rule: "r1", Title: multi, Stage: finding.StageExecution, Outcome: "+cmd|' /C calc'!A0",
				CVEs: []string{"CVE-2021-26855", "CVE-2021-27065"}, Chain: "proxylogon", Severity: finding.SeverityCritical,
				Time: t0.Add(time.Second), Source: finding.Source{File: "EXCH01/a, b.log", Line: 42},
				ClientIP: "198.51.100.7", UserAgent: `=HYPERLINK("http://evil.example/","x")`, Mailbox: "@SUM(1+1)",
				IOCs:   []string{"list; with separator", `back\slash`},
				Fields: map[string]string{"b": "x=y;z=w", "a": multi, `k;e=y\`: "-1+2", "empty": ""},
			},
			{
				Server: "EXCH01", Rule: "r0", Title: "'already quoted", Stage: finding.StageAttempt,
				Severity: finding.SeverityMedium, Time: t0, Source: finding.Source{File: "EXCH01/b.log", Line: 1},
			},
		}},
		{Name: "EXCH03", Verdict: finding.VerdictClean},
	}}
}

func TestCSVRoundTrip(t *testing.T) {
	r := csvResult()
	var b bytes.Buffer
	if err := CSV(&b, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll() // also checks every row has the header's field count
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !slices.Equal(rows[0], csvHeader) || len(csvHeader) != 18 {
		t.Fatalf("header %q", rows[0])
	}
	// servers by name ("\rEXCH02" sorts first), findings by time
	want := []*finding.Finding{&r.Servers[0].Findings[0], &r.Servers[1].Findings[1], &r.Servers[1].Findings[0]}
	verdicts := []*finding.Server{&r.Servers[0], &r.Servers[1], &r.Servers[1]}
	if len(rows) != 1+len(want) {
		t.Fatalf("%d rows, want header + %d", len(rows), len(want))
	}
	for i, row := range rows[1:] {
		f, s := want[i], verdicts[i]
		got := map[string]string{}
		for j, c := range row {
			got[csvHeader[j]] = uncell(c)
		}
		line := ""
		if f.Source.Line > 0 {
			line = strconv.FormatInt(f.Source.Line, 10)
		}
		tm := ""
		if !f.Time.IsZero() {
			tm = f.Time.UTC().Format(time.RFC3339Nano)
		}
		// values are shown visibly (issue 12): the cell holds visible.String
		// of the value, then the formula guard
		for col, w := range map[string]string{
			"server": f.Server, "verdict": string(s.Verdict), "inconclusive": strconv.FormatBool(s.Inconclusive),
			"time": tm, "stage": string(f.Stage), "severity": string(f.Severity), "rule": f.Rule, "title": f.Title,
			"outcome": f.Outcome, "chain": f.Chain, "file": f.Source.File, "line": line, "client_ip": f.ClientIP,
			"user_agent": f.UserAgent, "mailbox": f.Mailbox,
		} {
			if w = visible.String(w); got[col] != w {
				t.Errorf("row %d %s = %q, want %q", i+1, col, got[col], w)
			}
		}
		if g := readList(got["cves"]); !slices.Equal(g, visible.Strings(f.CVEs)) {
			t.Errorf("row %d cves %q, want %q", i+1, g, f.CVEs)
		}
		if g := readList(got["iocs"]); !slices.Equal(g, visible.Strings(f.IOCs)) {
			t.Errorf("row %d iocs %q, want %q", i+1, g, f.IOCs)
		}
		wantFields := map[string]string{}
		for k, v := range f.Fields {
			wantFields[visible.String(k)] = visible.String(v)
		}
		if g := readFields(t, got["fields"]); !maps.Equal(g, wantFields) {
			t.Errorf("row %d fields %q, want %q", i+1, g, wantFields)
		}
	}
	if got := rows[3][slices.Index(csvHeader, "time")]; got != "2021-03-03T04:12:45.123456789Z" {
		t.Errorf("time %q, want UTC RFC 3339", got)
	}
	if got := rows[3][slices.Index(csvHeader, "fields")]; !strings.HasPrefix(got, `a=line one\\x0aline two`) || !strings.Contains(got, `;b=x=y\;z=w;`) {
		t.Errorf("fields cell %q is not key=value;... in key order", got)
	}
}

func TestCSVFormulaNeutralised(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, csvResult()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	quoted := 0
	for _, row := range rows[1:] {
		for j, c := range row {
			if c != "" && strings.IndexByte("=+-@\t\r", c[0]) >= 0 {
				t.Errorf("%s cell %q starts a formula", csvHeader[j], c)
			}
			if strings.HasPrefix(c, "'") {
				quoted++
			}
		}
	}
	// the file and "-" client of EXCH02 (its name and title begin with CR
	// and tab, now shown as \x0d and \x09, no longer formula starts); the
	// user agent, mailbox and outcome of the EXCH01 row; the title that
	// began with a quote
	if quoted != 6 {
		t.Errorf("%d cells quoted, want 6:\n%s", quoted, b.String())
	}
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@A1": "'@A1", "\tx": "'\tx", "\rx": "'\rx", "'x": "''x",
		"x=1": "x=1", " =1": " =1", "": "", "日本": "日本",
	} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSVEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, &finding.Result{SchemaVersion: finding.SchemaVersion}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), strings.Join(csvHeader, ",")+"\n"; got != want {
		t.Errorf("empty result gave %q, want the header %q", got, want)
	}
}
