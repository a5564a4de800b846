// Package exhunt_test checks the repository's layout: which package may
// import which, and that every package says what it owns.
package exhunt_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/exhunt/exhunt"

// allowed is every import one package of the module may make of another,
// by path below the module. Imports point one way: the table is checked to
// be free of cycles, so no two packages can come to depend on each other.
// A new package, or a new edge, is added here on purpose.
var allowed = map[string][]string{
	// The vocabulary and domain knowledge: standard library only.
	"internal/finding":  nil,
	"internal/exchange": nil,

	// Readers and engines, each on its own.
	"internal/literal":  nil,
	"internal/evtx":     nil,
	"internal/progress": {"internal/visible"},
	"internal/natstest": nil,
	"internal/visible":  nil,
	"internal/aspx":     {"internal/literal"},
	"internal/stream":   {"internal/finding"},
	"internal/logs":     {"internal/literal"},
	"internal/yara":     {"internal/literal"},
	"internal/detect":   {"internal/literal", "internal/logs"},
	"internal/evidence": {"internal/finding"},

	// Rule dialects, the event view and the file hunt.
	"internal/rule":  {"internal/detect", "internal/finding", "internal/literal", "internal/logs"},
	"internal/sigma": {"internal/detect", "internal/finding", "internal/literal", "internal/logs", "internal/winevent"},
	// The one Windows-event view, with the source table both dialects
	// resolve logsources with: it needs neither dialect.
	"internal/winevent": {"internal/detect", "internal/evtx"},
	"internal/files":    {"internal/aspx", "internal/evidence", "internal/finding", "internal/literal", "internal/yara"},
	"internal/remedy":   {"internal/exchange", "internal/finding", "internal/visible"},

	// The one loader of rules/ and the run.
	"rules":            nil,
	"internal/catalog": {"internal/detect", "internal/exchange", "internal/files", "internal/remedy", "internal/rule", "internal/sigma", "internal/winevent", "internal/yara", "rules"},
	"internal/hunt": {"internal/catalog", "internal/detect", "internal/evidence", "internal/evtx", "internal/exchange", "internal/files",
		"internal/finding", "internal/literal", "internal/logs", "internal/progress", "internal/remedy", "internal/rule", "internal/sigma", "internal/winevent"},

	// The network side.
	"internal/scan":  {"internal/exchange", "internal/finding", "internal/literal", "internal/stream"},
	"internal/queue": {"internal/finding", "internal/scan"},
	"internal/decoy": {"internal/exchange", "internal/finding", "internal/logs"},

	// Output, the fleet server and the test-evidence generator.
	"internal/report/html":  {"internal/exchange", "internal/finding", "internal/remedy", "internal/scan", "internal/stream", "internal/visible"},
	"internal/report/sarif": {"internal/catalog", "internal/exchange", "internal/finding", "internal/remedy", "internal/visible"},
	"internal/report": {"internal/catalog", "internal/exchange", "internal/finding", "internal/remedy", "internal/report/html",
		"internal/report/sarif", "internal/scan", "internal/stream", "internal/visible"},

	// The fleet server: its vocabulary, then storage, auth, ingest,
	// detectors, replay and the web front.
	"internal/fleet":          {"internal/decoy", "internal/finding", "internal/scan", "internal/stream"},
	"internal/fleet/pgtest":   nil,
	"internal/fleet/store":    {"internal/finding", "internal/fleet", "internal/scan", "internal/stream"},
	"internal/fleet/auth":     {"internal/fleet/store"},
	"internal/fleet/detect":   {"internal/fleet/store"},
	"internal/fleet/ingest":   {"internal/fleet", "internal/fleet/store", "internal/queue", "internal/stream"},
	"internal/fleet/lease":    nil,
	"internal/fleet/fleetlab": {"internal/finding", "internal/fleet"},
	"internal/fleet/notify":   {"internal/fleet/store"},
	"internal/fleet/replay":   {"internal/fleet", "internal/fleet/detect", "internal/fleet/fleetlab", "internal/fleet/store", "internal/stream"},
	"internal/fleet/web": {"internal/finding", "internal/fleet", "internal/fleet/auth", "internal/fleet/ingest", "internal/fleet/store",
		"internal/report", "internal/report/html", "internal/stream"},

	// The test-evidence generator of one server's logs and files.
	"internal/lab": {"internal/catalog", "internal/evtx", "internal/exchange", "internal/finding", "internal/logs"},

	// The command line and its thin main.
	"internal/cli": {"internal/catalog", "internal/decoy", "internal/evidence", "internal/evtx", "internal/exchange", "internal/files",
		"internal/finding", "internal/fleet", "internal/fleet/auth", "internal/fleet/detect", "internal/fleet/fleetlab", "internal/fleet/ingest",
		"internal/fleet/lease", "internal/fleet/notify", "internal/fleet/replay", "internal/fleet/store",
		"internal/fleet/web", "internal/hunt", "internal/stream", "internal/visible", "internal/lab", "internal/progress", "internal/queue", "internal/remedy",
		"internal/report", "internal/report/html", "internal/report/sarif", "internal/rule", "internal/scan", "internal/sigma"},
	"cmd/exhunt": {"internal/cli"},

	// Benchmark helpers.
	"bench/filetree":  nil,
	"bench/serveload": {"internal/decoy", "internal/finding", "internal/fleet", "internal/fleet/auth", "internal/fleet/store"},
}

