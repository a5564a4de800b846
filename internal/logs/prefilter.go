package logs

// Prefilter finds any of a set of literals in a byte stream, ignoring ASCII
// case. It is an Aho-Corasick automaton compiled to a full DFA over byte
// classes: case folding is free (both cases share a class) and the hot loop
// is one table load per byte, which keeps whole-file scanning near memory
// speed without cgo or SIMD.
type Prefilter struct {
	class  [256]uint8
	nclass int
	trans  []uint32 // premultiplied: next = trans[state + class]
	// abs is trans with accepting states made absorbing: Index stops at the
	// first match anyway, so it may test for one only every few bytes.
	abs []uint32
	// small is abs in 16 bits when the table fits: half the cache lines.
	small   []uint16
	matchAt uint32 // states >= matchAt (premultiplied) are accepting
	empty   bool
	maxLen  int
	// masks[state/nclass] is the set of groups whose literal ends in that
	// state (bit i for group i; groups past 63 share bit 63).
	masks []uint64
}

// maxPrefilterStates bounds the automaton for hostile or huge literal sets.
const maxPrefilterStates = 1 << 16

// NewPrefilter compiles the literals. Empty literals are ignored; with no
// literals at all the prefilter matches nothing.
func NewPrefilter(lits []string) *Prefilter {
	return NewPrefilterGroups([][]string{lits})
}

