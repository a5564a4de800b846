package yara

import "bytes"

// Atoms are the fixed byte sequences fed to the automaton: a match of a
// pattern must contain one of its atoms at a known distance (or range of
// distances) from the match start.

// maxAtom is the longest atom taken from a string; xor variants use
// maxXorAtom to keep 256 keys' worth of atoms small.
const (
	maxAtom    = 12
	maxXorAtom = 4
	// backLimit bounds how far before its atom a match may start (YARA's
	// RE_SCAN_LIMIT, used for its backward matching).
	backLimit = 4096
	// fwdLimit bounds how far past its atom a match may extend.
	fwdLimit = 4096
)

type atomCand struct {
	lit            []byte // folded
	minPre, maxPre int    // distance from the match start to the atom
}

// byteWeight scores how selective a byte is in typical files.
func byteWeight(b byte) int {
	switch b {
	case 0x00, 0xff:
		return 1
	case ' ', '\t', '\n', '\r', 0xcc, 0x90:
		return 2
	}
	if isWordByte(b) {
		return 4
	}
	return 5
}

// bestWindow picks the most selective window of at most max bytes.
func bestWindow(lit []byte, maxLen int) (off, n, score int) {
	if len(lit) <= maxLen {
		s := 0
		for _, b := range lit {
			s += byteWeight(b)
		}
		return 0, len(lit), s
	}
	best, bestOff := -1, 0
	for i := 0; i+maxLen <= len(lit); i++ {
		s := 0
		w := lit[i : i+maxLen]
		for j, b := range w {
			s += byteWeight(b)
			if bytes.IndexByte(w[:j], b) < 0 {
				s++ // distinct bytes make better atoms
			}
		}
		if s > best {
			best, bestOff = s, i
		}
	}
	return bestOff, maxLen, best
}

func foldBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lower(c)
	}
	return out
}

// literalAtom returns the atom of a fixed byte sequence.
func literalAtom(lit []byte, maxLen int) atomCand {
	off, n, _ := bestWindow(lit, maxLen)
	return atomCand{lit: foldBytes(lit[off : off+n]), minPre: off, maxPre: off}
}

// width returns the minimum and maximum length of what n matches (max -1:
// unbounded).
func width(n *reNode) (int, int) {
	switch n.op {
	case rClass:
		return 1, 1
	case rEmpty, rAssert:
		return 0, 0
	case rConcat:
		lo, hi := 0, 0
		for _, s := range n.subs {
			a, b := width(s)
			lo += a
			if hi >= 0 {
				if b < 0 {
					hi = -1
				} else {
					hi += b
				}
			}
		}
		return lo, hi
	case rAlt:
		lo, hi := -1, 0
		for _, s := range n.subs {
			a, b := width(s)
			if lo < 0 || a < lo {
				lo = a
			}
			if hi >= 0 && (b < 0 || b > hi) {
				hi = b
			}
		}
		return lo, hi
	case rRepeat:
		a, b := width(n.subs[0])
		hi := -1
		if n.max >= 0 && b >= 0 {
			hi = n.max * b
		}
		return n.min * a, hi
	}
	return 0, -1
}

// foldedByte reports whether a class is one byte up to ASCII case, and
// which (folded).
func foldedByte(s byteSet) (byte, bool) {
	c := -1
	for b := 0; b < 256; b++ {
		if !s.has(byte(b)) {
			continue
		}
		l := int(lower(byte(b)))
		if c >= 0 && c != l {
			return 0, false
		}
		c = l
	}
	if c < 0 {
		return 0, false
	}
	// a set of {x, X} or {x} or {X}; other bytes that fold to x are none
	return byte(c), true
}

func flatten(n *reNode, out []*reNode) []*reNode {
	if n.op == rConcat {
		for _, s := range n.subs {
			out = flatten(s, out)
		}
		return out
	}
	return append(out, n)
}

// treeAtoms returns atoms for a pattern tree, one of which every match
// contains, or nil when there is no usable one.
func treeAtoms(n *reNode, maxLen int) []atomCand {
	items := flatten(n, nil)
	if len(items) == 1 && items[0].op == rAlt {
		var all []atomCand
		for _, b := range items[0].subs {
			a := treeAtoms(b, maxLen)
			if a == nil {
				return nil
			}
			all = append(all, a...)
		}
		return all
	}
	type run struct {
		lit          []byte
		preLo, preHi int
	}
	var runs []run
	var cur *run
	lo, hi := 0, 0
	for _, it := range items {
		if it.op == rClass {
			if b, ok := foldedByte(it.set); ok {
				if cur == nil {
					runs = append(runs, run{preLo: lo, preHi: hi})
					cur = &runs[len(runs)-1]
				}
				cur.lit = append(cur.lit, b)
				lo++
				if hi >= 0 {
					hi++
				}
				continue
			}
		}
		cur = nil
		a, b := width(it)
		lo += a
		if hi >= 0 {
			if b < 0 {
				hi = -1
			} else {
				hi += b
			}
		}
	}
	best := -1 << 30
	var out *atomCand
	for _, r := range runs {
		off, n, score := bestWindow(r.lit, maxLen)
		pl, ph := r.preLo+off, r.preHi
		if ph < 0 || ph+off > backLimit {
			ph = backLimit
		} else {
			ph += off
		}
		if pl > ph {
			continue // the atom can only occur past the backward limit
		}
		// a range of starts costs one attempt each
		score -= (ph - pl) / 8
		if score > best {
			best = score
			out = &atomCand{lit: append([]byte(nil), r.lit[off:off+n]...), minPre: pl, maxPre: ph}
		}
	}
	if out == nil {
		return nil
	}
	return []atomCand{*out}
}
