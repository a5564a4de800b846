package detect

import "slices"

// Literals returns strings of which every record the detection matches
// holds at least one in some value (lower case; values are compared
// ignoring case), and false when no such set can be derived (a regular
// expression, a negation or a numeric test decides alone). Callers use it
// as a prefilter: a record holding none of the literals cannot match.
func (d *Detection) Literals() ([]string, bool) {
	sel := make([][]string, len(d.sels))
	ok := make([]bool, len(d.sels))
	for i := range d.sels {
		sel[i], ok[i] = d.sels[i].literals()
	}
	return exprLiterals(d.cond, sel, ok)
}

// minLiteral is the shortest literal worth searching for.
const minLiteral = 3

// better picks the set that filters more: longer literals (up to 8
// bytes, past which they are all rare), then fewer of them.
func better(a []string, b []string) []string {
	if sa, sb := min(shortest(a), 8), min(shortest(b), 8); sa != sb {
		if sa > sb {
			return a
		}
		return b
	}
	if len(a) <= len(b) {
		return a
	}
	return b
}

func shortest(s []string) int {
	n := 1 << 30
	for _, x := range s {
		n = min(n, len(x))
	}
	return n
}

func exprLiterals(e expr, sel [][]string, ok []bool) ([]string, bool) {
	switch x := e.(type) {
	case selRef:
		return sel[x.i], ok[x.i]
	case andExpr:
		var best []string
		found := false
		for _, y := range x.xs {
			if l, o := exprLiterals(y, sel, ok); o {
				best, found = pick(best, found, l)
			}
		}
		return best, found
	case orExpr:
		var all []string
		for _, y := range x.xs {
			l, o := exprLiterals(y, sel, ok)
			if !o {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, len(x.xs) > 0
	case ofExpr:
		if x.n < 0 { // all of: any one selection's set will do
			var best []string
			found := false
			for _, i := range x.sel {
				if ok[i] {
					best, found = pick(best, found, sel[i])
				}
			}
			return best, found
		}
		var all []string
		for _, i := range x.sel {
			if !ok[i] {
				return nil, false
			}
			all = append(all, sel[i]...)
		}
		return all, len(x.sel) > 0
	}
	return nil, false // not: the record may hold anything
}

func pick(best []string, found bool, l []string) ([]string, bool) {
	if !found {
		return l, true
	}
	return better(best, l), true
}

// literals of a selection: an OR of groups, each an AND of conditions.
func (s *selection) literals() ([]string, bool) {
	var all []string
	for _, g := range s.groups {
		var best []string
		found := false
		for i := range g {
			if l, ok := g[i].literals(); ok {
				best, found = pick(best, found, l)
			}
		}
		if !found {
			return nil, false
		}
		all = append(all, best...)
	}
	return all, len(s.groups) > 0
}

func (fc *fieldCond) literals() ([]string, bool) {
	if fc.negate || fc.refs || fc.exists != 0 || len(fc.values) == 0 {
		return nil, false
	}
	if fc.all {
		var best []string
		found := false
		for _, m := range fc.values {
			if l, ok := matcherLiterals(m); ok {
				best, found = pick(best, found, l)
			}
		}
		return best, found
	}
	var all []string
	for _, m := range fc.values {
		l, ok := matcherLiterals(m)
		if !ok {
			return nil, false
		}
		all = append(all, l...)
	}
	return all, true
}

func matcherLiterals(m valueMatcher) ([]string, bool) {
	switch x := m.(type) {
	case *glob:
		// the longest run of literal bytes of any segment
		best := ""
		for _, s := range x.segs {
			start := 0
			for i := 0; i <= len(s.lit); i++ {
				if i == len(s.lit) || (!x.onlyLits && s.q[i]) {
					if i-start > len(best) {
						best = s.lit[start:i]
					}
					start = i + 1
				}
			}
		}
		if len(best) < minLiteral || x.cased {
			return nil, false
		}
		return []string{best}, true
	case anyContains:
		return slices.Clone(x.lits), true
	case reLit:
		return []string{x.lit}, true
	case anyMatcher:
		var all []string
		for _, y := range x {
			l, ok := matcherLiterals(y)
			if !ok {
				return nil, false
			}
			all = append(all, l...)
		}
		return all, len(x) > 0
	}
	return nil, false
}
