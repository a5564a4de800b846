package rules_test

// Every built-in rule is checked against log fixtures in
// hunt/testdata/<rule-id>/:
//
//	hit[-tag].<kind>.log   realistic lines of kind <kind>, some of which the
//	                       rule must find
//	hit[-tag].<kind>.want  the findings expected from that fixture, one per
//	                       line: "<line> <stage> [outcome label]", where line
//	                       is the physical 1-based line in the fixture
//	                       (headers count); '#' starts a comment
//	miss[-tag].<kind>.log  realistic look-alikes the rule must not find
//
// For Windows event kinds (event-*), a fixture holds one event per line as
// JSON (see eventLine); the test writes them to an .evtx file, reads it
// back as the hunter does, and the line number is the record id.
//
// Each fixture is read the way the hunter reads a file: a logs.Scanner with
// the catalog's prefilter for the kind, so a prefilter that hides a hit fails
// here. It is also read with every line handed to the rule, so a fixture
// line the prefilter happens to hide still checks the rule's condition.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/winevent"
)

const testdataDir = "hunt/testdata"

// fixtureName is role, optional tag, kind.
var fixtureName = regexp.MustCompile(`^(hit|miss)(-[a-z0-9]+)?\.([a-z][a-z-]*)\.(log|want)$`)

type fixture struct {
	name string // file name without directory
	role string // "hit" or "miss"
	kind string
	path string
	want string // path of the .want file, hit fixtures only
}

// result is one finding of the rule under test.
type result struct {
	line  int64
	stage finding.Stage
	label string
}

// wantLine is one line of a .want file.
type wantLine struct {
	line  int64
	stage finding.Stage
	label string // empty: not checked
}

func TestRuleFixtures(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatalf("catalog.Load: %v", err)
	}
	if len(cat.Rules) == 0 {
		t.Fatal("catalog.Load returned no rules")
	}
	ids := map[string]bool{}
	for _, cr := range cat.Rules {
		ids[cr.Rule.ID] = true
	}
	entries, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() && !ids[e.Name()] {
			t.Errorf("%s/%s: no rule has this id (renamed or removed rule?)", testdataDir, e.Name())
		}
	}
	h := &harness{cat: cat, scanners: map[logs.Format]*logs.Scanner{}}
	for _, cr := range cat.Rules {
		t.Run(cr.Rule.ID, func(t *testing.T) { h.testRule(t, cr) })
	}
}

type harness struct {
	cat      *catalog.Catalog
	scanners map[logs.Format]*logs.Scanner
}

func (h *harness) testRule(t *testing.T, cr *rule.Compiled) {
	r := cr.Rule
	dir := filepath.Join(testdataDir, r.ID)
	fixtures, err := listFixtures(dir)
	if err != nil {
		t.Fatalf("rule %s has no usable fixtures: %v (want %s/hit.<kind>.log, hit.<kind>.want and miss.<kind>.log)", r.ID, err, dir)
	}
	hitKinds := map[string]bool{}
	var hits, misses int
	for _, f := range fixtures {
		if f.role == "hit" {
			hits++
			hitKinds[f.kind] = true
		} else {
			misses++
		}
	}
	if hits == 0 {
		t.Errorf("rule %s has no hit fixture in %s", r.ID, dir)
	}
	if misses == 0 {
		t.Errorf("rule %s has no miss fixture in %s", r.ID, dir)
	}
	for _, k := range r.Logsource {
		if !hitKinds[k] {
			t.Errorf("rule %s reads %s but has no hit fixture of that kind (hit.%s.log)", r.ID, k, k)
		}
	}
	// labels of the outcomes seen across all hit fixtures
	seen := map[string]bool{}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			for _, res := range h.testFixture(t, cr, f) {
				seen[res.label] = true
			}
		})
	}
	for i, o := range r.Outcomes {
		if hits > 0 && !seen[o.Label] {
			t.Errorf("rule %s: no hit fixture line reaches outcome %d (%q)", r.ID, i+1, o.Label)
		}
	}
}

