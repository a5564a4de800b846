package rule

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"exhunt/internal/finding"

	"go.yaml.in/yaml/v3"
)

// Record is one log record as a rule sees it.
type Record interface {
	// Field returns a field's value by name (ASCII case-insensitive) and
	// whether the record has that field at all.
	Field(name string) (string, bool)
	// Raw is the whole record as read, for keyword searches.
	Raw() string
}

// Env is what rules may refer to besides the record: named value lists
// (known attacker addresses, web-shell paths), matched with the list modifier.
type Env struct {
	Lists map[string][]string
}

// Compiled is a rule ready to evaluate. It is safe for concurrent use.
type Compiled struct {
	Rule      *Rule
	names     []string
	sels      []selection
	cond      expr
	outcomes  []compiledOutcome
	extract   []compiledExtract
	logsource []string
}

type compiledOutcome struct {
	Outcome
	cond expr
}

type compiledExtract struct {
	name, field string
	re          *regexp.Regexp
}

// selection is an OR of AND-groups of field conditions, or keywords.
type selection struct {
	groups   [][]fieldCond
	keywords []valueMatcher
}

type fieldCond struct {
	field  string
	all    bool
	values []valueMatcher
	// exists: 1 field must exist (non-empty), -1 must not, 0 not asked.
	exists int
}

// Compile checks the detection and builds the evaluator.
func (r *Rule) Compile(env *Env) (*Compiled, error) {
	c := &Compiled{Rule: r, logsource: r.Logsource}
	condNode, ok := r.Detection["condition"]
	if !ok {
		return nil, errors.New("detection: condition is missing")
	}
	var condStr string
	if err := condNode.Decode(&condStr); err != nil {
		return nil, fmt.Errorf("detection: condition must be one string (lists of conditions are not supported)")
	}
	for name := range r.Detection {
		if name != "condition" {
			c.names = append(c.names, name)
		}
	}
	sort.Strings(c.names)
	for _, name := range c.names {
		if !validSelectionName(name) {
			return nil, fmt.Errorf("detection: selection name %q cannot be used in a condition", name)
		}
		node := r.Detection[name]
		s, err := compileSelection(&node, env)
		if err != nil {
			return nil, fmt.Errorf("detection: %s: %w", name, err)
		}
		c.sels = append(c.sels, s)
	}
	var err error
	if c.cond, err = parseCondition(condStr, c.names); err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	for i, o := range r.Outcomes {
		e, err := parseCondition(o.When, c.names)
		if err != nil {
			return nil, fmt.Errorf("outcome %d: %w", i+1, err)
		}
		c.outcomes = append(c.outcomes, compiledOutcome{Outcome: o, cond: e})
	}
	for _, e := range r.Extract {
		re, err := regexp.Compile(e.Regex)
		if err != nil {
			return nil, fmt.Errorf("extract %s: %w", e.Name, err)
		}
		c.extract = append(c.extract, compiledExtract{name: e.Name, field: e.Field, re: re})
	}
	return c, nil
}

// maxSelectionValues bounds the size of one selection (lists excluded).
const maxSelectionValues = 10000

func compileSelection(n *yaml.Node, env *Env) (selection, error) {
	var s selection
	switch n.Kind {
	case yaml.MappingNode:
		g, err := compileGroup(n, env)
		if err != nil {
			return s, err
		}
		s.groups = [][]fieldCond{g}
	case yaml.SequenceNode:
		if len(n.Content) > maxSelectionValues {
			return s, fmt.Errorf("more than %d entries", maxSelectionValues)
		}
		for _, item := range n.Content {
			switch item.Kind {
			case yaml.MappingNode:
				g, err := compileGroup(item, env)
				if err != nil {
					return s, err
				}
				s.groups = append(s.groups, g)
			case yaml.ScalarNode:
				m, err := newValueMatcher(item.Value, []string{"contains"}, env)
				if err != nil {
					return s, err
				}
				s.keywords = append(s.keywords, m)
			default:
				return s, fmt.Errorf("line %d: list entries must be maps or strings", item.Line)
			}
		}
		if len(s.groups) > 0 && len(s.keywords) > 0 {
			return s, errors.New("mixes field maps and keywords in one list")
		}
	case yaml.ScalarNode:
		m, err := newValueMatcher(n.Value, []string{"contains"}, env)
		if err != nil {
			return s, err
		}
		s.keywords = []valueMatcher{m}
	default:
		return s, fmt.Errorf("line %d: want a map or a list", n.Line)
	}
	return s, nil
}