// stdlibOnly packages import nothing outside the standard library.
var stdlibOnly = []string{"internal/finding", "internal/exchange", "internal/visible"}

// generators write test evidence: only the command line and tests import
// them, so they stay out of the product path.
var generators = []string{"internal/lab"}

// testOnly packages serve tests (real servers on loopback): no product
// code imports them.
var testOnly = []string{"internal/natstest", "internal/fleet/pgtest"}

// neverReach: the hunt must not depend, even through another package, on
// the scanner, the decoy, the generator or the renderers.
var neverReach = map[string][]string{
	"internal/hunt":  {"internal/scan", "internal/decoy", "internal/lab", "internal/fleet/fleetlab", "internal/report"},
	"internal/fleet": {"internal/lab"},
	"internal/scan":  {"internal/hunt", "internal/lab", "internal/fleet/fleetlab"},
}

// pkg is one directory's Go package as parsed from source: every file,
// whatever its build constraints, so Windows-only imports count too.
type pkg struct {
	dir     string
	doc     bool
	imports map[string][]string // module-relative path or standard path → files
	test    map[string][]string // the same for _test.go files
	nonTest int
}

func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(filepath.Dir(p))
		k := pkgs[rel]
		if k == nil {
			k = &pkg{dir: rel, imports: map[string][]string{}, test: map[string][]string{}}
			pkgs[rel] = k
		}
		isTest := strings.HasSuffix(name, "_test.go")
		if !isTest {
			k.nonTest++
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				k.doc = true
			}
		}
		for _, im := range f.Imports {
			ip := strings.Trim(im.Path.Value, `"`)
			if ip == module {
				ip = "."
			} else if r, ok := strings.CutPrefix(ip, module+"/"); ok {
				ip = r
			}
			if isTest {
				k.test[ip] = append(k.test[ip], name)
			} else {
				k.imports[ip] = append(k.imports[ip], name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// internalPath reports whether ip (as loadPackages records it) is a
// package of this module.
func internalPath(ip string) bool {
	_, listed := allowed[ip]
	return listed || ip == "." || strings.HasPrefix(ip, "internal/") || strings.HasPrefix(ip, "cmd/") || strings.HasPrefix(ip, "bench/")
}

// isStdlib: standard import paths have no dot in their first element.
func isStdlib(ip string) bool {
	first, _, _ := strings.Cut(ip, "/")
	return !internalPath(ip) && !strings.Contains(first, ".")
}

func TestImportRules(t *testing.T) {
	pkgs := loadPackages(t)
	if len(pkgs) < 10 || pkgs["internal/cli"] == nil {
		t.Fatalf("found %d packages: run from the repository root", len(pkgs))
	}
	for _, e := range checkImports(pkgs) {
		t.Error(e)
	}
}

// checkImports returns every broken rule, each naming the file.
func checkImports(pkgs map[string]*pkg) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		k := pkgs[d]
		if k.nonTest == 0 {
			continue // tests only, such as this one
		}
		allow, known := allowed[d]
		if !known {
			fail("%s: package not in the import table of all_test.go: add it with the imports it may make", d)
			continue
		}
		for _, ip := range sortedKeys(k.imports) {
			at := d + "/" + k.imports[ip][0]
			switch {
			case slices.Contains(stdlibOnly, d) && !isStdlib(ip):
				fail("%s imports %s: %s may import only the standard library", at, ip, d)
			case internalPath(ip) && !slices.Contains(allow, ip):
				fail("%s imports %s, which the table does not allow (allowed: %s)", at, ip, strings.Join(allow, ", "))
			}
		}
		// Test files may import the generator and anything else, but not
		// the command line of another package.
		for _, ip := range sortedKeys(k.test) {
			if ip == "internal/cli" && d != "internal/cli" {
				fail("%s/%s imports internal/cli: nothing but cmd/exhunt imports the command line", d, k.test[ip][0])
			}
		}
	}
	for _, d := range dirs {
		if k := pkgs[d]; k.imports["internal/cli"] != nil && d != "cmd/exhunt" {
			fail("%s/%s imports internal/cli: nothing but cmd/exhunt imports the command line", d, k.imports["internal/cli"][0])
		}
		for _, o := range testOnly {
			if k := pkgs[d]; k.imports[o] != nil {
				fail("%s/%s imports %s: only tests may", d, k.imports[o][0], o)
			}
		}
		for _, g := range generators {
			if k := pkgs[d]; k.imports[g] != nil && d != "internal/cli" {
				fail("%s/%s imports %s: only the command line and tests use the generators", d, k.imports[g][0], g)
			}
		}
	}
	for from, banned := range neverReach {
		for _, b := range banned {
			if chain := pathTo(pkgs, from, b); chain != nil {
				fail("%s reaches %s: %s", from, b, strings.Join(chain, " → "))
			}
		}
	}
	if c := tableCycle(); c != nil {
		fail("the import table has a cycle: %s", strings.Join(c, " → "))
	}
	return errs
}

// pathTo returns the import chain from one package to another over the
// actual imports, or nil.
func pathTo(pkgs map[string]*pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		k := pkgs[p]
		if k == nil {
			continue
		}
		for _, ip := range sortedKeys(k.imports) {
			if _, seen := prev[ip]; !seen && internalPath(ip) {
				prev[ip] = p
				queue = append(queue, ip)
			}
		}
	}
	return nil
}

