// Package exchange holds Exchange domain knowledge: build numbers, which
// update fixes which exploit chain, and when each chain was exploited.
package exchange

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Build is an Exchange build number such as 15.1.2375.7. Rev is -1 when
// only three parts are known.
type Build struct{ Major, Minor, Build, Rev int }

// ParseBuild reads "15.1.2375.7", the zero-padded "15.01.2375.007" that
// Exchange logs write, and three-part "15.1.2375".
func ParseBuild(s string) (Build, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 3 || len(parts) > 4 {
		return Build{}, false
	}
	var n [4]int
	n[3] = -1
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 1<<20 {
			return Build{}, false
		}
		n[i] = v
	}
	return Build{n[0], n[1], n[2], n[3]}, true
}

func (b Build) String() string {
	if b.Rev < 0 {
		return fmt.Sprintf("%d.%d.%d", b.Major, b.Minor, b.Build)
	}
	return fmt.Sprintf("%d.%d.%d.%d", b.Major, b.Minor, b.Build, b.Rev)
}

// Compare orders builds; a missing revision sorts first.
func (b Build) Compare(o Build) int {
	for _, d := range [4]int{b.Major - o.Major, b.Minor - o.Minor, b.Build - o.Build, b.Rev - o.Rev} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}

// SameCU reports whether two builds belong to the same cumulative update.
func (b Build) SameCU(o Build) bool {
	return b.Major == o.Major && b.Minor == o.Minor && b.Build == o.Build
}

// Chain is an exploit chain exhunt knows.
type Chain struct {
	Name string
	CVEs []string
	// Start is when exploitation in the wild began: logs that begin later
	// cannot show whether an exposed server was hit before.
	Start time.Time
	// Source cites the start date.
	Source string
}

func day(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }

// Chains are the exploit chains, oldest first.
var Chains = []Chain{
	{"proxylogon", []string{"CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065"}, day("2021-01-03"),
		"Volexity, Operation Exchange Marauder (2021-03-02): first exploitation seen 2021-01-03"},
	{"proxyshell", []string{"CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207"}, day("2021-08-05"),
		"public disclosure at Black Hat USA 2021-08-05; mass exploitation followed within days"},
	{"proxynotshell", []string{"CVE-2022-41040", "CVE-2022-41082"}, day("2022-08-01"),
		"GTSC (2022-09-28) reported exploitation from early August 2022"},
	{"owassrf", []string{"CVE-2022-41080", "CVE-2022-41082"}, day("2022-11-01"),
		"CrowdStrike (2022-12-20): OWASSRF used by Play ransomware from late November 2022"},
}

// ChainByName returns the chain with that name.
func ChainByName(name string) (Chain, bool) {
	for _, c := range Chains {
		if c.Name == name {
			return c, true
		}
	}
	return Chain{}, false
}

// Release is one row of the build table.
type Release struct {
	Product string
	Update  string
	Build   Build
	Date    time.Time
	Kind    string // cu or su
	// Fixes lists chains this build fixes in full; Partial those it fixes in
	// part, and PartialCVEs which CVEs of each such chain it fixes.
	Fixes       []string
	Partial     []string
	PartialCVEs map[string][]string
}

func (r Release) fixes(chain string) bool {
	for _, f := range r.Fixes {
		if f == chain {
			return true
		}
	}
	return false
}

func (r Release) partial(chain string) bool {
	for _, f := range r.Partial {
		if f == chain {
			return true
		}
	}
	return false
}

// Table is the build table, sorted by build.
type Table struct{ rels []Release }

