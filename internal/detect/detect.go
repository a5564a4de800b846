// Package detect is exhunt's detection engine: named selections of field
// conditions with modifiers, combined by a condition expression, matched
// against one record. It serves both rule dialects: exhunt's own rules
// (internal/rule) and Sigma rules (internal/sigma) compile their detection
// sections here and differ only in the Dialect they ask for.
//
// A compiled Detection also says which literals every record it matches
// must hold (Literals), so callers can skip records with a multi-literal
// prefilter, and it evaluates conditions cheapest operand first.
package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Record is one record (a log line, an event) as a detection sees it.
type Record interface {
	// Field returns a field's value by name (ASCII case-insensitive) and
	// whether the record has that field at all.
	Field(name string) (string, bool)
	// Raw is the whole record as read, for keyword searches.
	Raw() string
}

// Dialect selects the rule language a detection is written in.
type Dialect uint8

const (
	// Exhunt is the dialect of exhunt's own rules (docs/rules.md).
	Exhunt Dialect = iota
	// Sigma follows the Sigma specification v2.
	Sigma
)

// Env is what a detection may refer to besides the record.
type Env struct {
	Dialect Dialect
	// Lists are named value lists (known attacker addresses, web-shell
	// paths), matched with exhunt's list modifier.
	Lists map[string][]string
	// Placeholders gives the values of the %name% placeholders that Sigma's
	// expand modifier refers to.
	Placeholders map[string][]string
}

// ErrUnsupported marks a detection that is well formed but uses a feature the
// engine does not implement (aggregations, time modifiers, a placeholder
// without values...), as opposed to a broken one.
var ErrUnsupported = errors.New("unsupported")

// Detection is a compiled detection section: named selections and the
// condition over them. It is safe for concurrent use.
type Detection struct {
	names []string // sorted; index = selection id
	sels  []selection
	cond  expr
	sigma bool
}

// selection is an OR of AND-groups of field conditions.
type selection struct {
	groups [][]fieldCond
}

type fieldCond struct {
	// field is lower case; "" makes a keyword condition, which searches the
	// whole record instead of one field.
	field  string
	all    bool
	values []valueMatcher
	// exists: 1 field must exist (non-empty), -1 must not, 0 not asked.
	exists int
	// presence makes exists test only that the field is there, empty or not
	// (Sigma's definition).
	presence bool
	// negate inverts the result (Sigma's neq).
	negate bool
	// refs: some values compare with other fields of the record (fieldref).
	refs bool
	// lower: every value can test a lower-cased value (see LowerRecord)
	lower bool
	// an evaluation costs at most stepsFixed plus stepsPerByte per byte
	// tested (see Meter)
	stepsFixed, stepsPerByte int64
}

// Compile compiles a detection section: named selections plus the
// "condition" key. Errors name the selection at fault; a well-formed
// detection that uses a feature the engine lacks wraps ErrUnsupported.
//
// In the Sigma dialect, detections follow the Sigma specification v2: every
// Sigma modifier but the time ones, exists testing presence only, a list of
// conditions meaning any of them, "|all"-style keyword maps, and keyword
// searches over each field value when the record is a Valuer. Otherwise the
// dialect is exhunt's (docs/rules.md).
func Compile(detection map[string]yaml.Node, env *Env) (*Detection, error) {
	c := &compiler{env: env, sigma: env != nil && env.Dialect == Sigma, left: maxDetectionValues}
	condNode, ok := detection["condition"]
	if !ok {
		return nil, errors.New("detection: condition is missing")
	}
	conds, err := conditionStrings(&condNode, c.sigma)
	if err != nil {
		return nil, atLine(condNode.Line, err)
	}
	d := &Detection{sigma: c.sigma}
	for name := range detection {
		if name == "condition" {
			continue
		}
		if c.sigma && name == "timeframe" {
			return nil, fmt.Errorf("detection: timeframe: %w: aggregations over time", ErrUnsupported)
		}
		d.names = append(d.names, name)
	}
	sort.Strings(d.names)
	for _, name := range d.names {
		if !validSelectionName(name) {
			return nil, fmt.Errorf("detection: selection name %q cannot be used in a condition", name)
		}
		node := detection[name]
		s, err := c.selection(&node)
		if err != nil {
			return nil, fmt.Errorf("detection: %s: %w", name, atLine(node.Line, err))
		}
		d.sels = append(d.sels, s)
	}
	var alts []expr
	for _, cs := range conds {
		e, err := parseCondition(cs, d.names, c.sigma)
		if err != nil {
			return nil, fmt.Errorf("detection: %w", atLine(condNode.Line, err))
		}
		alts = append(alts, e)
	}
	d.cond = alts[0]
	if len(alts) > 1 {
		d.cond = orExpr{alts}
	}
	costs := make([]int, len(d.sels))
	for i := range d.sels {
		d.sels[i].optimize()
		costs[i] = d.sels[i].cost()
	}
	d.cond, _ = reorder(d.cond, costs)
	return d, nil
}