// tableCycle returns a cycle in the allowed table, or nil.
func tableCycle() []string {
	const (
		open = 1
		done = 2
	)
	state := map[string]int{}
	var stack []string
	var visit func(p string) []string
	visit = func(p string) []string {
		switch state[p] {
		case open:
			i := slices.Index(stack, p)
			return append(slices.Clone(stack[i:]), p)
		case done:
			return nil
		}
		state[p] = open
		stack = append(stack, p)
		for _, q := range allowed[p] {
			if c := visit(q); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[p] = done
		return nil
	}
	for _, p := range sortedKeys(allowed) {
		if c := visit(p); c != nil {
			return c
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestPackageDocs: every package says what it owns in a doc comment.
func TestPackageDocs(t *testing.T) {
	for d, k := range loadPackages(t) {
		if k.nonTest > 0 && !k.doc {
			t.Errorf("%s: no package doc comment (// Package %s ... or // Command ... for a main package)", d, path.Base(d))
		}
	}
}

// TestImportRulesCatch feeds the checker a layout that breaks each rule, so
// the test above cannot pass by checking nothing.
func TestImportRulesCatch(t *testing.T) {
	bad := map[string]*pkg{
		"internal/finding":  {imports: map[string][]string{"github.com/x/y": {"f.go"}}, nonTest: 1},
		"internal/exchange": {imports: map[string][]string{"internal/finding": {"e.go"}}, nonTest: 1},
		"internal/hunt":     {imports: map[string][]string{"internal/catalog": {"h.go"}}, nonTest: 1},
		"internal/catalog":  {imports: map[string][]string{"internal/report": {"c.go"}}, nonTest: 1},
		"internal/report":   {imports: map[string][]string{"internal/lab": {"r.go"}}, nonTest: 1},
		"internal/scan":     {imports: map[string][]string{"internal/cli": {"s.go"}}, nonTest: 1},
		"internal/newthing": {imports: map[string][]string{}, nonTest: 1},
		"internal/decoy":    {test: map[string][]string{"internal/cli": {"d_test.go"}}, nonTest: 1},
		"internal/queue":    {imports: map[string][]string{"internal/natstest": {"q.go"}}, nonTest: 1},
	}
	for _, k := range bad {
		if k.test == nil {
			k.test = map[string][]string{}
		}
		if k.imports == nil {
			k.imports = map[string][]string{}
		}
	}
	got := strings.Join(checkImports(bad), "\n")
	for _, want := range []string{
		"internal/finding/f.go imports github.com/x/y: internal/finding may import only the standard library",
		"internal/exchange/e.go imports internal/finding: internal/exchange may import only the standard library",
		"internal/catalog/c.go imports internal/report, which the table does not allow",
		"internal/report/r.go imports internal/lab: only the command line and tests use the generators",
		"internal/scan/s.go imports internal/cli: nothing but cmd/exhunt",
		"internal/decoy/d_test.go imports internal/cli",
		"internal/newthing: package not in the import table",
		"internal/hunt reaches internal/report: internal/hunt → internal/catalog → internal/report",
		"internal/queue/q.go imports internal/natstest: only tests may",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestMain(m *testing.M) {
	// Paths above are relative to the repository root, where go test runs
	// this package.
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(os.Stderr, "all_test.go must run from the repository root")
		os.Exit(1)
	}
	os.Exit(m.Run())
}
