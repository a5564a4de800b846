package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/stream"
)

// scanStream writes a scan's results as `exhunt scan -o` does.
func scanStream(t *testing.T, cut int) string {
	t.Helper()
	t0 := time.Date(2023, 1, 10, 9, 0, 0, 0, time.UTC)
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: finding.KindScan, RunID: "0123456789abcdef0123456789abcdef",
		Tool: "exhunt", StartedAt: t0, Targets: []finding.Target{
			{Seq: 0, Target: "https://192.0.2.10/", IP: "192.0.2.10", Status: finding.StatusExchange, Time: t0,
				Exchange: &finding.Exchange{Build: "15.1.2176.2", Exact: true, Product: "Exchange 2016", Update: "CU19", Server: "EXCH\x1b[2J01"},
				Chains:   []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainVulnerable}}},
			{Seq: 1, Target: "https://192.0.2.11/", IP: "192.0.2.11", Status: finding.StatusExchange, Time: t0,
				Exchange: &finding.Exchange{Build: "15.2.1118.20", Exact: true, Product: "Exchange 2019", Update: "CU12 Nov22SU"},
				Chains:   []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainPatched}}},
			{Seq: 2, Target: "https://192.0.2.12/", Status: finding.StatusUnreachable, Time: t0},
		}}
	var b bytes.Buffer
	if err := report.Render(&b, r, "jsonl", report.Options{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "scan.jsonl")
	os.WriteFile(p, b.Bytes()[:b.Len()-cut], 0o644)
	return p
}

