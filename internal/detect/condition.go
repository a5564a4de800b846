package detect

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// expr is a parsed condition; eval asks for selection results by index.
type expr interface {
	eval(ev *evaluator) bool
}

type (
	selRef  struct{ i int }
	notExpr struct{ x expr }
	andExpr struct{ xs []expr }
	orExpr  struct{ xs []expr }
	// ofExpr is "N of pattern", "all of pattern"; n == -1 means all.
	ofExpr struct {
		n   int
		sel []int
	}
)

func (e selRef) eval(ev *evaluator) bool  { return ev.sel(e.i) }
func (e notExpr) eval(ev *evaluator) bool { return !e.x.eval(ev) }
func (e andExpr) eval(ev *evaluator) bool {
	for _, x := range e.xs {
		if !x.eval(ev) {
			return false
		}
	}
	return true
}
func (e orExpr) eval(ev *evaluator) bool {
	for _, x := range e.xs {
		if x.eval(ev) {
			return true
		}
	}
	return false
}
func (e ofExpr) eval(ev *evaluator) bool {
	hits := 0
	for _, i := range e.sel {
		if ev.sel(i) {
			hits++
			if e.n > 0 && hits >= e.n {
				return true
			}
		} else if e.n < 0 {
			return false
		}
	}
	if e.n < 0 {
		return len(e.sel) > 0
	}
	return false
}

// maxConditionDepth bounds nesting so a hostile rule cannot exhaust the stack.
const maxConditionDepth = 64

type condParser struct {
	toks  []string
	pos   int
	names []string // selection names, index = selection id
	depth int
}

// parseCondition parses a Sigma condition over the named selections. The
// sigma flag only changes error wording: aggregations name the Sigma feature.
func parseCondition(s string, names []string, sigma bool) (expr, error) {
	if sigma && strings.Contains(s, "|") {
		return nil, fmt.Errorf("condition %q: %w: aggregation (| count(), near...) needs state across events", s, ErrUnsupported)
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("condition is empty")
	}
	p := &condParser{toks: toks, names: names}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("condition %q: unexpected %q", s, p.toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '|':
			return nil, fmt.Errorf("condition %q: aggregations (|) are %w", s, ErrUnsupported)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (expr, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	xs := []expr{x}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return orExpr{xs}, nil
}

func (p *condParser) and() (expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	xs := []expr{x}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return andExpr{xs}, nil
}

func (p *condParser) unary() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxConditionDepth {
		return nil, fmt.Errorf("condition nests deeper than %d", maxConditionDepth)
	}
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition ends too early")
	case strings.EqualFold(t, "not"):
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	case t == "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("condition: missing )")
		}
		p.pos++
		return x, nil
	case t == ")":
		return nil, fmt.Errorf("condition: unexpected )")
	}
	if n, ok := quantifier(t); ok && p.pos+2 < len(p.toks)+1 && strings.EqualFold(p.lookahead(1), "of") {
		pat := p.lookahead(2)
		if pat == "" {
			return nil, fmt.Errorf("condition: %q of what?", t)
		}
		p.pos += 3
		var ids []int
		for i, name := range p.names {
			if strings.EqualFold(pat, "them") {
				if !strings.HasPrefix(name, "_") {
					ids = append(ids, i)
				}
				continue
			}
			if ok, _ := path.Match(pat, name); ok {
				ids = append(ids, i)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("condition: %q matches no selection", pat)
		}
		return ofExpr{n: n, sel: ids}, nil
	}
	if isKeyword(t) {
		return nil, fmt.Errorf("condition: unexpected %q", t)
	}
	i := slices.Index(p.names, t)
	if i < 0 {
		return nil, fmt.Errorf("condition: unknown selection %q", t)
	}
	p.pos++
	return selRef{i}, nil
}

func (p *condParser) lookahead(k int) string {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return ""
}

func quantifier(t string) (int, bool) {
	switch strings.ToLower(t) {
	case "all":
		return -1, true
	case "any":
		return 1, true
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

func isKeyword(t string) bool {
	switch strings.ToLower(t) {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

// validSelectionName reports whether name can be referenced from a condition.
func validSelectionName(name string) bool {
	if name == "" || isKeyword(name) {
		return false
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