// LoadTable reads the CSV with columns product,cu,build,release_date,kind,fixes.
func LoadTable(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("build table: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("build table: no rows")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"product", "cu", "build", "release_date", "kind", "fixes"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("build table: column %q missing", need)
		}
	}
	t := &Table{}
	for i, row := range rows[1:] {
		get := func(k string) string {
			if c := col[k]; c < len(row) {
				return strings.TrimSpace(row[c])
			}
			return ""
		}
		b, ok := ParseBuild(get("build"))
		if !ok {
			return nil, fmt.Errorf("build table: line %d: bad build %q", i+2, get("build"))
		}
		rel := Release{Product: get("product"), Update: get("cu"), Build: b, Kind: get("kind")}
		d := get("release_date")
		if rel.Date, err = time.Parse("2006-01-02", d); err != nil {
			rel.Date, _ = time.Parse("2006-01", d)
		}
		for _, f := range splitFixes(get("fixes")) {
			name, cves, _ := strings.Cut(f, "(")
			switch {
			case name == "":
			case strings.HasSuffix(name, "-partial"):
				chain := strings.TrimSuffix(name, "-partial")
				rel.Partial = append(rel.Partial, chain)
				if cves = strings.TrimSuffix(cves, ")"); cves != "" {
					if rel.PartialCVEs == nil {
						rel.PartialCVEs = map[string][]string{}
					}
					for _, c := range strings.Split(cves, ";") {
						rel.PartialCVEs[chain] = append(rel.PartialCVEs[chain], strings.TrimSpace(c))
					}
				}
			default:
				rel.Fixes = append(rel.Fixes, name)
			}
		}
		t.rels = append(t.rels, rel)
	}
	sort.SliceStable(t.rels, func(i, j int) bool { return t.rels[i].Build.Compare(t.rels[j].Build) < 0 })
	return t, nil
}