func compileGroup(n *yaml.Node, env *Env) ([]fieldCond, error) {
	var g []fieldCond
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		parts := strings.Split(key.Value, "|")
		fc := fieldCond{field: strings.ToLower(parts[0])}
		mods := parts[1:]
		if fc.field == "" {
			return nil, fmt.Errorf("line %d: empty field name", key.Line)
		}
		if slices.Contains(mods, "all") {
			fc.all = true
		}
		var raw []*yaml.Node
		switch val.Kind {
		case yaml.ScalarNode:
			raw = []*yaml.Node{val}
		case yaml.SequenceNode:
			raw = val.Content
			if len(raw) > maxSelectionValues {
				return nil, fmt.Errorf("line %d: more than %d values", val.Line, maxSelectionValues)
			}
		default:
			return nil, fmt.Errorf("line %d: %s: value must be a scalar or a list", val.Line, key.Value)
		}
		if slices.Contains(mods, "exists") {
			if len(raw) != 1 || raw[0].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: exists takes true or false", val.Line)
			}
			b, err := strconv.ParseBool(raw[0].Value)
			if err != nil {
				return nil, fmt.Errorf("line %d: exists takes true or false", val.Line)
			}
			fc.exists = -1
			if b {
				fc.exists = 1
			}
			g = append(g, fc)
			continue
		}
		for _, v := range raw {
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: nested values are not supported", v.Line)
			}
			if v.Tag == "!!null" {
				// null: the field is absent or empty.
				fc.values = append(fc.values, emptyMatcher{})
				continue
			}
			m, err := newValueMatcher(v.Value, mods, env)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", v.Line, key.Value, err)
			}
			fc.values = append(fc.values, m)
		}
		g = append(g, fc)
	}
	return g, nil
}

// evaluator memoises selection results for one record, since outcomes test
// the same selections as the condition.
type evaluator struct {
	c    *Compiled
	rec  Record
	memo [64]int8
}

func (ev *evaluator) sel(i int) bool {
	if i >= len(ev.memo) {
		return ev.c.sels[i].match(ev.rec)
	}
	if ev.memo[i] == 0 {
		ev.memo[i] = -1
		if ev.c.sels[i].match(ev.rec) {
			ev.memo[i] = 1
		}
	}
	return ev.memo[i] > 0
}

// Match reports whether the record satisfies the rule's condition.
func (c *Compiled) Match(rec Record) bool {
	ev := evaluator{c: c, rec: rec}
	return c.cond.eval(&ev)
}

// Classify returns the stage, severity and outcome label for a matching
// record: the first outcome whose condition holds, else the rule's own.
func (c *Compiled) Classify(rec Record) (finding.Stage, finding.Severity, string) {
	ev := evaluator{c: c, rec: rec}
	for _, o := range c.outcomes {
		if o.cond.eval(&ev) {
			sev := o.Severity
			if sev == "" {
				sev = c.Rule.Severity
			}
			return o.Stage, sev, o.Label
		}
	}
	return c.Rule.Stage, c.Rule.Severity, ""
}

// Extracted returns the named value lifted from the record, or "".
func (c *Compiled) Extracted(rec Record, name string) string {
	for _, e := range c.extract {
		if e.name != name {
			continue
		}
		v, _ := rec.Field(e.field)
		if m := e.re.FindStringSubmatch(v); len(m) > 1 && m[1] != "" {
			return m[1]
		}
	}
	return ""
}

