package yara

import "math"

// A gate is what a rule's condition needs before it can be true: clauses,
// each a set of strings of which one at least must match, and bounds on
// the file size. It is a consequence of the condition (true implies the
// gate holds), never an approximation the other way, so a scan may leave
// the candidates of a rule whose gate fails unconfirmed: the rule is false
// either way, and so is every condition that refers to it. yara confirms
// every atom; on web content, where runat="server" is on every line,
// this is most of the work.
type gate struct {
	clauses          [][]int32 // global string indices
	minSize, maxSize int64
}

func openGate() gate { return gate{minSize: 0, maxSize: math.MaxInt64} }

// gateOf derives a gate from condition e of rule r; the gates of the rules
// it refers to (defined before it) are in gates.
func gateOf(r *crule, e *expr, gates []gate) gate {
	g := openGate()
	if e == nil {
		return g
	}
	switch e.kind {
	case eStrMatch:
		if e.str >= 0 {
			g.clauses = [][]int32{{int32(r.strs[e.str])}}
		}
	case eOf:
		if len(e.strs) == 0 || !quantNeedsOne(e) {
			return g
		}
		if e.qkind == qAll {
			for _, s := range e.strs {
				g.clauses = append(g.clauses, []int32{int32(r.strs[s])})
			}
			return g
		}
		set := make([]int32, len(e.strs))
		for i, s := range e.strs {
			set[i] = int32(r.strs[s])
		}
		g.clauses = [][]int32{set}
	case eIdent:
		if e.ref >= 0 && e.ref < len(gates) && e.loop < 0 && e.ext < 0 {
			return gates[e.ref]
		}
	case eBinary:
		if len(e.args) != 2 {
			return g
		}
		switch e.op {
		case "and":
			a, b := gateOf(r, e.args[0], gates), gateOf(r, e.args[1], gates)
			g.clauses = append(append(g.clauses, a.clauses...), b.clauses...)
			g.minSize, g.maxSize = max(a.minSize, b.minSize), min(a.maxSize, b.maxSize)
		case "or":
			a, b := gateOf(r, e.args[0], gates), gateOf(r, e.args[1], gates)
			if len(a.clauses) > 0 && len(b.clauses) > 0 {
				g.clauses = [][]int32{append(append([]int32(nil), smallest(a.clauses)...), smallest(b.clauses)...)}
			}
			g.minSize, g.maxSize = min(a.minSize, b.minSize), max(a.maxSize, b.maxSize)
		default:
			g.minSize, g.maxSize = sizeBounds(e)
		}
	}
	return g
}

// quantNeedsOne reports whether an "of" can only hold with one string
// matching at least.
func quantNeedsOne(e *expr) bool {
	switch e.qkind {
	case qAll, qAny:
		return true
	case qExpr, qPercent:
		return e.quant != nil && e.quant.kind == eInt && e.quant.i >= 1
	}
	return false
}

func smallest(cs [][]int32) []int32 {
	best := cs[0]
	for _, c := range cs[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	return best
}

// sizeBounds reads "filesize < 2MB" and the like (either way round).
func sizeBounds(e *expr) (lo, hi int64) {
	lo, hi = 0, math.MaxInt64
	l, r, op := e.args[0], e.args[1], e.op
	if r.kind == eFilesize && l.kind == eInt {
		l, r = r, l
		switch op {
		case "<":
			op = ">"
		case "<=":
			op = ">="
		case ">":
			op = "<"
		case ">=":
			op = "<="
		}
	}
	if l.kind != eFilesize || r.kind != eInt {
		return
	}
	c := r.i
	switch op {
	case "<":
		if c <= 0 {
			return 1, 0 // never
		}
		hi = c - 1
	case "<=":
		hi = c
	case ">":
		if c == math.MaxInt64 {
			return 1, 0
		}
		lo = c + 1
	case ">=":
		lo = c
	case "==":
		lo, hi = c, c
	}
	if lo < 0 {
		lo = 0
	}
	return lo, hi
}

// buildGates derives every rule's gate, and what a scan needs to apply
// them: each pattern's rule, the strings searched without atoms (always
// possible).
func (r *Rules) buildGates() {
	r.gates = make([]gate, len(r.rules))
	for i, cr := range r.rules {
		r.gates[i] = gateOf(cr, cr.cond, r.gates[:i])
	}
	r.patRule = make([]int32, len(r.pats))
	r.noAtom = make([]bool, len(r.strs))
	for pi, p := range r.pats {
		r.patRule[pi] = int32(r.strs[p.str].rule)
		if len(p.atoms) == 0 {
			r.noAtom[p.str] = true
		}
	}
}

// Pattern modes during a gated scan.
const (
	modeNow   uint8 = iota // confirm candidates as they are found
	modeLater              // keep them until the pass is over
	modeNever              // the rule cannot match this file
)

// deferred is a candidate kept for after the pass.
type deferred struct {
	end, atom int32
}

// maxDeferred bounds the candidates kept (8 bytes each, 1 MiB); past it the scan
// confirms as it goes.
const maxDeferred = 1 << 17

// startGates sets each rule's mode for a file of the given size read
// whole.
func (st *scanState) startGates(size int64) {
	r := st.r
	st.gating = true
	st.deferred = st.deferred[:0]
	clear(st.seen)
	for ri := range r.rules {
		g := &r.gates[ri]
		switch {
		case size < g.minSize || size > g.maxSize:
			st.ruleMode[ri] = modeNever
		case len(g.clauses) > 0:
			st.ruleMode[ri] = modeLater
		default:
			st.ruleMode[ri] = modeNow
		}
	}
}

// gatedHit is hit for a gated scan.
func (st *scanState) gatedHit(end int, atom int32) {
	pi := st.r.atoms[atom].pat
	// seen for every rule: another rule's gate may name this string
	st.seen[st.r.pats[pi].str] = true
	switch st.ruleMode[st.r.patRule[pi]] {
	case modeNow:
		st.hit(end, atom)
	case modeLater:
		if len(st.deferred) == maxDeferred {
			st.flushDeferred()
			st.hit(end, atom)
			return
		}
		st.deferred = append(st.deferred, deferred{int32(end), atom})
	}
}

// flushDeferred confirms what was kept and stops deferring: a file full of
// candidates is confirmed as it is read, as without gates.
func (st *scanState) flushDeferred() {
	for ri, m := range st.ruleMode {
		if m == modeLater {
			st.ruleMode[ri] = modeNow
		}
	}
	for _, d := range st.deferred {
		st.hit(int(d.end), d.atom)
	}
	st.deferred = st.deferred[:0]
}

// settleGates decides, once the pass is over, which deferred rules may still
// match: every clause has a string whose atom was seen (or that has no
// atom). The others cannot.
func (st *scanState) settleGates() {
	r := st.r
	for ri, m := range st.ruleMode {
		if m != modeLater {
			continue
		}
		open := true
		for _, cl := range r.gates[ri].clauses {
			any := false
			for _, s := range cl {
				if st.seen[s] || r.noAtom[s] {
					any = true
					break
				}
			}
			if !any {
				open = false
				break
			}
		}
		if open {
			st.ruleMode[ri] = modeNow
		} else {
			st.ruleMode[ri] = modeNever
		}
	}
	for _, d := range st.deferred {
		if st.ruleMode[r.patRule[r.atoms[d.atom].pat]] == modeNow {
			st.hit(int(d.end), d.atom)
		}
	}
	st.deferred = st.deferred[:0]
}
