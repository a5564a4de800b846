package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/report"
)

// A flag after a path is a flag, never a path: "exhunt hunt DIR -o x.json"
// writes x.json.
func TestFlagsAfterPaths(t *testing.T) {
	dir := labDir(t, "proxylogon-full")
	out := filepath.Join(t.TempDir(), "x.json")
	code, stdout, stderr := exh(t, "hunt", dir, "-o", out, "--format", "json", "--quiet")
	if code != ExitFindings || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != 1 || res.Worst() != finding.VerdictExploited {
		t.Errorf("servers %d worst %s", len(res.Servers), res.Worst())
	}
	// An unknown flag after a path is a usage error.
	if code, _, stderr := exh(t, "hunt", dir, "--bogus"); code != ExitUsage || !strings.Contains(stderr, "bogus") {
		t.Errorf("unknown flag after a path: exit %d, %q", code, stderr)
	}
	// After "--" everything is a path, even a word starting with '-'.
	if code, _, stderr := exh(t, "hunt", "--", filepath.Join(t.TempDir(), "-o")); code != ExitError || !strings.Contains(stderr, "no Exchange or IIS logs found") {
		t.Errorf("path after --: exit %d, %q", code, stderr)
	}
	// A hunt that finds nothing to hunt removes the result file it
	// created, and never a path that was there before: run as root,
	// "-o /dev/null" once deleted the device.
	empty := t.TempDir()
	fresh, kept := filepath.Join(t.TempDir(), "fresh.json"), filepath.Join(t.TempDir(), "kept.json")
	if err := os.WriteFile(kept, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fresh, kept} {
		if code, _, stderr := exh(t, "hunt", empty, "-o", out); code != ExitError || !strings.Contains(stderr, "no Exchange or IIS logs found") {
			t.Errorf("hunt of an empty folder -o %s: exit %d, %q", out, code, stderr)
		}
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the result file the hunt created is left behind: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a file that was there before the hunt is gone: %v", err)
	}
	// Commands that take no arguments refuse a stray word.
	for _, args := range [][]string{{"demo", "extra"}, {"lab", "generate", "--out", t.TempDir(), "extra"}, {"rules", "list", "extra"}, {"version", "extra"}} {
		if code, _, _ := exh(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// -h works for every command and subcommand and exits 0.
func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"}, {"help", "hunt"},
		{"hunt", "-h"}, {"demo", "-h"}, {"report", "-h"},
		{"lab", "-h"}, {"lab", "--help"}, {"lab", "generate", "-h"}, {"lab", "fleet", "-h"}, {"worker", "-h"},
		{"rules", "-h"}, {"rules", "list", "-h"}, {"rules", "validate", "-h"}, {"rules", "literals", "-h"},
		{"evtx", "-h"}, {"evtx", "dump", "-h"}, {"evtx", "stat", "-h"},
		{"scan", "-h"}, {"decoy", "-h"}, {"version", "-h"},
	} {
		code, stdout, stderr := exh(t, args...)
		if code != ExitClean || !strings.Contains(stdout+stderr, "Usage") {
			t.Errorf("%v: exit %d, output %q", args, code, stdout+stderr)
		}
	}
	// "help CMD" is "CMD -h".
	_, _, want := exh(t, "scan", "-h")
	if _, _, got := exh(t, "help", "scan"); got != want {
		t.Errorf("help scan printed %q", got)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := exh(t, "version")
	if code != ExitClean || !strings.HasPrefix(out, "exhunt "+Version()) {
		t.Fatalf("version: exit %d %q", code, out)
	}
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123456789abcdef0123", "2026-01-02T03:04:05Z"
	for _, arg := range []string{"version", "--version"} {
		_, out, _ := exh(t, arg)
		if !strings.HasPrefix(out, "exhunt v1.2.3 (commit 0123456789ab, built from 2026-01-02T03:04:05Z, go") {
			t.Errorf("%s with stamped version: %q", arg, out)
		}
	}
	version = ""
	if v := Version(); v != "dev-0123456789ab" {
		t.Errorf("version from the commit alone: %q", v)
	}
}

// A log folder copied on its own is hunted; a folder without logs names
// the layouts exhunt expects.
func TestLooseLogFolders(t *testing.T) {
	src := labDir(t, "proxylogon-full")
	for _, dir := range []string{"C/inetpub/logs/LogFiles/W3SVC1", "C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy"} {
		loose := filepath.Join(t.TempDir(), filepath.Base(dir))
		if err := os.CopyFS(loose, os.DirFS(filepath.Join(src, "EXCH01", filepath.FromSlash(dir)))); err != nil {
			t.Fatal(err)
		}
		// alone, and as one folder per server
		code, out, errs := exh(t, "hunt", "--format", "json", loose)
		if code != ExitFindings {
			t.Fatalf("%s: exit %d: %s", dir, code, errs)
		}
		res, err := report.ReadJSON(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Servers) != 1 || len(res.Servers[0].Findings) == 0 {
			t.Errorf("%s: %d servers, want one with findings", dir, len(res.Servers))
		}
	}
	code, _, errs := exh(t, "hunt", t.TempDir())
	if code != ExitError || !strings.Contains(errs, `W3SVC1\u_ex*.log`) || !strings.Contains(errs, `HttpProxy\<protocol>`) {
		t.Errorf("no logs: exit %d, %q", code, errs)
	}
}
