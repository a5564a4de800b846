package yara

import "errors"

// automaton is an Aho-Corasick DFA over ASCII-case-folded bytes. Atoms are
// folded when added, so one automaton serves case-sensitive and nocase
// strings alike; the confirmation step checks case where it matters.
type automaton struct {
	cls   [256]uint16 // byte -> class (letters share their lowercase class)
	ncls  int
	delta []int32 // state*ncls+class -> next*ncls<<1 | hasOutput
	// outputs of a state (its own atoms and those of its suffixes)
	outStart []int32
	outs     []int32
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 32
	}
	return b
}

// maxDFACells bounds the automaton's table (4 bytes a cell).
const maxDFACells = 64 << 20

var errAutomatonTooLarge = errors.New("too many atoms: automaton too large")

// buildAutomaton builds the DFA for atoms; outputs are atom indices.
func buildAutomaton(atoms [][]byte) (*automaton, error) {
	a := &automaton{}
	// byte classes: each folded byte used by an atom gets its own class
	var used [256]bool
	for _, at := range atoms {
		for _, b := range at {
			used[lower(b)] = true
		}
	}
	n := 1
	var classOf [256]uint16
	for b := 0; b < 256; b++ {
		if used[b] && !(b >= 'A' && b <= 'Z') {
			classOf[b] = uint16(n)
			n++
		}
	}
	for b := 0; b < 256; b++ {
		a.cls[b] = classOf[lower(byte(b))]
	}
	a.ncls = n

	// trie
	type node struct {
		next map[uint16]int32
		out  []int32
	}
	nodes := []node{{next: map[uint16]int32{}}}
	for i, at := range atoms {
		s := int32(0)
		for _, b := range at {
			c := a.cls[b]
			nx, ok := nodes[s].next[c]
			if !ok {
				nodes = append(nodes, node{next: map[uint16]int32{}})
				nx = int32(len(nodes) - 1)
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, int32(i))
	}
	if len(nodes)*n > maxDFACells || len(nodes)*n >= 1<<30 {
		return nil, errAutomatonTooLarge
	}
	// breadth-first: failure links, full transitions, merged outputs
	fail := make([]int32, len(nodes))
	delta := make([]int32, len(nodes)*n) // plain next state for now
	order := make([]int32, 0, len(nodes))
	for c, nx := range nodes[0].next {
		delta[int(c)] = nx
		order = append(order, nx)
	}
	for i := 0; i < len(order); i++ {
		s := order[i]
		for c := 0; c < n; c++ {
			nx, ok := nodes[s].next[uint16(c)]
			if !ok {
				delta[int(s)*n+c] = delta[int(fail[s])*n+c]
				continue
			}
			fail[nx] = delta[int(fail[s])*n+c]
			delta[int(s)*n+c] = nx
			order = append(order, nx)
		}
	}
	// outputs: own atoms then the failure state's (already merged: BFS order)
	merged := make([][]int32, len(nodes))
	merged[0] = nodes[0].out
	for _, s := range order {
		merged[s] = append(append([]int32(nil), nodes[s].out...), merged[fail[s]]...)
	}
	a.outStart = make([]int32, len(nodes)+1)
	for s := range nodes {
		a.outStart[s] = int32(len(a.outs))
		a.outs = append(a.outs, merged[s]...)
	}
	a.outStart[len(nodes)] = int32(len(a.outs))
	// cells hold the next state's row offset (state*n), so the scan loop
	// needs no multiplication, and a flag for states with outputs
	for i, nx := range delta {
		v := nx * int32(n) << 1
		if len(merged[nx]) > 0 {
			v |= 1
		}
		delta[i] = v
	}
	a.delta = delta
	return a, nil
}

func (a *automaton) states() int { return len(a.outStart) - 1 }

// scan runs the automaton over data and calls hit(end, atom) for every atom
// occurrence, end being the offset just past it, in increasing end order.
func (a *automaton) scan(data []byte, hit func(end int, atom int32)) {
	delta, cls, n := a.delta, &a.cls, a.ncls
	row := 0
	for i, b := range data {
		v := delta[row+int(cls[b])]
		row = int(v >> 1)
		if v&1 != 0 {
			s := row / n
			for _, at := range a.outs[a.outStart[s]:a.outStart[s+1]] {
				hit(i+1, at)
			}
		}
	}
}