// listFixtures reads a rule's fixture folder.
func listFixtures(dir string) ([]fixture, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []fixture
	wants := map[string]bool{} // .want files not yet paired with a .log
	var errs []string
	for _, e := range entries {
		m := fixtureName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			errs = append(errs, fmt.Sprintf("%s: not a fixture name (want hit[-tag].<kind>.log, .want, or miss[-tag].<kind>.log)", e.Name()))
			continue
		}
		if m[4] == "want" {
			if m[1] != "hit" {
				errs = append(errs, fmt.Sprintf("%s: only hit fixtures have a .want file", e.Name()))
			}
			wants[e.Name()] = true
			continue
		}
		f := fixture{name: e.Name(), role: m[1], kind: m[3], path: filepath.Join(dir, e.Name())}
		if f.role == "hit" {
			f.want = filepath.Join(dir, strings.TrimSuffix(e.Name(), ".log")+".want")
		}
		out = append(out, f)
	}
	for _, f := range out {
		delete(wants, filepath.Base(f.want))
	}
	for w := range wants {
		errs = append(errs, fmt.Sprintf("%s: no matching .log fixture", w))
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no fixtures", dir)
	}
	return out, nil
}

// testFixture checks one fixture and returns the findings read with the
// production prefilter.
func (h *harness) testFixture(t *testing.T, cr *rule.Compiled, f fixture) []result {
	r := cr.Rule
	if !slices.Contains(r.Logsource, f.kind) {
		t.Fatalf("%s: kind %q is not one the rule reads (%v)", f.name, f.kind, r.Logsource)
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	lines := physicalLines(data)
	// got: as the hunter reads it; full: every record handed to the rule.
	// Event fixtures have no prefilter pass: the scan checks instead that a
	// matching event holds one of the rule's derived literals.
	var got, full []result
	events := winevent.IsKind(f.kind)
	if events {
		got = scanEvents(t, f, data, cr)
		full = got
	} else {
		format, ok := logs.FormatFor(f.kind)
		if !ok {
			t.Fatalf("%s: no log format for kind %q", f.name, f.kind)
		}
		// the prefilter of every rule reading the kind
		lits, all := h.cat.Prefilter(f.kind)
		got = h.scan(t, f, format, data, logs.NewPrefilter(lits), all, cr, false)
		// with a check that each data line is a well-formed record (a
		// short row would silently read as empty fields)
		full = h.scan(t, f, format, data, nil, true, cr, true)
	}

	switch f.role {
	case "miss":
		for _, res := range got {
			t.Errorf("%s:%d: rule %s fired (%s %q) on a record it must not find:\n\t%s", f.name, res.line, r.ID, res.stage, res.label, lineAt(lines, res.line))
		}
		if len(got) == 0 {
			for _, res := range full {
				t.Errorf("%s:%d: rule %s matches this line when the prefilter lets it through (%s %q):\n\t%s", f.name, res.line, r.ID, res.stage, res.label, lineAt(lines, res.line))
			}
		}
	case "hit":
		want := readWant(t, f, lines)
		if len(want) == 0 {
			t.Errorf("%s: the .want file lists no findings", f.name)
		}
		compare(t, f, lines, want, got, "")
		if !events {
			compare(t, f, lines, want, full, " (every line handed to the rule, no prefilter)")
			checkPrefilterLiterals(t, h.cat, r, f, lines, want)
		}
	}
	return got
}

// scan reads a fixture and evaluates only the rule under test, as
// internal/hunt does for every rule of a kind.
func (h *harness) scan(t *testing.T, f fixture, format logs.Format, data []byte, pf *logs.Prefilter, all bool, cr *rule.Compiled, strict bool) []result {
	t.Helper()
	sc := h.scanners[format]
	if sc == nil {
		sc = &logs.Scanner{Format: format}
		h.scanners[format] = sc
	}
	sc.Prefilter, sc.All = pf, all
	var out []result
	st, err := sc.Scan(context.Background(), bytes.NewReader(data), func(rec *logs.Record) error {
		if strict && format != logs.Text {
			if rec.Schema == nil {
				t.Errorf("%s:%d: record without a header", f.name, rec.Line)
			} else if len(rec.Values) != len(rec.Schema.Names) {
				t.Errorf("%s:%d: %d fields where the header names %d", f.name, rec.Line, len(rec.Values), len(rec.Schema.Names))
			}
		}
		if !cr.Match(rec) {
			return nil
		}
		stage, _, label := cr.Classify(rec)
		out = append(out, result{line: rec.Line, stage: stage, label: label})
		return nil
	})
	if err != nil {
		t.Fatalf("%s: scan: %v", f.name, err)
	}
	if strict {
		for _, g := range st.Gaps {
			t.Errorf("%s:%d: scanner could not read the line: %s", f.name, g.Line, g.Reason)
		}
		if st.Records == 0 {
			t.Errorf("%s: no records read", f.name)
		}
	}
	return out
}

var stageNames = []finding.Stage{
	finding.StageReconnaissance, finding.StageAttempt, finding.StageExploitation,
	finding.StagePersistence, finding.StageCollection, finding.StageExecution,
}

func readWant(t *testing.T, f fixture, lines []string) []wantLine {
	t.Helper()
	data, err := os.ReadFile(f.want)
	if err != nil {
		t.Fatalf("%s: every hit fixture needs a .want file: %v", f.name, err)
	}
	var out []wantLine
	seen := map[int64]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		fields := strings.Fields(s)
		var w wantLine
		if len(fields) < 2 {
			t.Errorf("%s:%d: want \"<line> <stage> [outcome label]\", got %q", filepath.Base(f.want), n, s)
			continue
		}
		line, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || line < 1 || line > int64(len(lines)) {
			t.Errorf("%s:%d: %q is not a line of %s (1..%d)", filepath.Base(f.want), n, fields[0], f.name, len(lines))
			continue
		}
		w.line = line
		w.stage = finding.Stage(fields[1])
		if !w.stage.Valid() {
			t.Errorf("%s:%d: unknown stage %q (want one of %v)", filepath.Base(f.want), n, fields[1], stageNames)
			continue
		}
		// the label is the rest of the line, spaces kept
		rest := strings.TrimSpace(s[len(fields[0]):])
		w.label = strings.TrimSpace(rest[len(fields[1]):])
		if prev, dup := seen[line]; dup {
			t.Errorf("%s:%d: line %d already listed on line %d", filepath.Base(f.want), n, line, prev)
			continue
		}
		seen[line] = n
		if l := lineAt(lines, line); l == "" || strings.HasPrefix(l, "#") {
			t.Errorf("%s:%d: line %d of %s is not a log record: %q", filepath.Base(f.want), n, line, f.name, l)
		}
		out = append(out, w)
	}
	return out
}

