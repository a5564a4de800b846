package logs

// Prefilter finds any of a set of literals in a byte stream, ignoring ASCII
// case. It is an Aho-Corasick automaton compiled to a full DFA over byte
// classes: case folding is free (both cases share a class) and the hot loop
// is one table load per byte, which keeps whole-file scanning near memory
// speed without cgo or SIMD.
type Prefilter struct {
	class   [256]uint8
	nclass  int
	trans   []uint32 // premultiplied: next = trans[state + class]
	matchAt uint32   // states >= matchAt (premultiplied) are accepting
	empty   bool
}

// maxPrefilterStates bounds the automaton for hostile or huge literal sets.
const maxPrefilterStates = 1 << 16

// NewPrefilter compiles the literals. Empty literals are ignored; with no
// literals at all the prefilter matches nothing.
func NewPrefilter(lits []string) *Prefilter {
	p := &Prefilter{}
	// byte classes: 0 for bytes in no literal, one class per folded byte
	used := [256]bool{}
	n := 0
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			used[lower(l[i])] = true
		}
		n += len(l)
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
	}
	newNode := func() node {
		nx := make([]int32, p.nclass)
		for i := range nx {
			nx[i] = -1
		}
		return node{next: nx}
	}
	nodes := []node{newNode()}
	for _, l := range lits {
		if l == "" {
			continue
		}
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
	for i := range nodes {
		base := int(order[i]) * p.nclass
		for c := 0; c < p.nclass; c++ {
			p.trans[base+c] = uint32(int(order[nodes[i].next[c]]) * p.nclass)
		}
	}
	_ = n
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

// Index returns the offset just past the end of the first literal found in
// b, or -1.
func (p *Prefilter) Index(b []byte) int {
	if p.empty {
		return -1
	}
	trans, class, matchAt := p.trans, &p.class, p.matchAt
	s := uint32(0)
	for i, c := range b {
		s = trans[s+uint32(class[c])]
		if s >= matchAt {
			return i + 1
		}
	}
	return -1
}
