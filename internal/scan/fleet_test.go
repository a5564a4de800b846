package scan

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/exchange"
)

// loopback is every test's scope: nothing outside 127.0.0.0/8 is dialled.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func testData(t testing.TB) *Data {
	t.Helper()
	d, err := catalog.LoadData()
	if err != nil {
		t.Fatal(err)
	}
	return &Data{Builds: d.Builds, Shells: d.WebshellURLPaths()}
}

// testOptions are loopback-only options. The timeouts are generous: the
// decoys answer at once, but under -race on a loaded machine a handshake
// can take seconds, and a timed-out probe would change a verdict.
func testOptions() Options {
	o := DefaultOptions()
	o.Scope = loopback
	o.HostRate = 0
	o.Concurrency = 32
	o.Connect, o.TLS, o.Read = 10*time.Second, 10*time.Second, 10*time.Second
	o.Backoff = 10 * time.Millisecond
	return o
}

type fleetEntry struct {
	target *decoy.Target
	desc   decoy.Description
}

// startFleet serves one decoy per (build, state, reveal) on loopback.
func startFleet(t testing.TB, d *Data, builds []string, states, reveals []string) []fleetEntry {
	t.Helper()
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var out []fleetEntry
	n := 0
	for _, b := range builds {
		for _, st := range states {
			for _, rv := range reveals {
				n++
				p, err := decoy.NewProfile(d.Builds, b, st, rv, fmt.Sprintf("EXCH%03d", n))
				if err != nil {
					t.Fatal(err)
				}
				tg, err := srv.Listen("https", "127.0.0.1:0", p)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fleetEntry{tg, decoy.Describe(tg)})
			}
		}
	}
	srv.Serve()
	return out
}

// cuFamilies returns one build per product and CU: the CU's own row.
func cuFamilies(tb *exchange.Table) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range tb.Releases() {
		fam := r.Product + " " + strings.Fields(r.Update)[0]
		if seen[fam] || r.Kind != "cu" {
			continue
		}
		seen[fam] = true
		out = append(out, r.Build.String())
	}
	return out
}

