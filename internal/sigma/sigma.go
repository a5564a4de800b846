// Package sigma loads standard Sigma rules (https://sigmahq.io, specification
// v2) and matches them against Windows events and exhunt's log records.
//
// Detections are compiled by the engine (internal/detect) in its Sigma
// dialect, so Sigma rules and exhunt's own hunt rules share one matcher.
// What this package adds is the rest of a Sigma rule: its metadata, and its
// logsource, which winevent's source table maps to the event log channels
// and event IDs that carry it, with the field renames some sources need
// (Security 4688 names the process image NewProcessName where Sysmon says
// Image). Events are matched in winevent's view, as exhunt's rules see them.
//
// A rule that cannot be used is never dropped silently: Parse and LoadFS say
// why, and tell a broken rule from one that needs a feature exhunt lacks
// (aggregations, correlations, an unmapped logsource; errors.Is(err,
// ErrUnsupported)).
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/winevent"

	"go.yaml.in/yaml/v3"
)

// ErrUnsupported marks a well-formed rule that uses a feature exhunt does not
// implement.
var ErrUnsupported = detect.ErrUnsupported

// Rule is one Sigma detection rule, compiled. It is safe for concurrent use.
type Rule struct {
	Title          string               `yaml:"title"`
	ID             string               `yaml:"id"`
	Name           string               `yaml:"name"`
	Status         string               `yaml:"status"`
	Description    string               `yaml:"description"`
	License        string               `yaml:"license"`
	References     Strings              `yaml:"references"`
	Author         string               `yaml:"author"`
	Date           string               `yaml:"date"`
	Modified       string               `yaml:"modified"`
	Tags           Strings              `yaml:"tags"`
	Logsource      Logsource            `yaml:"logsource"`
	Detection      map[string]yaml.Node `yaml:"detection"`
	FalsePositives Strings              `yaml:"falsepositives"`
	Level          string               `yaml:"level"`
	Related        []Related            `yaml:"related"`
	Fields         Strings              `yaml:"fields"`
	// Extra holds the top-level keys the specification does not name:
	// Sigma rules carry custom fields (regression_tests_path, simulation...).
	Extra map[string]yaml.Node `yaml:",inline"`
	// Path is the file the rule was read from, when loaded by LoadFS.
	Path string `yaml:"-"`

	det     *detect.Detection
	mapping *winevent.Mapping
}

// Logsource says which events a rule is written for.
type Logsource struct {
	Product    string `yaml:"product"`
	Category   string `yaml:"category"`
	Service    string `yaml:"service"`
	Definition string `yaml:"definition"`
}

