package literal

// segSize is the span each of index's interleaved automata reads before
// they are tested: large enough to keep them busy, small enough that work
// past an early match stays cheap.
const segSize = 1024

// index finds the first match end in b, or -1.
//
// One automaton is bound by the latency of its table loads: each step waits
// for the previous state. index therefore runs three over neighbouring
// segments at once (three measured faster than two or four on two-core
// amd64: four spill registers). Each segment starts maxLen-1 bytes early,
// so a literal crossing a boundary is seen whole by the segment it ends in.
func index[T ~string | ~[]byte](m *Matcher, b T) int {
	ov := m.maxLen - 1
	if len(b) < 4*segSize || ov >= segSize/2 {
		return index1(m, b)
	}
	// Where candidate lines are dense the next match is near: look there
	// with one automaton before paying for three segments.
	if i := index1(m, b[:segSize]); i >= 0 {
		return i
	}
	for base := segSize; base < len(b); {
		// the last round shares what is left between the three
		seg := min(segSize, (len(b)-base+2)/3)
		if seg <= 2*ov || seg < 64 {
			a0 := base - ov
			if i := index1(m, b[a0:]); i >= 0 {
				return a0 + i
			}
			return -1
		}
		a0, b0, c0, end := base-ov, base+seg-ov, base+2*seg-ov, min(len(b), base+3*seg)
		sa, sb, sc := triple(m, b[a0:b0+ov], b[b0:c0+ov], b[c0:end])
		switch {
		case sa:
			return a0 + index1(m, b[a0:b0+ov])
		case sb:
			return b0 + index1(m, b[b0:c0+ov])
		case sc:
			return c0 + index1(m, b[c0:end])
		}
		base = end
	}
	return -1
}

// triple runs the absorbing automaton over x, y and z in lockstep and
// reports whether each ended in a match. z may be up to two bytes shorter.
func triple[T ~string | ~[]byte](m *Matcher, x, y, z T) (bool, bool, bool) {
	trans, col, matchAt := m.absorbing(), &m.col, m.matchAt
	var s, t, u uint32
	n := min(len(x), len(y), len(z))
	for i := 0; i < n; i++ {
		s = at(trans, s+col[x[i]])
		t = at(trans, t+col[y[i]])
		u = at(trans, u+col[z[i]])
	}
	for i := n; i < len(x); i++ {
		s = at(trans, s+col[x[i]])
	}
	for i := n; i < len(y); i++ {
		t = at(trans, t+col[y[i]])
	}
	return s >= matchAt, t >= matchAt, u >= matchAt
}

// index1 is index with one automaton.
func index1[T ~string | ~[]byte](m *Matcher, b T) int {
	trans, col, matchAt := m.absorbing(), &m.col, m.matchAt
	s := uint32(0)
	i := 0
	// Eight transitions, then one test: accepting states are absorbing, so
	// a match inside the eight is still visible at the end of them.
	for ; i+8 <= len(b); i += 8 {
		s0 := s
		c := b[i : i+8]
		s = at(trans, s+col[c[0]])
		s = at(trans, s+col[c[1]])
		s = at(trans, s+col[c[2]])
		s = at(trans, s+col[c[3]])
		s = at(trans, s+col[c[4]])
		s = at(trans, s+col[c[5]])
		s = at(trans, s+col[c[6]])
		s = at(trans, s+col[c[7]])
		if s >= matchAt {
			s = s0
			for j := i; ; j++ {
				s = at(trans, s+col[b[j]])
				if s >= matchAt {
					return j + 1
				}
			}
		}
	}
	for ; i < len(b); i++ {
		s = at(trans, s+col[b[i]])
		if s >= matchAt {
			return i + 1
		}
	}
	return -1
}
