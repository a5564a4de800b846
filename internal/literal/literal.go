// Package literal finds many literals at once in attacker-influenced text,
// ignoring ASCII case. It is exhunt's one multi-literal matcher: the log
// prefilter, the per-event value scan, the YARA atoms and the single-string
// searches of the scanner and parsers all use it.
//
// A Matcher is an Aho-Corasick automaton compiled to a full DFA over byte
// classes. Both cases of a letter share a class, so case folding costs
// nothing and text is never lower-cased into a copy (lower-casing a copy and
// using its offsets on the original is wrong whenever lowering changes the
// length: invalid UTF-8, 'İ'). Bytes outside ASCII only ever match
// themselves.
package literal

import (
	"errors"
	"slices"
	"sync"
	"unsafe"
)

// Matcher finds literals in bytes or strings. It is immutable once built
// and safe for concurrent use.
type Matcher struct {
	class  [256]uint8
	nclass int
	// col is a byte's class as a byte offset into a row (class * 4).
	col [256]uint32
	// trans holds byte offsets: next = trans at byte offset state + col[b],
	// states being row offsets (index * nclass * 4).
	trans []uint32
	// abs is trans with accepting states made absorbing (see absorbing)
	abs     []uint32
	absOnce sync.Once
	matchAt uint32 // states >= matchAt are accepting (they are numbered last)
	row     uint32 // bytes in a row
	empty   bool
	maxLen  int
	// masks[state index] is the set of groups with a literal ending there
	// (bit i for group i; groups past 63 share bit 63).
	masks []uint64
	// outs[outStart[k]:outStart[k+1]] are the literals ending in the k-th
	// accepting state, its own and those of its suffixes.
	outStart []int32
	outs     []int32
}

// maxGroupStates bounds the automaton NewGroups builds from hostile or huge
// literal sets; past it, literals are cut short, which keeps every match
// (the matcher then reports a superset: right for a prefilter).
const maxGroupStates = 1 << 16

// ErrTooLarge is returned by Compile when the automaton would exceed its
// cell budget.
var ErrTooLarge = errors.New("too many literals: automaton too large")

// New compiles literals. Empty literals are ignored; with none at all the
// matcher matches nothing.
func New(lits []string) *Matcher { return NewGroups([][]string{lits}) }

// NewGroups compiles groups of literals (one group per rule, say); Mask then
// tells which groups have a literal in a text.
func NewGroups(groups [][]string) *Matcher {
	var lits []string
	var owner []int
	for g, ls := range groups {
		for _, l := range ls {
			lits = append(lits, l)
			owner = append(owner, g)
		}
	}
	m, _ := build(lits, owner, maxGroupStates, 0)
	return m
}

