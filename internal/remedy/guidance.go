// Package remedy turns one server's result into its remediation plan: what
// to contain, mitigate, patch, preserve and clean, whose credentials to
// reset and whom to tell, and what to check again. The guidance is data
// (rules/remediation/*.yaml, with its sources cited), validated strictly at
// load; this package decides only which entries a server's evidence calls
// for and fills in the items (files and hashes, mailboxes, the update).
package remedy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
)

// Guidance is the loaded set of remediation entries.
type Guidance struct {
	Entries []*Entry
}

// Entry is one piece of guidance: when it applies, what to do, and the
// documents it follows.
type Entry struct {
	ID      string `yaml:"id"`
	Step    string `yaml:"step"`
	Urgency string `yaml:"urgency"`
	// Order sorts entries within a step; for file lists, the entry with
	// the lowest order among those a file's findings name gets the file.
	Order   int    `yaml:"order"`
	When    When   `yaml:"when"`
	Items   string `yaml:"items"`
	Title   string `yaml:"title"`
	Text    string `yaml:"text"`
	Warning string `yaml:"warning"`
	// Bypassable marks a mitigation known to be bypassed.
	Bypassable  bool         `yaml:"bypassable"`
	Corrections []Correction `yaml:"corrections"`
	Preserve    []string     `yaml:"preserve"`
	Sources     []Source     `yaml:"sources"`
}

// When says which servers an entry applies to; every part given must hold.
type When struct {
	// Findings are rule ids, or prefixes ending in '*' ("yara:*"); with
	// Stages, a server qualifies if one of its findings (supporting ones
	// excluded) matches either.
	Findings []string `yaml:"findings"`
	Stages   []string `yaml:"stages"`
	// Chain applies while the current build is open to the chain.
	Chain    string   `yaml:"chain"`
	Verdicts []string `yaml:"verdicts"`
	// Condition is a fact about the server; see conditions.
	Condition string `yaml:"condition"`
}

// Correction is a dated change to a published mitigation.
type Correction struct {
	Date   string `yaml:"date"`
	Change string `yaml:"change"`
}

// Source cites a document by publisher, title and date.
type Source struct {
	Publisher string `yaml:"publisher"`
	Title     string `yaml:"title"`
	Date      string `yaml:"date"`
	URL       string `yaml:"url"`
}

func (s Source) String() string {
	out := s.Publisher + ", \u201c" + s.Title + "\u201d, " + s.Date
	if s.URL != "" {
		out += ", " + s.URL
	}
	return out
}

// stepOrder is the order of steps in a plan.
var stepOrder = []string{finding.StepContain, finding.StepMitigate, finding.StepPatch, finding.StepPreserve,
	finding.StepCredentials, finding.StepPeople, finding.StepRecheck}

var urgencies = []string{"immediate", "high", "normal"}

// itemKinds are what an entry's items are filled from.
var itemKinds = []string{"", "files", "vdirs", "export-requests", "role-assignments", "mailboxes", "update", "logs"}

// conditions are facts about a server an entry may require.
var conditions = []string{
	"always",           // every server
	"inconclusive",     // the logs do not reach back to the exposure
	"build-unknown",    // no build in the logs, or one the table lacks
	"update-available", // the table has an update that closes what the build leaves open
	"mailboxes-read",   // the back end answered an attacker's request for a mailbox
}

// Load reads every dir/*.yaml of fsys. known says whether a rule id is one
// a hunt can report; unknown ids, keys, steps or chains and missing
// sources stop the load, every problem naming its file.
func Load(fsys fs.FS, dir string, known func(id string) bool) (*Guidance, error) {
	names, err := fs.Glob(fsys, dir+"/*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("remediation: no guidance in %s", dir)
	}
	g := &Guidance{}
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e, err := Parse("rules/"+name, data, known)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.Entries = append(g.Entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(g.Entries, func(i, j int) bool { return entryLess(g.Entries[i], g.Entries[j]) })
	return g, nil
}

func entryLess(a, b *Entry) bool {
	sa, sb := slices.Index(stepOrder, a.Step), slices.Index(stepOrder, b.Step)
	if sa != sb {
		return sa < sb
	}
	if a.Order != b.Order {
		return a.Order < b.Order
	}
	return a.ID < b.ID
}

// Parse decodes and validates one entry; name is the file, used for the
// id check and in every error.
func Parse(name string, data []byte, known func(id string) bool) (*Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if want := strings.TrimSuffix(path.Base(name), ".yaml"); e.ID != want {
		bad("id %q differs from the file name %q", e.ID, want)
	}
	if !slices.Contains(stepOrder, e.Step) {
		bad("step %q is not one of %v", e.Step, stepOrder)
	}
	if !slices.Contains(urgencies, e.Urgency) {
		bad("urgency %q is not one of %v", e.Urgency, urgencies)
	}
	if !slices.Contains(itemKinds, e.Items) {
		bad("items %q is not one of %v", e.Items, itemKinds[1:])
	}
	if strings.TrimSpace(e.Title) == "" || strings.TrimSpace(e.Text) == "" {
		bad("title and text are required")
	}
	w := e.When
	if len(w.Findings)+len(w.Stages)+len(w.Verdicts) == 0 && w.Chain == "" && w.Condition == "" {
		bad("when: names no finding, stage, chain, verdict or condition")
	}
	for _, id := range w.Findings {
		if !knownFinding(id, known) {
			bad("when.findings: %q is not a finding any rule reports", id)
		}
	}
	for _, s := range w.Stages {
		if !finding.Stage(s).Valid() {
			bad("when.stages: unknown stage %q", s)
		}
	}
	for _, v := range w.Verdicts {
		if !finding.Verdict(v).Valid() {
			bad("when.verdicts: unknown verdict %q", v)
		}
	}
	if w.Chain != "" {
		if _, ok := exchange.ChainByName(w.Chain); !ok {
			bad("when.chain: unknown chain %q", w.Chain)
		}
	}
	if w.Condition != "" && !slices.Contains(conditions, w.Condition) {
		bad("when.condition %q is not one of %v", w.Condition, conditions)
	}
	if e.Bypassable && strings.TrimSpace(e.Warning) == "" {
		bad("a bypassable mitigation needs a warning saying how")
	}
	for _, c := range e.Corrections {
		if _, err := time.Parse(time.DateOnly, c.Date); err != nil || c.Change == "" {
			bad("corrections: each needs a date (YYYY-MM-DD) and a change")
		}
	}
	if len(e.Sources) == 0 {
		bad("sources: at least one document is required")
	}
	for i, s := range e.Sources {
		if s.Publisher == "" || s.Title == "" {
			bad("sources[%d]: publisher and title are required", i)
		}
		if _, err := time.Parse(time.DateOnly, s.Date); err != nil {
			bad("sources[%d]: date %q is not YYYY-MM-DD", i, s.Date)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
	return &e, nil
}

// knownFinding accepts an exact rule id, or a prefix pattern ("yara:*")
// that at least one known kind of id starts with.
func knownFinding(id string, known func(string) bool) bool {
	if known == nil {
		return true
	}
	if prefix, ok := strings.CutSuffix(id, "*"); ok {
		return prefix != "" && known(prefix+"*")
	}
	return known(id)
}

// matches reports whether a rule id is named by one of the patterns, and
// whether by its exact id.
func matches(patterns []string, rule string) (ok, exact bool) {
	for _, p := range patterns {
		if p == rule {
			return true, true
		}
	}
	for _, p := range patterns {
		if prefix, glob := strings.CutSuffix(p, "*"); glob && strings.HasPrefix(rule, prefix) {
			ok = true
		}
	}
	return ok, false
}