// compare checks the findings against the .want file: the same lines with
// the same stages, and the same outcome label where the .want names one.
func compare(t *testing.T, f fixture, lines []string, want []wantLine, got []result, how string) {
	t.Helper()
	gotAt := map[int64]result{}
	for _, g := range got {
		gotAt[g.line] = g
	}
	wantAt := map[int64]wantLine{}
	for _, w := range want {
		wantAt[w.line] = w
		g, ok := gotAt[w.line]
		switch {
		case !ok:
			t.Errorf("%s:%d: missing finding %s %q%s:\n\t%s", f.name, w.line, w.stage, w.label, how, lineAt(lines, w.line))
		case g.stage != w.stage:
			t.Errorf("%s:%d: stage %s (outcome %q), want %s%s:\n\t%s", f.name, w.line, g.stage, g.label, w.stage, how, lineAt(lines, w.line))
		case w.label != "" && g.label != w.label:
			t.Errorf("%s:%d: outcome %q, want %q%s:\n\t%s", f.name, w.line, g.label, w.label, how, lineAt(lines, w.line))
		}
	}
	for _, g := range got {
		if _, ok := wantAt[g.line]; !ok {
			t.Errorf("%s:%d: unexpected finding %s %q%s:\n\t%s", f.name, g.line, g.stage, g.label, how, lineAt(lines, g.line))
		}
	}
}

// checkPrefilterLiterals asserts that every expected hit line holds one of the
// rule's prefilter literals: otherwise the hunter would never parse it.
func checkPrefilterLiterals(t *testing.T, cat *catalog.Catalog, r *rule.Rule, f fixture, lines []string, want []wantLine) {
	t.Helper()
	lits := append([]string(nil), r.Prefilter...)
	for _, name := range r.PrefilterLists {
		lits = append(lits, cat.Env.Lists[name]...)
	}
	if len(lits) == 0 {
		return // the rule reads every line of its kinds
	}
	for i := range lits {
		lits[i] = strings.ToLower(lits[i])
	}
	for _, w := range want {
		l := strings.ToLower(lineAt(lines, w.line))
		if !slices.ContainsFunc(lits, func(lit string) bool { return lit != "" && strings.Contains(l, lit) }) {
			t.Errorf("%s:%d: expected hit holds none of the rule's prefilter literals, so the hunter would skip it:\n\t%s", f.name, w.line, lineAt(lines, w.line))
		}
	}
}