func (l Logsource) String() string {
	var parts []string
	for _, kv := range [][2]string{{"product", l.Product}, {"category", l.Category}, {"service", l.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Related names another rule and how this one relates to it.
type Related struct {
	ID   string `yaml:"id"`
	Type string `yaml:"type"`
}

// Strings is a list of strings that also accepts a single string, as some
// rules write references and false positives.
type Strings []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag != "!!null" {
			*s = Strings{n.Value}
		}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Config adapts loading to a site.
type Config struct {
	// Placeholders gives the values of the %name% placeholders of the expand
	// modifier. A rule with a placeholder that has none is skipped.
	Placeholders map[string][]string
	// Logsources replaces the built-in source table (winevent.DefaultTable)
	// when not nil.
	Logsources []winevent.Mapping
}

// LoadError says why a rule was not loaded, with what could be read of it.
type LoadError struct {
	ID, Title string
	// Line is the line of the rule file at fault, 0 when unknown.
	Line int
	Err  error
}

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// maxRuleSize bounds a rule file; the largest upstream rules are ~100 KB.
const maxRuleSize = 4 << 20

// Parse reads one Sigma rule and compiles it. The error is a *LoadError;
// errors.Is(err, ErrUnsupported) tells a rule exhunt cannot run from a
// broken one. cfg may be nil.
func Parse(data []byte, cfg *Config) (*Rule, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	r, err := parse(data, cfg)
	if err != nil {
		le := &LoadError{Err: err, Line: errLine(err)}
		if r != nil {
			le.ID, le.Title = r.ID, r.Title
		}
		return nil, le
	}
	return r, nil
}

func parse(data []byte, cfg *Config) (*Rule, error) {
	if len(data) > maxRuleSize {
		return nil, fmt.Errorf("rule is larger than %d bytes", maxRuleSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("empty file")
		}
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case err == io.EOF:
	case err != nil:
		return nil, fmt.Errorf("yaml: %w", err)
	case !isEmptyDoc(&more):
		return nil, fmt.Errorf("%w: several YAML documents in one file (rule collections)", ErrUnsupported)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("a rule must be a YAML map")
	}
	r := &Rule{}
	if err := doc.Content[0].Decode(r); err != nil {
		// Keep what identifies the rule for the report.
		var meta struct{ ID, Title string }
		_ = doc.Content[0].Decode(&meta)
		r.ID, r.Title = meta.ID, meta.Title
		return r, fmt.Errorf("yaml: %w", err)
	}
	for _, k := range []struct{ key, what string }{
		{"correlation", "correlation rule (state across events)"},
		{"filter", "filter rule (a meta rule that amends other rules)"},
		{"action", "rule collection action"},
	} {
		if _, ok := r.Extra[k.key]; ok {
			return r, fmt.Errorf("%w: %s", ErrUnsupported, k.what)
		}
	}
	if strings.TrimSpace(r.Title) == "" {
		return r, errors.New("title is missing")
	}
	if r.Logsource == (Logsource{}) {
		return r, errors.New("logsource is missing")
	}
	if len(r.Detection) == 0 {
		return r, errors.New("detection is missing")
	}
	det, err := detect.Compile(r.Detection, &detect.Env{Dialect: detect.Sigma, Placeholders: cfg.Placeholders})
	if err != nil {
		return r, err
	}
	r.det = det
	l := r.Logsource
	m := winevent.Lookup(cfg.Logsources, l.Product, l.Category, l.Service)
	if m == nil {
		return r, fmt.Errorf("%w: logsource %s is not mapped to any event source", ErrUnsupported, r.Logsource)
	}
	r.mapping = m
	return r, nil
}

// lineText finds the line YAML decoding errors name in their text.
var lineText = regexp.MustCompile(`\bline (\d+)\b`)

// errLine is the line of the rule file an error is at, or 0.
func errLine(err error) int {
	if n := detect.Line(err); n > 0 {
		return n
	}
	if m := lineText.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func isEmptyDoc(n *yaml.Node) bool {
	return len(n.Content) == 0 || (len(n.Content) == 1 && n.Content[0].Tag == "!!null")
}

// EventSources lists the event log channels (and event IDs) the rule reads.
func (r *Rule) EventSources() []winevent.Source { return r.mapping.Events }

// LogKinds lists the exhunt log kinds (such as "iis") the rule reads.
func (r *Rule) LogKinds() []string { return r.mapping.Logs }

// Applies reports whether events of this channel and ID are of the rule's
// logsource. Channel names compare case-insensitively.
func (r *Rule) Applies(channel string, eventID int) bool {
	return r.mapping.Source(channel, eventID) != nil
}

// AppliesToLog reports whether the rule reads records of an exhunt log kind.
func (r *Rule) AppliesToLog(kind string) bool {
	for _, k := range r.mapping.Logs {
		if strings.EqualFold(k, kind) {
			return true
		}
	}
	return false
}

// Match reports whether a Windows event is of the rule's logsource and
// satisfies its detection, reading the event under its source's field
// names (winevent's one view of an event).
func (r *Rule) Match(ev *winevent.Event) bool {
	if ev.ID() < 0 {
		return false
	}
	src := r.mapping.Source(ev.Channel(), ev.ID())
	if src == nil {
		return false
	}
	return r.det.Match(ev.Under(src, nil))
}

// Compiled is the rule's compiled detection section.
func (r *Rule) Compiled() *detect.Detection { return r.det }

// Literals is the rule's prefilter: an event none of whose values holds
// one of them (ignoring case) cannot match. False when there is none.
func (r *Rule) Literals() ([]string, bool) { return r.det.Literals() }

// MatchLog reports whether a record of an exhunt log kind (e.g. an IIS line)
// is of the rule's logsource and satisfies its detection.
func (r *Rule) MatchLog(kind string, rec detect.Record) bool {
	return r.AppliesToLog(kind) && r.det.Match(rec)
}