func TestReportRendersScan(t *testing.T) {
	in := scanStream(t, 0)
	for format, want := range map[string][]string{
		"text": {"https://192.0.2.10/  15.1.2176.2", "3 target(s): 2 exchange, 1 unreachable"},
		"json": {`"kind": "scan"`, `"run_id": "0123456789abcdef0123456789abcdef"`, `"targets": [`},
		"html": {"Exchange exposure scan — 3 targets, 1 vulnerable", "Content-Security-Policy"},
		"csv":  {"target,input,ip,status", "https://192.0.2.10/,,192.0.2.10,exchange,,15.1.2176.2,true,Exchange 2016,CU19,EXCH\\x1b[2J01,vulnerable"},
	} {
		code, out, errs := exh(t, "report", "--in", in, "--format", format)
		if code != ExitFindings {
			t.Errorf("report %s of a scan: exit %d, stderr %q", format, code, errs)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("report %s of a scan lacks %q:\n%.600s", format, w, out)
			}
		}
	}
	if code, _, errs := exh(t, "report", "--in", in, "--format", "sarif"); code != ExitError || !strings.Contains(errs, "sarif holds hunt results only") {
		t.Errorf("sarif of a scan: exit %d %q", code, errs)
	}
	// a scan killed mid-write: rendered up to its last whole line, with a
	// warning naming the file and line
	cut := scanStream(t, 30)
	code, out, errs := exh(t, "report", "--in", cut, "--format", "text")
	if code != ExitFindings || !strings.Contains(out, "3 target(s)") || !strings.Contains(errs, "exhunt: warning: "+cut+": line 5: input ends inside a message") {
		t.Errorf("truncated scan: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestWarnShowsControlCharacters(t *testing.T) {
	var b bytes.Buffer
	warn(&b, "%s: %s", "evil\x1b]0;pwned\x07\r\u202e.zip", "zip: not a valid zip file")
	if got, want := b.String(), `exhunt: warning: evil\x1b]0;pwned\x07\x0d\u202e.zip: zip: not a valid zip file`+"\n"; got != want {
		t.Errorf("warning %q, want %q", got, want)
	}
}

func TestErrorsShowControlCharacters(t *testing.T) {
	in := filepath.Join(t.TempDir(), "evil\x1b]0;pwned\x07.json")
	code, _, errs := exh(t, "report", "--in", in)
	if code != ExitError || strings.ContainsAny(errs, "\x1b\x07") || !strings.Contains(errs, `evil\x1b]0;pwned\x07.json`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestHuntStreamReplays: a hunt saved as a stream and as a document
// renders the same in every format, and every line carries the run's id.
func TestHuntStreamReplays(t *testing.T) {
	dir := labDir(t, "proxylogon-full", "clean")
	tmp := t.TempDir()
	lines, doc := filepath.Join(tmp, "run.jsonl"), filepath.Join(tmp, "run.json")
	if code, _, errs := exh(t, "hunt", "--format", "jsonl", "-o", lines, dir); code != ExitFindings {
		t.Fatalf("hunt jsonl: exit %d %s", code, errs)
	}
	raw, _ := os.ReadFile(lines)
	var runID string
	for i, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m struct {
			RunID string          `json:"run_id"`
			Start *map[string]any `json:"start"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || len(m.RunID) != 32 || (runID != "" && m.RunID != runID) || (i == 0) != (m.Start != nil) {
			t.Fatalf("line %d %.100q: %v", i+1, l, err)
		}
		runID = m.RunID
	}
	// the document of the same evidence, with the stream's run as reference
	if code, _, _ := exh(t, "hunt", "--format", "json", "-o", doc, dir); code != ExitFindings {
		t.Fatalf("hunt json: exit %d", code)
	}
	fromLines, err := report.ReadJSON(bytes.NewReader(raw))
	if err != nil || fromLines.RunID != runID || fromLines.Kind != finding.KindHunt {
		t.Fatalf("stream read back: %v %+v", err, fromLines)
	}
	for _, format := range []string{"text", "csv", "sarif", "html"} {
		_, a, _ := exh(t, "report", "--in", lines, "--format", format)
		_, b, _ := exh(t, "report", "--in", doc, "--format", format)
		norm := func(s string) string { // the two runs differ only in run id and timing
			s = regexp.MustCompile(`[0-9a-f]{32}`).ReplaceAllString(s, "ID")
			s = regexp.MustCompile(`\d+(\.\d+)?(ms|s)\b|"duration_ms": \d+|[0-9-]{10}[T ][0-9:.]{8,}Z?`).ReplaceAllString(s, "T")
			return regexp.MustCompile(`(Run started|duration|took)[^<\n]*`).ReplaceAllString(s, "")
		}
		if na, nb := norm(a), norm(b); na != nb || len(a) < 1000 {
			i := 0
			for i < min(len(na), len(nb)) && na[i] == nb[i] {
				i++
			}
			t.Errorf("%s from the stream differs from the document's at byte %d: %.120q vs %.120q", format, i, na[i:], nb[i:])
		}
	}
}

// TestScanThenReport scans decoys, then renders the results file in every
// report format: the scan's stream is what report reads.
func TestScanThenReport(t *testing.T) {
	urls, _ := decoyFleet(t, 6, decoy.Config{}, decoy.Shell{Path: "/owa/auth/shel.aspx", Kind: decoy.ShellChopper})
	out := filepath.Join(t.TempDir(), "results.jsonl")
	code, stdout, errs := exh(t, append([]string{"scan", "--scope", testScope, "--host-rate", "0", "--webshells", "-o", out}, urls...)...)
	if code != ExitFindings {
		t.Fatalf("scan: exit %d\n%s\n%s", code, stdout, errs)
	}
	// the summary is printed once: no second table of the same servers
	if n := strings.Count(stdout, "TARGET"); n > 1 {
		t.Errorf("summary table printed %d times:\n%s", n, stdout)
	}
	raw, _ := os.ReadFile(out)
	res, err := report.ReadJSON(bytes.NewReader(raw))
	if err != nil || res.Kind != finding.KindScan || len(res.Targets) != 6 || len(res.RunID) != 32 || res.DurationMS == 0 && res.StartedAt.IsZero() {
		t.Fatalf("results file read as %+v (%v)", res, err)
	}
	for format, want := range map[string]string{
		"text": "6 target(s): 6 exchange", "json": `"targets": [`, "csv": "target,input,ip,status",
		"html": "Exchange exposure scan — 6 targets",
	} {
		code, got, errs := exh(t, "report", "--in", out, "--format", format)
		if code != ExitFindings || !strings.Contains(got, want) {
			t.Errorf("report %s: exit %d, stderr %q, output lacks %q:\n%.400s", format, code, errs, want, got)
		}
		for _, u := range urls {
			if format != "json" && !strings.Contains(got, strings.TrimSuffix(u, "/")) {
				t.Errorf("report %s lacks target %s", format, u)
			}
		}
	}
}

// TestStreamProgress: progress messages while a run goes on, only when it
// moved, none after the stop returns.
func TestStreamProgress(t *testing.T) {
	var mu sync.Mutex
	var got []stream.Progress
	var stopped atomic.Bool
	h := stream.HandlerFunc(func(m *stream.Message) error {
		if stopped.Load() {
			t.Error("progress sent after the stop returned")
		}
		if m.RunID != "run" || m.Progress == nil {
			t.Errorf("message %+v", m)
		}
		mu.Lock()
		got = append(got, *m.Progress)
		mu.Unlock()
		return nil
	})
	var done atomic.Int64
	stop := streamProgress(h, "run", func() stream.Progress { return stream.Progress{TargetsDone: done.Load()} }, time.Millisecond)
	for i := 1; i <= 3; i++ {
		done.Store(int64(i))
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n == i || time.Now().After(deadline) {
				break
			}
		}
	}
	time.Sleep(20 * time.Millisecond) // ticks without movement send nothing
	stop()
	stopped.Store(true)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0].TargetsDone != 1 || got[2].TargetsDone != 3 || got[2].Time.IsZero() {
		t.Errorf("progress messages %+v", got)
	}
}
