package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rules validate reads each language with the hunt's own compiler: a YARA
// file is compiled as YARA (not parsed as YAML), a Sigma file as Sigma,
// and a given rule that does not load fails with its file, line and reason.
func TestRulesValidateLanguages(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	okYar := write("ok.yar", "rule given_ok { strings: $a = \"cmd.exe /c\" condition: $a }\n")
	badYar := write("bad.yar", "rule given_bad {\n  strings: $a = \"x\"\n  condition: $b\n}\n")
	sigmaYml := write("proc.yml", "title: Whoami from IIS\nid: 4f6a0000-0000-4000-8000-000000000001\nlogsource:\n  category: process_creation\n  product: windows\n"+
		"detection:\n  sel:\n    ParentImage|endswith: '\\w3wp.exe'\n    Image|endswith: '\\whoami.exe'\n  condition: sel\nlevel: high\n")

	counts := func(out string) (sigma, yara int) {
		m := regexp.MustCompile(`(\d+) Sigma rules loaded`).FindStringSubmatch(out)
		n := regexp.MustCompile(`(\d+) YARA rules from`).FindStringSubmatch(out)
		if m == nil || n == nil {
			t.Fatalf("no counts in %q", out)
		}
		sigma, _ = strconv.Atoi(m[1])
		yara, _ = strconv.Atoi(n[1])
		return sigma, yara
	}
	_, base, _ := exh(t, "rules", "validate")
	code, out, errs := exh(t, "rules", "validate", okYar, sigmaYml)
	if code != 0 {
		t.Fatalf("valid YARA and Sigma files: exit %d\n%s%s", code, out, errs)
	}
	s0, y0 := counts(base)
	if s1, y1 := counts(out); s1 != s0+1 || y1 != y0+1 {
		t.Errorf("given one Sigma and one YARA rule: %d Sigma and %d YARA rules, before %d and %d", s1, y1, s0, y0)
	}
	code, _, errs = exh(t, "rules", "validate", okYar, badYar)
	if code != ExitError || !strings.Contains(errs, "bad.yar:3: undefined string identifier $b") {
		t.Fatalf("broken YARA rule: exit %d stderr %q", code, errs)
	}
	// a folder holding both: the broken rule is found there too
	code, _, errs = exh(t, "rules", "validate", dir)
	if code != ExitError || !strings.Contains(errs, "bad.yar:3") {
		t.Fatalf("folder with a broken YARA rule: exit %d stderr %q", code, errs)
	}
}
