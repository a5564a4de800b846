package exchange

import (
	"os"
	"testing"
)

func loadTable(t *testing.T) *Table {
	t.Helper()
	f, err := os.Open("../../rules/data/exchange-builds.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tb, err := LoadTable(f)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestParseBuild(t *testing.T) {
	for in, want := range map[string]string{"15.01.2375.007": "15.1.2375.7", "15.2.986.5": "15.2.986.5", "15.1.2375": "15.1.2375"} {
		b, ok := ParseBuild(in)
		if !ok || b.String() != want {
			t.Errorf("ParseBuild(%q) = %v %v, want %s", in, b, ok, want)
		}
	}
	for _, bad := range []string{"", "15", "15.1", "a.b.c.d", "15.1.2.3.4", "-1.0.0.0"} {
		if _, ok := ParseBuild(bad); ok {
			t.Errorf("ParseBuild(%q) accepted", bad)
		}
	}
}

func TestStatus(t *testing.T) {
	tb := loadTable(t)
	for _, tc := range []struct{ build, chain, want string }{
		{"15.1.2176.2", "proxylogon", StatusVulnerable},    // 2016 CU19
		{"15.1.2176.9", "proxylogon", StatusPatched},       // CU19 Mar21SU
		{"15.1.2176.9", "proxyshell", StatusVulnerable},    // Mar21SU does not fix ProxyShell
		{"15.1.2176.12", "proxyshell", StatusPartial},      // Apr21SU fixes part
		{"15.1.2176.14", "proxyshell", StatusPatched},      // May21SU
		{"15.1.2176.10", "proxylogon", StatusPatched},      // between known SUs: newest below fixes it
		{"15.2.858.5", "proxyshell", StatusVulnerable},     // 2019 CU9
		{"15.1.2507.6", "proxynotshell", StatusVulnerable}, // 2016 CU23
		{"15.1.2507.16", "owassrf", StatusPatched},         // CU23 Nov22SU
		{"15.1.2507.99", "owassrf", StatusPatched},         // later SU of a fixed CU
		{"15.2.1544.4", "proxynotshell", StatusPatched},    // 2019 CU14
		{"14.3.513.0", "proxylogon", StatusPatched},        // 2010 SP3 RU32 fixes CVE-2021-26857
		{"14.3.509.0", "proxylogon", StatusCVEOnly},        // 2010 SP3 RU31: CVE-2021-26857 alone
		{"14.3.509", "proxylogon", StatusCVEOnly},          // three parts name the rollup
		{"14.3.513.0", "proxyshell", StatusNotAffected},    // 2010 has no HttpProxy
		{"15.1.2000.1", "proxylogon", StatusUnknown},       // CU not in the table
		{"15.1.9999.1", "proxylogon", StatusPatched},       // newer than every known build, all of which fix it
		{"15.1.2176", "proxylogon", StatusUnknown},         // three parts: SU level unknown
		{"15.0.1497.2", "proxylogon", StatusVulnerable},    // 2013 CU23
	} {
		b, _ := ParseBuild(tc.build)
		if got, note := tb.Status(b, tc.chain); got != tc.want {
			t.Errorf("Status(%s, %s) = %s (%s), want %s", tc.build, tc.chain, got, note, tc.want)
		}
	}
}

func FuzzParseBuild(f *testing.F) {
	f.Add("15.01.2375.007")
	f.Add("15.1.2375")
	f.Fuzz(func(t *testing.T, s string) {
		b, ok := ParseBuild(s)
		if !ok {
			return
		}
		// what parses prints back to something that parses the same
		b2, ok := ParseBuild(b.String())
		if !ok || b2 != b {
			t.Fatalf("%q -> %v -> %v", s, b, b2)
		}
	})
}

// TestFixesCVE: the April 2021 updates fixed CVE-2021-34473 and -34523 of
// ProxyShell; CVE-2021-31207 waited for May.
func TestFixesCVE(t *testing.T) {
	tb := loadTable(t)
	for _, tc := range []struct {
		build, cve string
		want       bool
	}{
		{"15.1.2176.9", "CVE-2021-34473", false},  // CU19 Mar21SU
		{"15.1.2176.12", "CVE-2021-34473", true},  // CU19 Apr21SU
		{"15.1.2176.12", "CVE-2021-34523", true},  // CU19 Apr21SU
		{"15.1.2176.12", "CVE-2021-31207", false}, // May21SU fixed it
		{"15.1.2176.14", "CVE-2021-31207", true},  // CU19 May21SU
		{"15.1.2176.13", "CVE-2021-34473", true},  // between Apr and May: cumulative
		{"15.2.858.10", "CVE-2021-34473", true},   // 2019 CU9 Apr21SU
		{"15.2.858.5", "CVE-2021-34473", false},   // 2019 CU9
		{"15.1.2176.9", "CVE-2021-26855", true},   // Mar21SU
		{"14.3.509.0", "CVE-2021-26857", false},   // 2010 RU31
		{"14.3.513.0", "CVE-2021-26857", true},    // 2010 RU32
		{"15.1.2176.9", "CVE-0000-0000", false},   // unknown CVE
	} {
		b, _ := ParseBuild(tc.build)
		if got := tb.FixesCVE(b, tc.cve); got != tc.want {
			t.Errorf("FixesCVE(%s, %s) = %v, want %v", tc.build, tc.cve, got, tc.want)
		}
	}
	rel, _, _ := tb.Lookup(mustBuild(t, "15.1.2176.12"))
	if len(rel.Fixes) != 1 || rel.Fixes[0] != "proxylogon" {
		t.Errorf("Apr21SU fixes %q: the partial entry's CVE list must not leak into Fixes", rel.Fixes)
	}
}

func mustBuild(t *testing.T, s string) Build {
	t.Helper()
	b, ok := ParseBuild(s)
	if !ok {
		t.Fatalf("bad build %q", s)
	}
	return b
}