// NewPrefilterGroups compiles groups of literals (one group per rule, say);
// Mask then tells which groups have a literal in a line.
func NewPrefilterGroups(groups [][]string) *Prefilter {
	var lits []string
	var owner []int
	for g, ls := range groups {
		for _, l := range ls {
			lits = append(lits, l)
			owner = append(owner, min(g, 63))
		}
	}
	p := &Prefilter{}
	// byte classes: 0 for bytes in no literal, one class per folded byte
	used := [256]bool{}
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			used[lower(l[i])] = true
		}
	}
	p.nclass = 1
	for b := 0; b < 256; b++ {
		if used[b] {
			p.class[b] = uint8(p.nclass)
			p.nclass++
		}
	}
	for b := 0; b < 256; b++ {
		p.class[b] = p.class[lower(byte(b))]
	}
	// trie
	type node struct {
		next []int32
		fail int32
		out  bool
		mask uint64
	}
	newNode := func() node {
		nx := make([]int32, p.nclass)
		for i := range nx {
			nx[i] = -1
		}
		return node{next: nx}
	}
	nodes := []node{newNode()}
	for li, l := range lits {
		if l == "" {
			continue
		}
		p.maxLen = max(p.maxLen, len(l))
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := p.class[l[i]]
			if nodes[s].next[c] < 0 {
				if len(nodes) >= maxPrefilterStates {
					break
				}
				nodes[s].next[c] = int32(len(nodes))
				nodes = append(nodes, newNode())
			}
			s = nodes[s].next[c]
		}
		nodes[s].out = true
		nodes[s].mask |= 1 << owner[li]
	}
	if len(nodes) == 1 {
		p.empty = true
	}
	// failure links by BFS, completing the DFA in place
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < p.nclass; c++ {
		nx := nodes[0].next[c]
		if nx < 0 {
			nodes[0].next[c] = 0
		} else {
			nodes[nx].fail = 0
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if nodes[nodes[s].fail].out {
			nodes[s].out = true
		}
		nodes[s].mask |= nodes[nodes[s].fail].mask
		for c := 0; c < p.nclass; c++ {
			nx := nodes[s].next[c]
			if nx < 0 {
				nodes[s].next[c] = nodes[nodes[s].fail].next[c]
			} else {
				nodes[nx].fail = nodes[nodes[s].fail].next[c]
				queue = append(queue, nx)
			}
		}
	}
	// Renumber so accepting states come last: the hot loop then tests a
	// match with one comparison.
	order := make([]int32, len(nodes)) // old -> new
	k := int32(0)
	for i := range nodes {
		if !nodes[i].out {
			order[i] = k
			k++
		}
	}
	p.matchAt = uint32(int(k) * p.nclass)
	for i := range nodes {
		if nodes[i].out {
			order[i] = k
			k++
		}
	}
	p.trans = make([]uint32, len(nodes)*p.nclass)
	p.masks = make([]uint64, len(nodes))
	for i := range nodes {
		p.masks[order[i]] = nodes[i].mask
		base := int(order[i]) * p.nclass
		for c := 0; c < p.nclass; c++ {
			p.trans[base+c] = uint32(int(order[nodes[i].next[c]]) * p.nclass)
		}
	}
	p.abs = append([]uint32(nil), p.trans...)
	for st := int(p.matchAt); st < len(p.abs); st += p.nclass {
		for c := 0; c < p.nclass; c++ {
			p.abs[st+c] = uint32(st)
		}
	}
	return p
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// Empty reports whether the prefilter has no literals.
func (p *Prefilter) Empty() bool { return p.empty }

// segSize is the span each of Index's two interleaved automata reads
// before both are tested: large enough to keep both busy, small enough that
// work past an early match stays cheap.
const segSize = 1024

// Index returns the offset just past the end of the first literal found in
// b, or -1.
//
// One automaton is bound by the latency of its table loads: each step waits
// for the previous state. Index therefore runs two over neighbouring
// segments at once. Each segment starts maxLen-1 bytes early, so a literal
// crossing a boundary is seen whole by the segment it ends in.
func (p *Prefilter) Index(b []byte) int {
	if p.empty {
		return -1
	}
	ov := p.maxLen - 1
	if len(b) < 4*segSize || ov >= segSize/2 {
		return p.index1(b)
	}
	// Where candidate lines are dense the next match is near: look there
	// with one automaton before paying for two segments.
	if i := p.index1(b[:segSize]); i >= 0 {
		return i
	}
	for base := segSize; base < len(b); base += 2 * segSize {
		a0, a1 := max(0, base-ov), min(len(b), base+segSize)
		b0, b1 := base+segSize-ov, min(len(b), base+2*segSize)
		if b0 >= len(b) || b1-b0 <= ov {
			if i := p.index1(b[a0:]); i >= 0 {
				return a0 + i
			}
			return -1
		}
		sa, sb := pair(p.abs, &p.class, p.matchAt, b[a0:a1], b[b0:b1])
		if sa {
			return a0 + p.index1(b[a0:a1])
		}
		if sb {
			return b0 + p.index1(b[b0:b1])
		}
	}
	return -1
}

// pair runs the absorbing automaton over x and y in lockstep and reports
// whether each ended in a match.
func pair(trans []uint32, class *[256]uint8, matchAt uint32, x, y []byte) (bool, bool) {
	var s, t uint32
	n := min(len(x), len(y))
	x, y = x[:len(x):len(x)], y[:len(y):len(y)]
	i := 0
	for ; i+4 <= n; i += 4 {
		cx, cy := x[i:i+4:i+4], y[i:i+4:i+4]
		s = trans[s+uint32(class[cx[0]])]
		t = trans[t+uint32(class[cy[0]])]
		s = trans[s+uint32(class[cx[1]])]
		t = trans[t+uint32(class[cy[1]])]
		s = trans[s+uint32(class[cx[2]])]
		t = trans[t+uint32(class[cy[2]])]
		s = trans[s+uint32(class[cx[3]])]
		t = trans[t+uint32(class[cy[3]])]
	}
	for ; i < len(x); i++ {
		s = trans[s+uint32(class[x[i]])]
	}
	for j := i; j < len(y); j++ {
		t = trans[t+uint32(class[y[j]])]
	}
	return s >= matchAt, t >= matchAt
}

// index1 is Index with one automaton.
func (p *Prefilter) index1(b []byte) int { return index1(p, b) }

// index1 scans bytes or a string: rules test single field values.
func index1[T ~string | ~[]byte](p *Prefilter, b T) int {
	trans, class, matchAt := p.abs, &p.class, p.matchAt
	s := uint32(0)
	i := 0
	// Eight transitions, then one test: accepting states are absorbing, so
	// a match inside the eight is still visible at the end of them.
	for ; i+8 <= len(b); i += 8 {
		s0 := s
		c := b[i : i+8]
		s = trans[s+uint32(class[c[0]])]
		s = trans[s+uint32(class[c[1]])]
		s = trans[s+uint32(class[c[2]])]
		s = trans[s+uint32(class[c[3]])]
		s = trans[s+uint32(class[c[4]])]
		s = trans[s+uint32(class[c[5]])]
		s = trans[s+uint32(class[c[6]])]
		s = trans[s+uint32(class[c[7]])]
		if s >= matchAt {
			s = s0
			for j := i; ; j++ {
				s = trans[s+uint32(class[b[j]])]
				if s >= matchAt {
					return j + 1
				}
			}
		}
	}
	for ; i < len(b); i++ {
		s = trans[s+uint32(class[b[i]])]
		if s >= matchAt {
			return i + 1
		}
	}
	return -1
}

// Mask returns the groups with at least one literal in s.
func (p *Prefilter) Mask(s string) uint64 {
	if p.empty {
		return 0
	}
	trans, class, matchAt, nc := p.trans, &p.class, p.matchAt, uint32(p.nclass)
	var m uint64
	st := uint32(0)
	for i := 0; i < len(s); i++ {
		st = trans[st+uint32(class[s[i]])]
		if st >= matchAt {
			m |= p.masks[st/nc]
		}
	}
	return m
}
