package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/lab"
	"github.com/exhunt/exhunt/internal/report"
)

func exh(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func labDir(t *testing.T, scen ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := lab.Generate(context.Background(), lab.Options{Out: dir, Servers: len(scen), Seed: 9, Scenarios: scen}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHuntExitCodesAndFormats(t *testing.T) {
	clean := labDir(t, "clean")
	code, out, errs := exh(t, "hunt", clean)
	if code != ExitClean || !strings.Contains(out, "CLEAN") {
		t.Fatalf("clean evidence: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	hit := labDir(t, "proxylogon-full", "clean")
	code, out, _ = exh(t, "hunt", "--format", "json", hit)
	if code != ExitFindings {
		t.Fatalf("exploited evidence: exit %d, want %d", code, ExitFindings)
	}
	res, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != 2 || res.Worst() != finding.VerdictExploited {
		t.Fatalf("servers %d worst %s", len(res.Servers), res.Worst())
	}
	for _, s := range res.Servers {
		for _, f := range s.Findings {
			// a finding about a whole file (the file hunt's) has no line
			if f.Source.File == "" || f.Source.Line == 0 && f.File == nil || filepath.IsAbs(f.Source.File) {
				t.Fatalf("finding source %+v must be a relative file and a line", f.Source)
			}
		}
	}
	// jsonl: findings first, then servers, then the run
	code, out, _ = exh(t, "hunt", "--format", "jsonl", hit)
	if code != ExitFindings {
		t.Fatalf("jsonl exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var kinds []string
	for _, l := range lines {
		var m report.Message
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad json line %q: %v", l, err)
		}
		switch {
		case m.Finding != nil:
			kinds = append(kinds, "f")
		case m.Server != nil:
			kinds = append(kinds, "s")
		case m.Run != nil:
			kinds = append(kinds, "r")
		}
	}
	seq := strings.Join(kinds, "")
	if !strings.HasSuffix(seq, "ssr") || !strings.HasPrefix(seq, "f") || strings.Count(seq, "f") != len(res.Servers[0].Findings)+len(res.Servers[1].Findings) {
		t.Fatalf("jsonl sequence %q", seq)
	}
	// -o writes the file, stdout stays empty
	outFile := filepath.Join(t.TempDir(), "r.json")
	code, out, _ = exh(t, "hunt", "--format", "json", "-o", outFile, hit)
	if code != ExitFindings || out != "" {
		t.Fatalf("-o: exit %d stdout %q", code, out)
	}
	if b, err := os.ReadFile(outFile); err != nil || !bytes.Contains(b, []byte(`"verdict": "exploited"`)) {
		t.Fatalf("-o file: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{}, {"nope"}, {"hunt", "--format", "xml", "."}, {"hunt", "--bogus"}, {"lab"}, {"lab", "generate"}, {"rules"},
	} {
		if code, _, _ := exh(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
	if code, _, errs := exh(t, "hunt", t.TempDir()); code != ExitError || !strings.Contains(errs, "no Exchange or IIS logs") {
		t.Errorf("empty folder: exit %d stderr %q", code, errs)
	}
	if code, _, _ := exh(t, "hunt", "-h"); code != ExitClean {
		t.Errorf("-h: exit %d", code)
	}
}

func TestRulesCommands(t *testing.T) {
	code, out, _ := exh(t, "rules", "validate")
	if code != 0 || !strings.Contains(out, "rules valid") {
		t.Fatalf("validate: %d %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad-rule.yaml")
	os.WriteFile(bad, []byte("id: bad-rule\ntitle: x\n"), 0o644)
	code, _, errs := exh(t, "rules", "validate", bad)
	if code != ExitError || !strings.Contains(errs, "bad-rule.yaml") {
		t.Fatalf("invalid rule: exit %d stderr %q", code, errs)
	}
	code, out, _ = exh(t, "rules", "literals")
	if code != 0 || !strings.Contains(out, "ServerInfo~") {
		t.Fatalf("literals: %d", code)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GB": 2e9, "500MB": 5e8, "64KiB": 65536, "10M": 10 << 20, "123": 123} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize accepted garbage")
	}
}

// TestReportRerendersSavedRun: a saved JSON run renders in every format
// without the evidence, and each format carries the run's findings.
func TestReportRerendersSavedRun(t *testing.T) {
	dir := labDir(t, "proxylogon-full", "clean")
	saved := filepath.Join(t.TempDir(), "run.json")
	if code, _, _ := exh(t, "hunt", "--format", "json", "-o", saved, dir); code != ExitFindings {
		t.Fatalf("hunt exit %d", code)
	}
	os.RemoveAll(dir) // the evidence is gone; the report must not need it
	raw, _ := os.ReadFile(saved)
	res, err := report.ReadJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Servers[0].Findings) + len(res.Servers[1].Findings)
	for format, check := range map[string]func(string) bool{
		"text": func(s string) bool {
			return strings.Contains(s, "EXPLOITED") && strings.Contains(s, "2 server(s)") && strings.Contains(s, "what to do")
		},
		"remediation-csv": func(s string) bool {
			return strings.HasPrefix(s, "server,verdict,inconclusive,action,step") && strings.Contains(s, "EXCH01,exploited,true,1,contain,immediate")
		},
		"remediation": func(s string) bool {
			// only the plans: a checklist per server, no evidence table
			return strings.HasPrefix(s, "# Remediation plan\n") && strings.Contains(s, "## EXCH01: exploited") &&
				strings.Contains(s, "### 1. Contain\n") && strings.Contains(s, " SHA-256 `") &&
				strings.Contains(s, "## EXCH02: clean") && !strings.Contains(s, "evidence\n")
		},
		"json": func(s string) bool { return s == string(raw) },
		"csv":  func(s string) bool { return strings.Count(strings.TrimSpace(s), "\n") >= n },
		"sarif": func(s string) bool {
			return strings.Contains(s, `"version": "2.1.0"`) && strings.Count(s, `"ruleId"`) == n
		},
		"html": func(s string) bool {
			return strings.Contains(s, "Content-Security-Policy") && strings.Contains(s, "EXCH01")
		},
	} {
		code, out, errs := exh(t, "report", "--in", saved, "--format", format)
		if code != ExitFindings || !check(out) {
			t.Errorf("report --format %s: exit %d, stderr %q, output starts %q", format, code, errs, out[:min(len(out), 200)])
		}
	}
	if code, _, _ := exh(t, "report", "--in", saved, "--format", "jsonl"); code != ExitUsage {
		t.Errorf("jsonl is a stream, not a report format: exit %d", code)
	}
	if code, _, _ := exh(t, "report"); code != ExitUsage {
		t.Errorf("missing --in: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"schema_version":`), 0o644)
	if code, _, errs := exh(t, "report", "--in", bad); code != ExitError || !strings.Contains(errs, "bad.json") {
		t.Errorf("corrupt run: exit %d stderr %q", code, errs)
	}
}

func TestHuntWritesEveryFormatAndNoProgressOffTerminal(t *testing.T) {
	dir := labDir(t, "scan-only")
	for _, f := range []string{"html", "sarif", "csv"} {
		code, out, errs := exh(t, "hunt", "--format", f, dir)
		if code != ExitFindings || out == "" {
			t.Errorf("hunt --format %s: exit %d", f, code)
		}
		// stderr is not a terminal here: no progress display
		if strings.Contains(errs, "hunting [") || strings.Contains(errs, "\x1b[") {
			t.Errorf("progress written off a terminal: %q", errs)
		}
	}
}