// conditionStrings reads the condition: one string, or in Sigma a list of
// them (the older form of "any of these conditions").
func conditionStrings(n *yaml.Node, sigma bool) ([]string, error) {
	var s string
	if err := n.Decode(&s); err == nil {
		return []string{s}, nil
	}
	if sigma {
		var list []string
		if err := n.Decode(&list); err == nil && len(list) > 0 {
			return list, nil
		}
		return nil, errors.New("detection: condition must be a string or a list of strings")
	}
	return nil, fmt.Errorf("detection: condition must be one string (lists of conditions are not supported)")
}

// Match reports whether the record satisfies the detection's condition.
func (d *Detection) Match(rec Record) bool {
	ev := evaluator{d: d, rec: rec}
	return d.cond.eval(&ev)
}

// Selections lists the selection names, sorted.
func (d *Detection) Selections() []string { return slices.Clone(d.names) }

// maxSelectionValues bounds the size of one selection (lists excluded).
const maxSelectionValues = 10000

// maxDetectionValues bounds the values a whole detection compiles to, once
// modifiers such as windash and base64offset have expanded them.
const maxDetectionValues = 100000

// compiler holds what compiling one detection needs.
type compiler struct {
	env   *Env
	sigma bool
	left  int // values the detection may still compile to
}

// spend takes n values from the detection's budget. Only Sigma values
// expand, so exhunt's dialect keeps its per-selection bound alone.
func (c *compiler) spend(n int) error {
	if !c.sigma {
		return nil
	}
	c.left -= n
	if c.left < 0 {
		return fmt.Errorf("the detection compiles to more than %d values", maxDetectionValues)
	}
	return nil
}

func (c *compiler) selection(n *yaml.Node) (selection, error) {
	var s selection
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		g, err := c.group(n)
		if err != nil {
			return s, err
		}
		s.groups = [][]fieldCond{g}
	case yaml.SequenceNode:
		if len(n.Content) > maxSelectionValues {
			return s, fmt.Errorf("more than %d entries", maxSelectionValues)
		}
		var kw *fieldCond
		for _, item := range n.Content {
			item = resolveAlias(item)
			switch item.Kind {
			case yaml.MappingNode:
				g, err := c.group(item)
				if err != nil {
					return s, err
				}
				s.groups = append(s.groups, g)
			case yaml.ScalarNode:
				m, err := c.keyword(item)
				if err != nil {
					return s, err
				}
				if kw == nil {
					kw = &fieldCond{}
				}
				kw.values = append(kw.values, m)
			default:
				return s, atLine(item.Line, errors.New("list entries must be maps or strings"))
			}
		}
		if len(s.groups) > 0 && kw != nil {
			return s, errors.New("mixes field maps and keywords in one list")
		}
		if kw != nil {
			s.groups = [][]fieldCond{{*kw}}
		}
	case yaml.ScalarNode:
		m, err := c.keyword(n)
		if err != nil {
			return s, err
		}
		s.groups = [][]fieldCond{{{values: []valueMatcher{m}}}}
	default:
		return s, atLine(n.Line, errors.New("want a map or a list"))
	}
	return s, nil
}

// keyword compiles one keyword: a value searched for anywhere.
func (c *compiler) keyword(n *yaml.Node) (valueMatcher, error) {
	if c.sigma {
		m, err := c.sigmaValue(n, nil, true)
		if err != nil {
			return nil, atLine(n.Line, fmt.Errorf("keyword: %w", err))
		}
		return m, nil
	}
	return newValueMatcher(n.Value, []string{"contains"}, c.env)
}