// splitFixes splits the fixes column at the semicolons outside
// parentheses: "proxylogon;proxyshell-partial(CVE-A;CVE-B)" is two entries.
func splitFixes(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ';':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// Releases returns the table rows in build order.
func (t *Table) Releases() []Release { return t.rels }

// Lookup returns the row for b: the exact build, or else the newest known
// row of the same CU at or below b. exact says which.
func (t *Table) Lookup(b Build) (rel Release, exact, ok bool) {
	if b.Rev < 0 {
		// three parts: the CU's own release row
		for _, r := range t.rels {
			if r.Build.SameCU(b) {
				return r, false, true
			}
		}
		return Release{}, false, false
	}
	for i := len(t.rels) - 1; i >= 0; i-- {
		r := t.rels[i]
		if !r.Build.SameCU(b) {
			continue
		}
		if r.Build.Compare(b) == 0 {
			return r, true, true
		}
		if r.Build.Compare(b) < 0 {
			return r, false, true
		}
	}
	return Release{}, false, false
}

// Status values for a chain.
const (
	StatusVulnerable  = "vulnerable"
	StatusPatched     = "patched"
	StatusPartial     = "partial"
	StatusNotAffected = "not-affected"
	StatusUnknown     = "unknown"
	// StatusCVEOnly: the build is open to one CVE of the chain that cannot
	// be reached without the others (Exchange 2010 and CVE-2021-26857).
	StatusCVEOnly = "cve-only"
)

// exchange2010Fix is the Exchange 2010 update for CVE-2021-26857: Update
// Rollup 32 for SP3 (14.3.513.0, 2021-03-02), released "for
// defense-in-depth purposes" alongside the March 2021 security updates.
const exchange2010Fix = "march2021-defense-in-depth"

// Status says whether build b is exposed to chain, with a note on how sure
// that is. A build between known updates of one CU takes the status of the
// newest update below it (updates are cumulative within a CU); a build newer
// than every known update of its CU is "unknown" unless that update already
// fixes the chain.
func (t *Table) Status(b Build, chain string) (status, note string) {
	if b.Major == 14 {
		return t.status2010(b, chain)
	}
	rel, exact, ok := t.Lookup(b)
	if !ok {
		newest := t.newest(b.Major, b.Minor)
		if newest != nil && b.Compare(newest.Build) > 0 && newest.fixes(chain) {
			return StatusPatched, "newer than " + newest.Build.String() + ", which fixes it"
		}
		return StatusUnknown, "build " + b.String() + " is not in the build table"
	}
	name := rel.Product + " " + rel.Update
	switch {
	case rel.fixes(chain):
		return StatusPatched, "fixed in " + name
	case rel.partial(chain):
		return StatusPartial, name + " fixes only part of the chain"
	case !exact && b.Rev >= 0 && t.hasLaterInCU(rel):
		return StatusVulnerable, "between known updates; " + name + " does not fix it"
	case !exact && b.Rev >= 0:
		return StatusUnknown, "newer than the known updates of " + rel.Product + " " + strings.Fields(rel.Update)[0] + "; security-update level unknown"
	case b.Rev < 0:
		if t.cuHasFix(b, chain) {
			return StatusUnknown, "security-update level unknown; an update of this CU fixes it"
		}
		return StatusVulnerable, "no update of this CU fixes it"
	}
	return StatusVulnerable, name + " does not fix it"
}

// status2010: Exchange 2010 has no HttpProxy, so no SSRF of these chains
// reaches it; only CVE-2021-26857 (Unified Messaging deserialization)
// applies, fixed by its own update rather than a chain's.
func (t *Table) status2010(b Build, chain string) (status, note string) {
	if chain != "proxylogon" {
		return StatusNotAffected, "Exchange 2010 is not affected by " + chain
	}
	for _, r := range t.rels {
		if r.Build.Major != 14 || !slices.Contains(r.Fixes, exchange2010Fix) {
			continue
		}
		fix := r.Product + " " + r.Update + " (" + r.Build.String() + ")"
		// Each 2010 rollup has its own third part, so three parts suffice.
		cu := Build{Major: b.Major, Minor: b.Minor, Build: b.Build, Rev: 0}
		if cu.Compare(Build{Major: r.Build.Major, Minor: r.Build.Minor, Build: r.Build.Build, Rev: 0}) >= 0 {
			return StatusPatched, "CVE-2021-26857, the only one of the chain that applies to Exchange 2010, is fixed in " + fix
		}
		return StatusCVEOnly, "Exchange 2010 is open to CVE-2021-26857 alone (no SSRF to chain it with) until " + fix
	}
	return StatusCVEOnly, "Exchange 2010 is open to CVE-2021-26857 alone (no SSRF to chain it with)"
}

// CVEs returns the CVEs of chain that apply to builds of b's product.
func CVEs(b Build, chain string) []string {
	c, ok := ChainByName(chain)
	if !ok {
		return nil
	}
	if b.Major == 14 {
		if chain == "proxylogon" {
			return []string{"CVE-2021-26857"}
		}
		return nil
	}
	return c.CVEs
}

// FixesCVE reports whether build b has the fix for one CVE: its release
// (or the newest below it in its CU, updates being cumulative) fixes the
// CVE's whole chain or names the CVE among the part it fixes.
func (t *Table) FixesCVE(b Build, cve string) bool {
	chain := ""
	for _, c := range Chains {
		if slices.Contains(c.CVEs, cve) {
			chain = c.Name
		}
	}
	if chain == "" {
		return false
	}
	if b.Major == 14 {
		st, _ := t.status2010(b, chain)
		return st == StatusPatched || st == StatusNotAffected
	}
	rel, _, ok := t.Lookup(b)
	if !ok {
		newest := t.newest(b.Major, b.Minor)
		return newest != nil && b.Compare(newest.Build) > 0 && newest.fixes(chain)
	}
	return rel.fixes(chain) || slices.Contains(rel.PartialCVEs[chain], cve)
}

func (t *Table) hasLaterInCU(r Release) bool {
	for _, x := range t.rels {
		if x.Build.SameCU(r.Build) && x.Build.Compare(r.Build) > 0 {
			return true
		}
	}
	return false
}

func (t *Table) cuHasFix(b Build, chain string) bool {
	for _, x := range t.rels {
		if x.Build.SameCU(b) && (x.fixes(chain) || x.partial(chain)) {
			return true
		}
	}
	return false
}

func (t *Table) newest(major, minor int) *Release {
	var n *Release
	for i := range t.rels {
		r := &t.rels[i]
		if r.Build.Major == major && r.Build.Minor == minor {
			n = r
		}
	}
	return n
}

// Exposed reports whether a status leaves the server open to the chain.
func Exposed(status string) bool {
	return status == StatusVulnerable || status == StatusPartial
}
