package literal

// segSize is the span each of index's two interleaved automata reads before
// both are tested: large enough to keep both busy, small enough that work
// past an early match stays cheap.
const segSize = 1024

// index finds the first match end in b, or -1.
//
// One automaton is bound by the latency of its table loads: each step waits
// for the previous state. index therefore runs two over neighbouring
// segments at once. Each segment starts maxLen-1 bytes early, so a literal
// crossing a boundary is seen whole by the segment it ends in.
func index[T ~string | ~[]byte](m *Matcher, b T) int {
	ov := m.maxLen - 1
	if len(b) < 4*segSize || ov >= segSize/2 {
		return index1(m, b)
	}
	// Where candidate lines are dense the next match is near: look there
	// with one automaton before paying for two segments.
	if i := index1(m, b[:segSize]); i >= 0 {
		return i
	}
	for base := segSize; base < len(b); base += 2 * segSize {
		a0, a1 := max(0, base-ov), min(len(b), base+segSize)
		b0, b1 := base+segSize-ov, min(len(b), base+2*segSize)
		if b0 >= len(b) || b1-b0 <= ov {
			if i := index1(m, b[a0:]); i >= 0 {
				return a0 + i
			}
			return -1
		}
		sa, sb := pair(m.abs, &m.class, m.matchAt, b[a0:a1], b[b0:b1])
		if sa {
			return a0 + index1(m, b[a0:a1])
		}
		if sb {
			return b0 + index1(m, b[b0:b1])
		}
	}
	return -1
}

// pair runs the absorbing automaton over x and y in lockstep and reports
// whether each ended in a match.
func pair[T ~string | ~[]byte](trans []uint32, class *[256]uint8, matchAt uint32, x, y T) (bool, bool) {
	var s, t uint32
	n := min(len(x), len(y))
	i := 0
	for ; i+4 <= n; i += 4 {
		cx, cy := x[i:i+4], y[i:i+4]
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

// index1 is index with one automaton.
func index1[T ~string | ~[]byte](m *Matcher, b T) int {
	trans, class, matchAt := m.abs, &m.class, m.matchAt
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
