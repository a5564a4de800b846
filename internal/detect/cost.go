package detect

import (
	"cmp"
	"slices"
	"strings"

	"github.com/exhunt/exhunt/internal/logs"
)

// Conditions are evaluated cheapest operand first: and/or and "N of"
// stop at the first operand that decides them, so a selection testing an
// image name's suffix should run before one searching a command line for
// dozens of substrings. Reordering is safe: evaluation has no side effects
// and the operators are commutative.

// matcherCost estimates the work of testing one value.
func matcherCost(m valueMatcher) int {
	switch x := m.(type) {
	case *glob:
		if len(x.segs) == 1 && (x.anchorL || x.anchorR) {
			return 1 // equality, prefix or suffix
		}
		return 4 // a substring search
	case reMatcher, reLit:
		return 25
	case anyContains:
		return 4
	case anyMatcher:
		c := 0
		for _, y := range x {
			c += matcherCost(y)
		}
		return c
	}
	return 2
}

func (fc *fieldCond) cost() int {
	n := 1
	for _, m := range fc.values {
		n += matcherCost(m)
	}
	if fc.field == "" {
		n *= 10 // keywords search every value of the record
	}
	return n
}

// optimize readies a compiled selection for evaluation: substring lists
// merged into one automaton, lowered-value matching where every value
// allows it, and each group's field conditions ordered cheapest first.
func (s *selection) optimize() {
	for _, g := range s.groups {
		for i := range g {
			g[i].mergeContains()
			g[i].setLower()
			g[i].setCost()
		}
		slices.SortStableFunc(g, func(a, b fieldCond) int { return cmp.Compare(a.cost(), b.cost()) })
	}
}

// cost estimates the selection's work.
func (s *selection) cost() int {
	c := 0
	for _, g := range s.groups {
		for i := range g {
			c += g[i].cost()
		}
	}
	return c
}

// reorder sorts the operands of and, or and "of" by estimated cost and
// returns the expression with its cost.
func reorder(e expr, sel []int) (expr, int) {
	switch x := e.(type) {
	case selRef:
		return x, sel[x.i]
	case notExpr:
		in, c := reorder(x.x, sel)
		return notExpr{in}, c
	case andExpr:
		xs, c := reorderAll(x.xs, sel)
		return andExpr{xs}, c
	case orExpr:
		xs, c := reorderAll(x.xs, sel)
		return orExpr{xs}, c
	case ofExpr:
		idx := slices.Clone(x.sel)
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(sel[a], sel[b]) })
		c := 0
		for _, i := range idx {
			c += sel[i]
		}
		return ofExpr{n: x.n, sel: idx}, c
	}
	return e, 1
}

func reorderAll(xs []expr, sel []int) ([]expr, int) {
	type op struct {
		e expr
		c int
	}
	ops := make([]op, len(xs))
	total := 0
	for i, x := range xs {
		ops[i].e, ops[i].c = reorder(x, sel)
		total += ops[i].c
	}
	slices.SortStableFunc(ops, func(a, b op) int { return cmp.Compare(a.c, b.c) })
	out := make([]expr, len(ops))
	for i, o := range ops {
		out[i] = o.e
	}
	return out, total
}

// minMerge is the number of substring values in one field condition from
// which they are searched for together, by one automaton.
const minMerge = 3

// anyContains matches when the value holds any of its literals: the
// merged form of a list of case-insensitive "contains" values.
type anyContains struct {
	pf   *logs.Prefilter
	lits []string
}

func (m anyContains) match(v string) bool {
	if !isASCII(v) {
		// the literals are lower case; the automaton folds ASCII only
		v = strings.ToLower(v)
	}
	return m.pf.ContainsString(v)
}

// containsLiteral returns the literal of a plain case-insensitive
// substring glob (*lit*).
func containsLiteral(m valueMatcher) (string, bool) {
	g, ok := m.(*glob)
	if !ok || g.cased || !g.onlyLits || g.anchorL || g.anchorR || len(g.segs) != 3 ||
		g.segs[0].lit != "" || g.segs[2].lit != "" || g.segs[1].lit == "" {
		return "", false
	}
	return g.segs[1].lit, true
}

// mergeContains replaces the plain substring values of an any-of field
// condition by one automaton.
func (fc *fieldCond) mergeContains() {
	if fc.all || fc.refs {
		return
	}
	var lits []string
	var rest []valueMatcher
	for _, m := range fc.values {
		if l, ok := containsLiteral(m); ok && len(lits) < 4096 {
			lits = append(lits, l)
		} else {
			rest = append(rest, m)
		}
	}
	if len(lits) < minMerge {
		return
	}
	fc.values = append([]valueMatcher{anyContains{logs.NewPrefilter(lits), lits}}, rest...)
}