// physicalLines splits a fixture as the scanner counts lines.
func physicalLines(data []byte) []string {
	s := strings.TrimSuffix(string(data), "\n")
	out := strings.Split(s, "\n")
	for i := range out {
		out[i] = strings.TrimSuffix(out[i], "\r")
	}
	return out
}

func lineAt(lines []string, n int64) string {
	if n < 1 || n > int64(len(lines)) {
		return ""
	}
	return lines[n-1]
}

// eventLine is one event of an event fixture. Data is a list of
// [name, value] pairs, in order; an empty name writes an unnamed <Data>
// as classic providers (MSExchange CmdletLogs, Application Error) do.
type eventLine struct {
	Time       time.Time  `json:"time"`
	Provider   string     `json:"provider"`
	GUID       string     `json:"guid"`
	Channel    string     `json:"channel"`
	ID         uint16     `json:"id"`
	Qualifiers *uint16    `json:"qualifiers"`
	Level      uint8      `json:"level"`
	Computer   string     `json:"computer"`
	User       string     `json:"user"`
	Data       [][]string `json:"data"`
	UserData   *struct {
		Name   string     `json:"name"`
		NS     string     `json:"ns"`
		Fields [][]string `json:"fields"`
	} `json:"userdata"`
}

func pairs(t *testing.T, where string, in [][]string) []evtx.Data {
	var out []evtx.Data
	for _, p := range in {
		if len(p) != 2 {
			t.Fatalf("%s: data entry %q: want [name, value]", where, p)
		}
		out = append(out, evtx.Data{Name: p[0], Value: p[1]})
	}
	return out
}

// scanEvents writes an event fixture as EVTX, reads it back and returns
// the rule's findings (line = record id = fixture line).
func scanEvents(t *testing.T, f fixture, data []byte, cr *rule.Compiled) []result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.evtx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := evtx.NewWriter(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range physicalLines(data) {
		where := fmt.Sprintf("%s:%d", f.name, i+1)
		var el eventLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&el); err != nil {
			t.Fatalf("%s: %v (every line is one event as JSON)", where, err)
		}
		ev := &evtx.WEvent{
			Provider: el.Provider, ProviderGUID: evtx.GUID(el.GUID), Channel: el.Channel,
			EventID: el.ID, Level: el.Level, Time: el.Time, Computer: el.Computer,
			UserID: evtx.SID(el.User), Data: pairs(t, where, el.Data),
		}
		if el.Qualifiers != nil {
			ev.HasQualifiers, ev.Qualifiers = true, *el.Qualifiers
		}
		if el.UserData != nil {
			ev.UserData = &evtx.UserData{Name: el.UserData.Name, NS: el.UserData.NS, Fields: pairs(t, where, el.UserData.Fields)}
		}
		if err := w.Write(ev); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := evtx.Open(bytes.NewReader(raw), int64(len(raw)), evtx.Options{Name: f.name})
	if err != nil {
		t.Fatal(err)
	}
	var res []result
	st, err := rd.Events(context.Background(), 1, func(e *evtx.Event) error {
		we := winevent.New(e)
		v := we.As(f.kind)
		if v == nil {
			t.Errorf("%s:%d: channel %q event %d is not of kind %s", f.name, e.RecordID, we.Channel(), we.ID(), f.kind)
			return nil
		}
		if cr.Match(v) {
			stage, _, label := cr.Classify(v)
			res = append(res, result{line: int64(e.RecordID), stage: stage, label: label})
			// the hunter skips events that hold none of the rule's literals
			if lits, ok := cr.Literals(); ok {
				text := strings.ToLower(v.Raw())
				if !slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(text, l) }) {
					t.Errorf("%s:%d: matches, but holds none of the rule's literals %q, so the hunter would skip it", f.name, e.RecordID, lits)
				}
			}
		}
		return nil
	})
	if err != nil || len(st.Corrupt) > 0 {
		t.Fatalf("%s: read back: %v %v", f.name, err, st.Corrupt)
	}
	return res
}