// Logsource lists the log kinds the rule reads.
func (c *Compiled) Logsource() []string { return c.logsource }

func (s *selection) match(rec Record) bool {
	if len(s.keywords) > 0 {
		raw := rec.Raw()
		for _, k := range s.keywords {
			if k.match(raw) {
				return true
			}
		}
		return false
	}
	for _, g := range s.groups {
		if matchGroup(g, rec) {
			return true
		}
	}
	return false
}

func matchGroup(g []fieldCond, rec Record) bool {
	for i := range g {
		if !g[i].match(rec) {
			return false
		}
	}
	return true
}

func (fc *fieldCond) match(rec Record) bool {
	v, ok := rec.Field(fc.field)
	if fc.exists != 0 {
		return (ok && v != "") == (fc.exists > 0)
	}
	if !ok {
		// A missing field matches only null.
		for _, m := range fc.values {
			if _, isEmpty := m.(emptyMatcher); isEmpty {
				return true
			}
		}
		return false
	}
	if fc.all {
		for _, m := range fc.values {
			if !m.match(v) {
				return false
			}
		}
		return len(fc.values) > 0
	}
	for _, m := range fc.values {
		if m.match(v) {
			return true
		}
	}
	return false
}

// valueMatcher tests one field value.
type valueMatcher interface{ match(v string) bool }

type emptyMatcher struct{}

func (emptyMatcher) match(v string) bool { return v == "" }

type reMatcher struct{ re *regexp.Regexp }

func (m reMatcher) match(v string) bool { return m.re.MatchString(v) }

type listMatcher struct{ set map[string]struct{} }

func (m listMatcher) match(v string) bool {
	_, ok := m.set[strings.ToLower(v)]
	return ok
}

type cidrMatcher struct{ p netip.Prefix }

func (m cidrMatcher) match(v string) bool {
	a, err := netip.ParseAddr(v)
	return err == nil && m.p.Contains(a.Unmap())
}

type numMatcher struct {
	op string
	n  float64
}

func (m numMatcher) match(v string) bool {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return false
	}
	switch m.op {
	case "gt":
		return f > m.n
	case "gte":
		return f >= m.n
	case "lt":
		return f < m.n
	}
	return f <= m.n
}

var knownModifiers = []string{"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cased", "exists", "cidr", "gt", "gte", "lt", "lte", "list"}

func newValueMatcher(v string, mods []string, env *Env) (valueMatcher, error) {
	for _, m := range mods {
		if !slices.Contains(knownModifiers, m) {
			return nil, fmt.Errorf("modifier %q is not supported", m)
		}
	}
	has := func(m string) bool { return slices.Contains(mods, m) }
	switch {
	case has("re"):
		flags := ""
		for _, f := range []string{"i", "m", "s"} {
			if has(f) {
				flags += f
			}
		}
		expr := v
		if flags != "" {
			expr = "(?" + flags + ")" + v
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("re: %w", err)
		}
		return reMatcher{re}, nil
	case has("list"):
		if env == nil || env.Lists[v] == nil {
			return nil, fmt.Errorf("list %q is not defined", v)
		}
		set := make(map[string]struct{}, len(env.Lists[v]))
		for _, s := range env.Lists[v] {
			set[strings.ToLower(s)] = struct{}{}
		}
		return listMatcher{set}, nil
	case has("cidr"):
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("cidr: %w", err)
		}
		return cidrMatcher{p.Masked()}, nil
	}
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		if has(op) {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", op, v)
			}
			return numMatcher{op, n}, nil
		}
	}
	// Sigma expresses contains/startswith/endswith as wildcards around the
	// value, so one glob matcher serves all of them.
	g := v
	switch {
	case has("contains"):
		g = "*" + v + "*"
	case has("startswith"):
		g = v + "*"
	case has("endswith"):
		g = "*" + v
	}
	return newGlob(g, has("cased")), nil
}