func scanAll(t testing.TB, s *Scanner, urls []string) map[string]*Result {
	t.Helper()
	got := map[string]*Result{}
	var mu sync.Mutex
	err := s.Run(context.Background(), &Input{Args: urls, Ports: []int{443}, MaxExpand: 1 << 16}, nil, func(r *Result) error {
		mu.Lock()
		defer mu.Unlock()
		if got[r.Target] != nil {
			t.Errorf("%s reported twice", r.Target)
		}
		got[r.Target] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// expected is the truth for one decoy, from what it serves and what it
// reveals: the build the scanner can know, the table's status for it,
// and the public checks, which succeed on an exposed build unless a
// rewrite rule drops them.
func expected(tb *exchange.Table, d decoy.Description, suProbe bool) (build string, verdicts map[string]string, mitigated map[string]bool) {
	served, _ := exchange.ParseBuild(d.ServedBuild)
	exposed := func(chain string) bool {
		st, _ := tb.Status(served, chain)
		return exchange.Exposed(st)
	}
	// The ProxyShell check's redirect names the build only where the
	// SSRF itself (CVE-2021-34473) is open: the April 2021 updates closed it
	// while leaving the chain partly open.
	ssrf := exposed("proxyshell") && !tb.FixesCVE(served, "CVE-2021-34473")
	known := served
	fe := served.Major >= 15
	exact := !fe || d.Reveal == decoy.RevealAll || (fe && ssrf) || (suProbe && d.Reveal == decoy.RevealCU)
	if !exact {
		known.Rev = -1
	}
	verdicts = map[string]string{}
	for _, c := range exchange.Chains {
		st, _ := tb.Status(known, c.Name)
		verdicts[c.Name] = VerdictOf(st)
	}
	if fe && exposed("proxylogon") && d.State != decoy.StateMitigated {
		verdicts["proxylogon"] = VerdictVulnerable
	}
	if fe && ssrf {
		verdicts["proxyshell"] = VerdictVulnerable
	}
	// A rewrite rule shows only to the probe it drops, and probes are not
	// sent for chains the exact build fixes.
	mitigated = map[string]bool{}
	if fe && d.State == decoy.StateMitigated {
		fixed := func(chain string) bool {
			st, _ := tb.Status(known, chain)
			return exact && st == exchange.StatusPatched
		}
		mitigated["proxylogon"] = !fixed("proxylogon")
		eomt2 := !(fixed("proxynotshell") && fixed("owassrf"))
		mitigated["proxynotshell"], mitigated["owassrf"] = eomt2, eomt2
	}
	return known.String(), verdicts, mitigated
}

func checkFleet(t *testing.T, d *Data, fleet []fleetEntry, got map[string]*Result, suProbe bool) map[string]int {
	t.Helper()
	count := map[string]int{}
	for _, f := range fleet {
		r := got[f.desc.URL]
		if r == nil {
			t.Errorf("%s: no result", f.desc.URL)
			continue
		}
		build, want, mit := expected(d.Builds, f.desc, suProbe)
		name := fmt.Sprintf("%s %s (%s, served %s, reveal %s)", f.desc.Product, f.desc.Update, f.desc.State, f.desc.ServedBuild, f.desc.Reveal)
		if r.Status != StatusExchange || r.Exchange == nil {
			t.Errorf("%s: status %s %s", name, r.Status, r.Error)
			continue
		}
		if r.Exchange.Build != build {
			t.Errorf("%s: build %s (from %s), want %s", name, r.Exchange.Build, r.Exchange.Source, build)
		}
		if len(r.Chains) != len(exchange.Chains) {
			t.Errorf("%s: %d chain verdicts", name, len(r.Chains))
		}
		for _, c := range r.Chains {
			if c.Verdict != want[c.Chain] {
				t.Errorf("%s: %s %s (%s), want %s", name, c.Chain, c.Verdict, c.Reason, want[c.Chain])
			}
			count[c.Chain+" "+c.Verdict]++
			if wantMit := mit[c.Chain]; c.Mitigated != wantMit {
				t.Errorf("%s: %s mitigated %v, want %v", name, c.Chain, c.Mitigated, wantMit)
			}
		}
	}
	return count
}

// TestFleetVerdicts scans a decoy for every product and CU in the build
// table, in every state, revealing the full build or only the CU, and
// checks every verdict.
func TestFleetVerdicts(t *testing.T) {
	d := testData(t)
	fams := cuFamilies(d.Builds)
	if len(fams) < 50 {
		t.Fatalf("only %d CU families in the build table", len(fams))
	}
	fleet := startFleet(t, d, fams, decoy.States(), []string{decoy.RevealAll, decoy.RevealNone})
	var urls []string
	for _, f := range fleet {
		urls = append(urls, f.desc.URL)
	}
	got := scanAll(t, New(testOptions(), d), urls)
	count := checkFleet(t, d, fleet, got, false)
	// Every kind of verdict occurs, so none of the paths above is dead.
	for _, k := range []string{"proxylogon vulnerable", "proxylogon patched", "proxylogon indeterminate", "proxylogon cve-only", "proxyshell not-affected",
		"proxyshell vulnerable", "proxyshell patched", "proxyshell indeterminate", "proxynotshell vulnerable", "proxynotshell patched", "owassrf indeterminate"} {
		if count[k] == 0 {
			keys := make([]string, 0, len(count))
			for k, n := range count {
				keys = append(keys, fmt.Sprint(k, "=", n))
			}
			sort.Strings(keys)
			t.Errorf("no %q verdict in the fleet: %v", k, keys)
		}
	}
}

// TestSUProbe: with only the CU revealed, the bounded probe of the CU's
// updates finds the exact build.
func TestSUProbe(t *testing.T) {
	d := testData(t)
	fleet := startFleet(t, d, []string{"15.1.2176.2", "15.1.2044.4", "15.0.1497.2", "15.2.792.3"}, []string{decoy.StatePatched, decoy.StateMitigated}, []string{decoy.RevealCU})
	opt := testOptions()
	opt.SUProbe = 25
	var urls []string
	for _, f := range fleet {
		urls = append(urls, f.desc.URL)
	}
	got := scanAll(t, New(opt, d), urls)
	checkFleet(t, d, fleet, got, true)
	for _, f := range fleet {
		if r := got[f.desc.URL]; r != nil && r.Exchange != nil && r.Exchange.Source != "versioned-ecp" && r.Exchange.Source != "owa-error-redirect" {
			t.Errorf("%s: build from %s", f.desc.URL, r.Exchange.Source)
		}
	}
}

// TestExplicitVerdicts pins a few cases by hand, independent of the
// table-driven truth above.
func TestExplicitVerdicts(t *testing.T) {
	d := testData(t)
	fleet := startFleet(t, d, []string{"15.1.2176.2"}, decoy.States(), []string{decoy.RevealNone})
	got := scanAll(t, New(testOptions(), d), []string{fleet[0].desc.URL, fleet[1].desc.URL, fleet[2].desc.URL})
	want := []string{
		// vulnerable CU19: both checks succeed, the redirect names the build
		"15.1.2176.2 proxylogon=vulnerable proxyshell=vulnerable proxynotshell=vulnerable owassrf=vulnerable",
		// patched CU19 (May21SU) shows only its CU: no SU of CU19 fixes
		// ProxyNotShell, the rest is indeterminate
		"15.1.2176 proxylogon=indeterminate proxyshell=indeterminate proxynotshell=vulnerable owassrf=vulnerable",
		// mitigated: EOMT drops the ProxyLogon check; ProxyShell still works
		"15.1.2176.2 proxylogon=vulnerable+m proxyshell=vulnerable proxynotshell=vulnerable+m owassrf=vulnerable+m",
	}
	for i, f := range fleet {
		r := got[f.desc.URL]
		s := r.Exchange.Build
		for _, c := range r.Chains {
			s += " " + c.Chain + "=" + c.Verdict
			if c.Mitigated {
				s += "+m"
			}
		}
		if s != want[i] {
			t.Errorf("%s:\n got %s\nwant %s", f.desc.State, s, want[i])
		}
	}
}

// TestWebshellBaseline: planted shells are found; a server that answers
// 200 for every path reports none.
func TestWebshellBaseline(t *testing.T) {
	d := testData(t)
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mk := func(soft bool, shells ...decoy.Shell) string {
		p, err := decoy.NewProfile(d.Builds, "15.1.2176.2", decoy.StatePatched, decoy.RevealAll, "EXCH01")
		if err != nil {
			t.Fatal(err)
		}
		p.Soft404, p.Shells = soft, shells
		tg, err := srv.Listen("https", "127.0.0.1:0", p)
		if err != nil {
			t.Fatal(err)
		}
		return tg.URL
	}
	planted := mk(false, decoy.Shell{Path: "/owa/auth/shel.aspx", Kind: decoy.ShellChopper}, decoy.Shell{Path: "/aspnet_client/system_web/log.aspx", Kind: decoy.ShellOAB})
	soft := mk(true)
	softPlanted := mk(true, decoy.Shell{Path: "/OAB/log.aspx", Kind: decoy.ShellChopper})
	srv.Serve()
	opt := testOptions()
	opt.Webshells = true
	got := scanAll(t, New(opt, d), []string{planted, soft, softPlanted})
	paths := func(r *Result) string {
		var p []string
		for _, w := range r.Webshells {
			p = append(p, w.Path)
		}
		return strings.Join(p, " ")
	}
	if p := paths(got[planted]); p != "/aspnet_client/system_web/log.aspx /owa/auth/shel.aspx" {
		t.Errorf("planted: %q", p)
	}
	if p := paths(got[soft]); p != "" {
		t.Errorf("soft-404 server: false positives %q", p)
	}
	if p := paths(got[softPlanted]); p != "/OAB/log.aspx" {
		t.Errorf("soft-404 server with a shell: %q", p)
	}
	if !got[planted].Vulnerable() {
		t.Error("a web shell must make the result count as vulnerable")
	}
}

// TestPlainHTTPFallback: an https target that speaks plain HTTP is scanned
// over http://, and its result keeps the target as given.
func TestPlainHTTPFallback(t *testing.T) {
	d := testData(t)
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := decoy.NewProfile(d.Builds, "15.2.986.5", decoy.StateVulnerable, decoy.RevealAll, "EXCH01")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := srv.Listen("http", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	u := "https://" + strings.TrimPrefix(tg.URL, "http://")
	r := scanAll(t, New(testOptions(), d), []string{u})[u]
	if r == nil || r.Status != StatusExchange || r.Exchange.Build != "15.2.986.5" || !strings.Contains(r.Evidence[0].Said, "plain HTTP") {
		t.Fatalf("%+v", r)
	}
}