// Compile compiles literals exactly: Each reports every occurrence of every
// literal by its index. It fails when the table would exceed maxCells
// cells (4 bytes each).
func Compile(lits [][]byte, maxCells int) (*Matcher, error) {
	owner := make([]int, len(lits))
	for i := range owner {
		owner[i] = i
	}
	return build(lits, owner, 0, maxCells)
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// build makes the DFA. With maxStates > 0 literals are cut short past that
// many states; with maxCells > 0 a larger table is an error.
func build[T ~string | ~[]byte](lits []T, owner []int, maxStates, maxCells int) (*Matcher, error) {
	m := &Matcher{}
	// byte classes: 0 for bytes in no literal, one per folded byte
	var used [256]bool
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			used[lower(l[i])] = true
		}
	}
	nc := 1
	for b := 0; b < 256; b++ {
		if used[b] {
			m.class[b] = uint8(nc)
			nc++
		}
	}
	for b := 0; b < 256; b++ {
		m.class[b] = m.class[lower(byte(b))]
	}
	m.nclass = nc

	// The trie is built in the table itself, none marking a missing edge;
	// the breadth-first pass then completes it into the DFA, and the table
	// is renumbered in place: large YARA rule sets make it the biggest
	// allocation exhunt has.
	const none = ^uint32(0)
	size := trieSize(lits)
	if maxStates > 0 {
		size = min(size, maxStates)
	}
	if maxCells > 0 && size*nc > maxCells || size*nc >= 1<<30 {
		return nil, ErrTooLarge
	}
	next := make([]uint32, nc, size*nc)
	for i := range next {
		next[i] = none
	}
	nstates := 1
	var own [][]int32 // literals ending in each trie node
	own = append(own, nil)
	for li, l := range lits {
		if len(l) == 0 {
			continue
		}
		m.maxLen = max(m.maxLen, len(l))
		s := 0
		for i := 0; i < len(l); i++ {
			c := int(m.class[l[i]])
			nx := next[s*nc+c]
			if nx == none {
				if maxStates > 0 && nstates >= maxStates {
					break
				}
				nx = uint32(nstates)
				next[s*nc+c] = nx
				nstates++
				own = append(own, nil)
				for range nc {
					next = append(next, none)
				}
			}
			s = int(nx)
		}
		own[s] = append(own[s], int32(li))
	}
	m.empty = nstates == 1

	// failure links in breadth-first order; outputs merge the failure
	// state's, which comes earlier in that order
	fail := make([]uint32, nstates)
	outs := make([][]int32, nstates)
	order := make([]uint32, 0, nstates)
	for c := 0; c < nc; c++ {
		if nx := next[c]; nx == none {
			next[c] = 0
		} else {
			order = append(order, nx)
		}
	}
	for i := 0; i < len(order); i++ {
		s := order[i]
		f := fail[s]
		outs[s] = append(own[s], outs[f]...)
		row, frow := int(s)*nc, int(f)*nc
		for c := 0; c < nc; c++ {
			if nx := next[row+c]; nx == none {
				next[row+c] = next[frow+c]
			} else {
				fail[nx] = next[frow+c]
				order = append(order, nx)
			}
		}
	}
	fail, order, own = nil, nil, nil

	// Renumber so that accepting states come last: the hot loops test for
	// a match with one comparison. Cells become byte offsets of rows.
	renum := make([]uint32, nstates)
	k := uint32(0)
	for s := range nstates {
		if len(outs[s]) == 0 {
			renum[s] = k
			k++
		}
	}
	m.matchAt = k * uint32(nc) * 4
	acc := make([]int, 0, nstates-int(k))
	for s := range nstates {
		if len(outs[s]) > 0 {
			renum[s] = k
			k++
			acc = append(acc, s)
		}
	}
	for i, v := range next {
		next[i] = renum[v] * uint32(nc) * 4
	}
	// move each row to its new place, one permutation cycle at a time
	rowOf := func(s int) []uint32 { return next[s*nc : (s+1)*nc] }
	hold, tmp := make([]uint32, nc), make([]uint32, nc)
	moved := make([]bool, nstates)
	for s := range nstates {
		if moved[s] {
			continue
		}
		copy(hold, rowOf(s))
		for cur := s; ; {
			moved[cur] = true
			dst := int(renum[cur])
			copy(tmp, rowOf(dst))
			copy(rowOf(dst), hold)
			hold, tmp = tmp, hold
			if dst == s {
				break
			}
			cur = dst
		}
	}
	m.trans = next
	m.masks = make([]uint64, nstates)
	m.outStart = make([]int32, 0, len(acc)+1)
	for _, s := range acc {
		m.outStart = append(m.outStart, int32(len(m.outs)))
		m.outs = append(m.outs, outs[s]...)
	}
	m.outStart = append(m.outStart, int32(len(m.outs)))
	for s := range nstates {
		var mask uint64
		for _, li := range outs[s] {
			mask |= 1 << min(owner[li], 63)
		}
		m.masks[renum[s]] = mask
	}
	m.row = uint32(nc) * 4
	for b := range m.col {
		m.col[b] = uint32(m.class[b]) * 4
	}
	return m, nil
}

// trieSize counts the states of the literals' trie (its root included):
// the table is allocated once, at its size, and a set too large for the
// cell budget is refused before anything big is allocated.
func trieSize[T ~string | ~[]byte](lits []T) int {
	folded := make([]string, 0, len(lits))
	for _, l := range lits {
		b := make([]byte, len(l))
		for i := 0; i < len(l); i++ {
			b[i] = lower(l[i])
		}
		folded = append(folded, string(b))
	}
	slices.Sort(folded)
	n, prev := 1, ""
	for _, l := range folded {
		common := 0
		for common < len(l) && common < len(prev) && l[common] == prev[common] {
			common++
		}
		n += len(l) - common
		prev = l
	}
	return n
}