// resolveAlias follows a YAML alias (*name) to the node it names.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (c *compiler) group(n *yaml.Node) ([]fieldCond, error) {
	var g []fieldCond
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
		parts := strings.Split(key.Value, "|")
		mods := parts[1:]
		var raw []*yaml.Node
		switch val.Kind {
		case yaml.ScalarNode:
			raw = []*yaml.Node{val}
		case yaml.SequenceNode:
			raw = val.Content
			if len(raw) > maxSelectionValues {
				return nil, atLine(val.Line, fmt.Errorf("more than %d values", maxSelectionValues))
			}
		default:
			return nil, atLine(val.Line, fmt.Errorf("%s: value must be a scalar or a list", key.Value))
		}
		if c.sigma {
			fc, err := c.sigmaCond(parts[0], mods, raw)
			if err != nil {
				return nil, atLine(key.Line, fmt.Errorf("%s: %w", key.Value, err))
			}
			g = append(g, fc)
			continue
		}
		fc := fieldCond{field: strings.ToLower(parts[0])}
		if fc.field == "" {
			return nil, atLine(key.Line, errors.New("empty field name"))
		}
		if slices.Contains(mods, "all") {
			fc.all = true
		}
		if slices.Contains(mods, "exists") {
			if len(raw) != 1 || raw[0].Kind != yaml.ScalarNode {
				return nil, atLine(val.Line, errors.New("exists takes true or false"))
			}
			b, err := strconv.ParseBool(raw[0].Value)
			if err != nil {
				return nil, atLine(val.Line, errors.New("exists takes true or false"))
			}
			fc.exists = -1
			if b {
				fc.exists = 1
			}
			g = append(g, fc)
			continue
		}
		for _, v := range raw {
			v = resolveAlias(v)
			if v.Kind != yaml.ScalarNode {
				return nil, atLine(v.Line, errors.New("nested values are not supported"))
			}
			if v.Tag == "!!null" {
				// null: the field is absent or empty.
				fc.values = append(fc.values, emptyMatcher{})
				continue
			}
			m, err := newValueMatcher(v.Value, mods, c.env)
			if err != nil {
				return nil, atLine(v.Line, fmt.Errorf("%s: %w", key.Value, err))
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
	d    *Detection
	rec  Record
	memo [64]int8
	m    *Meter // nil: the work is not counted
}

func (ev *evaluator) sel(i int) bool {
	if i >= len(ev.memo) {
		return ev.d.sels[i].match(ev)
	}
	if ev.memo[i] == 0 {
		ev.memo[i] = -1
		if ev.d.sels[i].match(ev) {
			ev.memo[i] = 1
		}
	}
	return ev.memo[i] > 0
}

// charge takes the steps of evaluating fc over n bytes, all its values
// tested (one charge costs less than one per value, which matters more
// than the steps an early decision saves); false when the meter is over.
func (ev *evaluator) charge(fc *fieldCond, n int) bool {
	return ev.m == nil || ev.m.charge(fc.stepsFixed+fc.stepsPerByte*int64(n))
}

func (s *selection) match(ev *evaluator) bool {
	for _, g := range s.groups {
		if matchGroup(g, ev) {
			return true
		}
	}
	return false
}

func matchGroup(g []fieldCond, ev *evaluator) bool {
	for i := range g {
		if !g[i].match(ev) {
			return false
		}
	}
	return true
}

func (fc *fieldCond) match(ev *evaluator) bool {
	if fc.field == "" {
		return fc.matchKeywords(ev) != fc.negate
	}
	return fc.matchField(ev) != fc.negate
}

func (fc *fieldCond) matchField(ev *evaluator) bool {
	rec := ev.rec
	if fc.lower {
		if lr, ok := rec.(LowerRecord); ok {
			v, ok := lr.FieldLower(fc.field)
			if !ev.charge(fc, len(v)) {
				return false
			}
			return fc.matchValue(v, ok, func(m valueMatcher) bool { return m.(lowerMatcher).matchLower(v) })
		}
	}
	v, ok := rec.Field(fc.field)
	if !ev.charge(fc, len(v)) {
		return false
	}
	return fc.matchValue(v, ok, func(m valueMatcher) bool { return fc.test(m, v, ev) })
}

// matchValue applies the condition to a field's value (ok: the field is
// there), each value tested by test.
func (fc *fieldCond) matchValue(v string, ok bool, test func(valueMatcher) bool) bool {
	if fc.exists != 0 {
		return (ok && (fc.presence || v != "")) == (fc.exists > 0)
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
	return fc.anyOrAll(test)
}

// anyOrAll reports whether any of the condition's values passes test, or
// with "all" every one (and there is at least one).
func (fc *fieldCond) anyOrAll(test func(valueMatcher) bool) bool {
	if fc.all {
		for _, m := range fc.values {
			if !test(m) {
				return false
			}
		}
		return len(fc.values) > 0
	}
	for _, m := range fc.values {
		if test(m) {
			return true
		}
	}
	return false
}

func (fc *fieldCond) test(m valueMatcher, v string, ev *evaluator) bool {
	if fc.refs {
		if r, ok := m.(refMatcher); ok {
			return r.matchRef(v, ev)
		}
	}
	return m.match(v)
}

// Valuer is a Record whose keyword searches look at each field value
// rather than at Raw, such as a Windows event, whose raw form is markup.
type Valuer interface {
	Values() []string
}

func (fc *fieldCond) matchKeywords(ev *evaluator) bool {
	rec := ev.rec
	if ev.m != nil && !ev.charge(fc, keywordBytes(rec)) {
		return false
	}
	if fc.lower {
		if lr, ok := rec.(LowerRecord); ok {
			vals := lr.ValuesLower()
			return fc.anyOrAll(func(m valueMatcher) bool {
				lm := m.(lowerMatcher)
				for _, v := range vals {
					if lm.matchLower(v) {
						return true
					}
				}
				return false
			})
		}
	}
	return fc.anyOrAll(func(m valueMatcher) bool { return keywordHit(m, rec) })
}

// keywordBytes is what a keyword search looks at: every value, or the raw
// record; each value counts one more, for the comparison it starts.
func keywordBytes(rec Record) int {
	if vr, ok := rec.(Valuer); ok {
		n := 0
		for _, v := range vr.Values() {
			n += len(v) + 1
		}
		return n
	}
	return len(rec.Raw())
}

func keywordHit(m valueMatcher, rec Record) bool {
	if vr, ok := rec.(Valuer); ok {
		for _, v := range vr.Values() {
			if m.match(v) {
				return true
			}
		}
		return false
	}
	return m.match(rec.Raw())
}

// valueMatcher tests one field value.
type valueMatcher interface{ match(v string) bool }

type emptyMatcher struct{}

func (emptyMatcher) match(v string) bool { return v == "" }

type reMatcher struct {
	re   *regexp.Regexp
	size int64 // instructions of its program: the worst-case steps per byte
}

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

// ExhuntModifiers lists the field modifiers of exhunt's dialect.
var ExhuntModifiers = []string{"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cased", "exists", "cidr", "gt", "gte", "lt", "lte", "list"}

func newValueMatcher(v string, mods []string, env *Env) (valueMatcher, error) {
	for _, m := range mods {
		if !slices.Contains(ExhuntModifiers, m) {
			return nil, fmt.Errorf("modifier %q is not supported", m)
		}
	}
	has := func(m string) bool { return slices.Contains(mods, m) }
	switch {
	case has("re"):
		re, err := Regexp(withReFlags(v, has))
		if err != nil {
			return nil, fmt.Errorf("re: %w", err)
		}
		return newReMatcher(re), nil
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
	// A value ending in a lone backslash (a path prefix such as
	// '\inetpub\') would otherwise escape the appended '*'.
	tail := v
	if n := len(tail) - len(strings.TrimRight(tail, `\`)); n%2 == 1 {
		tail += `\`
	}
	switch {
	case has("contains"):
		g = "*" + tail + "*"
	case has("startswith"):
		g = tail + "*"
	case has("endswith"):
		g = "*" + v
	}
	return newGlob(g, has("cased")), nil
}

// withReFlags prefixes a regular expression with the i, m and s modifiers
// given as Sigma writes them (re|i).
func withReFlags(expr string, has func(string) bool) string {
	flags := ""
	for _, f := range []string{"i", "m", "s"} {
		if has(f) {
			flags += f
		}
	}
	if flags == "" {
		return expr
	}
	return "(?" + flags + ")" + expr
}

// Cond is a condition over one detection's selections, such as an exhunt
// rule's outcome ("when").
type Cond struct{ e expr }

// Condition parses a condition over the detection's selections.
func (d *Detection) Condition(s string) (Cond, error) {
	e, err := parseCondition(s, d.names, d.sigma)
	if err != nil {
		return Cond{}, err
	}
	return Cond{e}, nil
}

// First returns the index of the first condition that holds for the record,
// or -1. Selections are evaluated at most once however many conditions
// test them.
func (d *Detection) First(rec Record, conds []Cond) int {
	ev := evaluator{d: d, rec: rec}
	for i, c := range conds {
		if c.e.eval(&ev) {
			return i
		}
	}
	return -1
}

// LineError is a compile error at a line of the rule file.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// atLine places err at a line unless a more precise line is known already.
func atLine(line int, err error) error {
	var le *LineError
	if line <= 0 || errors.As(err, &le) {
		return err
	}
	return &LineError{Line: line, Err: err}
}

// Line returns the line of the rule file a compile error is at, or 0.
func Line(err error) int {
	var le *LineError
	if errors.As(err, &le) {
		return le.Line
	}
	return 0
}

// maxRegexpDepth bounds the nesting of a rule's regular expression: the
// parser's own limit (1000) lets a hostile rule cost deep recursion first,
// and no real rule nests more than a few levels.
const maxRegexpDepth = 100

// Regexp compiles a regular expression of a rule, bounding its nesting.
func Regexp(expr string) (*regexp.Regexp, error) {
	if d := regexpDepth(expr); d > maxRegexpDepth {
		return nil, fmt.Errorf("regular expression nests %d deep, more than %d", d, maxRegexpDepth)
	}
	return regexp.Compile(expr)
}

// regexpDepth is the deepest nesting of groups in expr; escaped
// parentheses and those in character classes do not count.
func regexpDepth(expr string) int {
	depth, deepest := 0, 0
	class := false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
			// a ']' right after '[' or '[^' is literal
			if i+1 < len(expr) && expr[i+1] == '^' {
				i++
			}
			if i+1 < len(expr) && expr[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
			deepest = max(deepest, depth)
		case c == ')':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}
