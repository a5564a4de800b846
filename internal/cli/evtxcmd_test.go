package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exhunt evtx dump prints every record of the lab's logs as JSON, and stat
// counts the same records; a file that is not an event log is named in
// the error and the others are still read.
func TestEvtxCommand(t *testing.T) {
	dir := labDir(t, "proxylogon-full")
	logs, _ := filepath.Glob(filepath.Join(dir, "EXCH01", "C", "Windows", "System32", "winevt", "Logs", "*.evtx"))
	if len(logs) < 4 {
		t.Fatalf("lab wrote %d event logs", len(logs))
	}
	code, out, errs := exh(t, append([]string{"evtx", "dump"}, logs...)...)
	if code != ExitClean || errs != "" {
		t.Fatalf("dump: code %d, stderr %q", code, errs)
	}
	perFile := map[string]int{}
	chopper := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			File   string          `json:"file"`
			Record int             `json:"record"`
			Event  json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		perFile[rec.File]++
		if perFile[rec.File] != rec.Record {
			t.Fatalf("%s: record %d in position %d", rec.File, rec.Record, perFile[rec.File])
		}
		chopper = chopper || strings.Contains(string(rec.Event), `&echo [S]&cd&echo [E]`)
	}
	if !chopper {
		t.Error("the China Chopper command is not in the dump")
	}
	code, out, _ = exh(t, append([]string{"evtx", "stat"}, logs...)...)
	if code != ExitClean {
		t.Fatalf("stat: code %d", code)
	}
	for f, n := range perFile {
		if !strings.Contains(out, f+"\t") || !strings.Contains(out, "records "+itoa(n)+"\t") {
			t.Errorf("stat does not give %d records for %s:\n%s", n, f, out)
		}
	}

	bogus := filepath.Join(t.TempDir(), "notes.evtx")
	os.WriteFile(bogus, []byte("not an event log"), 0o644)
	code, out, errs = exh(t, "evtx", "stat", bogus, logs[0])
	if code != ExitError || !strings.Contains(errs, bogus) || !strings.Contains(out, logs[0]) {
		t.Errorf("bad file: code %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, _ := exh(t, "evtx"); code != ExitUsage {
		t.Errorf("evtx without a mode: code %d", code)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