// absorbing returns trans with accepting states made absorbing, which the
// first-match search needs: it may then test for a match only every few
// bytes. It is built on first use, since matchers used only through Each
// (YARA's) never need it.
func (m *Matcher) absorbing() unsafe.Pointer {
	m.absOnce.Do(func() {
		m.abs = append([]uint32(nil), m.trans...)
		for st := m.matchAt / 4; st < uint32(len(m.abs)); st += m.row / 4 {
			for c := range m.row / 4 {
				m.abs[st+c] = st * 4
			}
		}
	})
	return unsafe.Pointer(unsafe.SliceData(m.abs))
}

// at reads the table cell at byte offset off. Every cell holds a row's
// offset and every col entry is less than a row, so off is always inside
// the table: the hot loops skip Go's bounds checks, which cost them a third
// of their time.
func at(table unsafe.Pointer, off uint32) uint32 { return *(*uint32)(unsafe.Add(table, off)) }

// Empty reports whether the matcher has no literals.
func (m *Matcher) Empty() bool { return m.empty }

// States is the number of automaton states.
func (m *Matcher) States() int { return len(m.masks) }

// Index returns the offset just past the end of the first literal found in
// b (the smallest end of any occurrence), or -1.
func (m *Matcher) Index(b []byte) int {
	if m.empty {
		return -1
	}
	return index(m, b)
}

// IndexString is Index for a string.
func (m *Matcher) IndexString(s string) int {
	if m.empty {
		return -1
	}
	return index(m, s)
}

// ContainsString reports whether s holds any of the literals: the check
// rules make on one field value.
func (m *Matcher) ContainsString(s string) bool { return m.IndexString(s) >= 0 }

// Mask returns the groups with at least one literal in s.
func (m *Matcher) Mask(s string) uint64 {
	if m.empty {
		return 0
	}
	// A union does not care about order, so three automata can share the
	// text, each segment starting maxLen-1 bytes early.
	ov := m.maxLen - 1
	seg := (len(s) + 2) / 3
	if seg < 64 || seg <= 2*ov {
		return m.mask1(s, 0)
	}
	a1, b1 := seg, 2*seg
	return m.mask3(s[:a1], s[a1-ov:b1], s[b1-ov:])
}

func (m *Matcher) mask1(s string, st uint32) uint64 {
	trans, col, matchAt, row := unsafe.Pointer(unsafe.SliceData(m.trans)), &m.col, m.matchAt, m.row
	var mask uint64
	for i := 0; i < len(s); i++ {
		st = at(trans, st+col[s[i]])
		if st >= matchAt {
			mask |= m.masks[st/row]
		}
	}
	return mask
}

// mask3 is mask1 over x, y and z in lockstep.
func (m *Matcher) mask3(x, y, z string) uint64 {
	trans, col, matchAt, row := unsafe.Pointer(unsafe.SliceData(m.trans)), &m.col, m.matchAt, m.row
	var mask uint64
	var s, t, u uint32
	n := min(len(x), len(y), len(z))
	for i := 0; i < n; i++ {
		s = at(trans, s+col[x[i]])
		t = at(trans, t+col[y[i]])
		u = at(trans, u+col[z[i]])
		if s >= matchAt || t >= matchAt || u >= matchAt {
			if s >= matchAt {
				mask |= m.masks[s/row]
			}
			if t >= matchAt {
				mask |= m.masks[t/row]
			}
			if u >= matchAt {
				mask |= m.masks[u/row]
			}
		}
	}
	return mask | m.mask1(x[n:], s) | m.mask1(y[n:], t) | m.mask1(z[n:], u)
}

