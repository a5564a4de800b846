package detect

import (
	"strings"
	"testing"
)

// A record the detection matches always holds one of its literals: the
// prefilter may let through records that do not match, never drop one
// that does.
func TestLiteralsAreNecessary(t *testing.T) {
	for _, tc := range []struct {
		det     string
		ok      bool
		records []map[string]string
	}{
		{"a: {Image|endswith: '\\w3wp.exe'}\nb: {CommandLine|contains: ['whoami', 'ipconfig', 'net user', 'quser']}\ncondition: a and b\n", true,
			[]map[string]string{{"image": `C:\x\W3WP.EXE`, "commandline": "cmd /c WHOAMI"}, {"image": `c:\w3wp.exe`, "commandline": "IPCONFIG /all"}}},
		{"a: {CommandLine|contains|all: ['comsvcs', 'MiniDump']}\ncondition: a\n", true,
			[]map[string]string{{"commandline": "rundll32 COMSVCS.dll MiniDump"}}},
		{"a: {x|re: 'abc'}\nb: {y: 'hello'}\ncondition: a or b\n", false, nil},
		{"a: {x: 'abc'}\ncondition: not a\n", false, nil},
		// Sigma's '?' is one character, which takes a regular expression;
		// its longest literal part still filters
		{"a: {x: 'ab?def'}\ncondition: a\n", true, []map[string]string{{"x": "abXDEF"}}},
		{"a: {x: 'a?b'}\ncondition: a\n", false, nil},
		{"a: {x|contains: 'ab*defg'}\ncondition: a\n", true, []map[string]string{{"x": "xxABzzDEFG"}}},
		{"k: ['evil.exe', 'bad.dll']\ncondition: k\n", true, []map[string]string{{"_raw": "run EVIL.EXE now"}}},
		{"a: {x|contains: 'lsass'}\nb: {y|endswith: ['.dmp', '.zip']}\ncondition: 1 of them\n", true,
			[]map[string]string{{"x": "LSASS"}, {"y": "a.ZIP"}}},
	} {
		d, err := Compile(detection(t, tc.det), &Env{Dialect: Sigma})
		if err != nil {
			t.Fatalf("%s: %v", tc.det, err)
		}
		lits, ok := d.Literals()
		if ok != tc.ok {
			t.Errorf("%s: literals %v ok %v, want ok %v", tc.det, lits, ok, tc.ok)
			continue
		}
		for _, r := range tc.records {
			if !d.Match(rec(r)) {
				t.Errorf("%s: does not match %v", tc.det, r)
				continue
			}
			var all []string
			for _, v := range r {
				all = append(all, strings.ToLower(v))
			}
			text := strings.Join(all, "\n")
			found := false
			for _, l := range lits {
				found = found || strings.Contains(text, l)
			}
			if !found {
				t.Errorf("%s: matches %v, which holds none of %q", tc.det, r, lits)
			}
		}
	}
}