// Each calls hit for every occurrence of every literal in data, with the
// offset just past it and the literal's index, in increasing end order.
//
// One automaton waits on each table load before the next (see index), so
// a long input is read by three automata in lockstep over neighbouring
// segments, each starting maxLen-1 bytes early so that it is in the
// state a single pass would be by the time its segment begins. The first
// segment's hits are reported at once, the others' kept and reported
// after it, which keeps the order.
func (m *Matcher) Each(data []byte, hit func(end int, lit int32)) {
	if m.empty {
		return
	}
	ov := m.maxLen - 1
	// small files too: most files a hunt reads are a few KiB
	seg := min(eachSeg, len(data)/3)
	if seg < 4*ov+256 {
		m.each1(data, 0, hit)
		return
	}
	hb, _ := hitPool.Get().(*hitBufs)
	if hb == nil {
		hb = &hitBufs{}
	}
	base := 0
	for len(data)-base >= 3*seg {
		m.each3(data, base, seg, ov, hit, hb)
		base += 3 * seg
	}
	hitPool.Put(hb)
	if base == 0 {
		m.each1(data, 0, hit)
		return
	}
	m.each1(data[base-ov:], ov, func(end int, lit int32) { hit(base-ov+end, lit) })
}

// eachSeg is the span of each of Each's lockstep automata.
const eachSeg = 8 << 10

// hitBufs hold the hits of Each's second and third segments until the
// first one's are reported.
type hitBufs struct{ b, c []lhit }

type lhit struct {
	end int
	lit int32
}

var hitPool sync.Pool

// each1 runs one automaton over data from the start state, reporting hits
// that end past skip bytes (the warm-up).
func (m *Matcher) each1(data []byte, skip int, hit func(end int, lit int32)) {
	trans, col, matchAt, row := unsafe.Pointer(unsafe.SliceData(m.trans)), &m.col, m.matchAt, m.row
	st := uint32(0)
	for i, b := range data {
		st = at(trans, st+col[b])
		if st >= matchAt && i >= skip {
			k := (st - matchAt) / row
			for _, li := range m.outs[m.outStart[k]:m.outStart[k+1]] {
				hit(i+1, li)
			}
		}
	}
}

// each3 reports the hits ending in data[base:base+3*seg], three automata
// reading one segment each. The first segment starts warm-up bytes early
// too, except at the start of data.
func (m *Matcher) each3(data []byte, base, seg, ov int, hit func(end int, lit int32), hb *hitBufs) {
	trans, col, matchAt, row := unsafe.Pointer(unsafe.SliceData(m.trans)), &m.col, m.matchAt, m.row
	a0 := base - ov
	if base == 0 {
		a0 = 0
	}
	b0, c0 := base+seg-ov, base+2*seg-ov
	// the three read n bytes each; a, which may start later, ends with them
	n := seg + ov
	x := data[a0 : base+seg]
	y := data[b0 : b0+n]
	z := data[c0 : c0+n]
	hb.b, hb.c = hb.b[:0], hb.c[:0]
	var s, t, u uint32
	// a's first bytes alone, when it starts later than the others
	lag := n - len(x)
	for i := 0; i < lag; i++ {
		t = at(trans, t+col[y[i]])
		u = at(trans, u+col[z[i]])
	}
	for i := lag; i < n; i++ {
		s = at(trans, s+col[x[i-lag]])
		t = at(trans, t+col[y[i]])
		u = at(trans, u+col[z[i]])
		if s >= matchAt || t >= matchAt || u >= matchAt {
			if s >= matchAt && a0+i-lag >= base {
				k := (s - matchAt) / row
				for _, li := range m.outs[m.outStart[k]:m.outStart[k+1]] {
					hit(a0+i-lag+1, li)
				}
			}
			if t >= matchAt && i >= ov {
				k := (t - matchAt) / row
				for _, li := range m.outs[m.outStart[k]:m.outStart[k+1]] {
					hb.b = append(hb.b, lhit{b0 + i + 1, li})
				}
			}
			if u >= matchAt && i >= ov {
				k := (u - matchAt) / row
				for _, li := range m.outs[m.outStart[k]:m.outStart[k+1]] {
					hb.c = append(hb.c, lhit{c0 + i + 1, li})
				}
			}
		}
	}
	for _, h := range hb.b {
		hit(h.end, h.lit)
	}
	for _, h := range hb.c {
		hit(h.end, h.lit)
	}
}
