package detect

import "strings"

// glob matches Sigma wildcard values: '*' any run, '?' one character, '\'
// escapes them. Matching folds ASCII and Unicode case unless cased.
type glob struct {
	// parts alternate literal segments split at '*'; each segment may hold
	// '?' positions recorded in qmarks.
	segs     []globSeg
	anchorL  bool // pattern does not start with '*'
	anchorR  bool // pattern does not end with '*'
	cased    bool
	onlyLits bool // no '?' anywhere: segments compare with fast string ops
}

type globSeg struct {
	lit string
	// q marks positions (byte offsets in lit) that match any one character.
	q []bool
}

func newGlob(p string, cased bool) *glob {
	g := &glob{cased: cased, onlyLits: true}
	var cur strings.Builder
	var q []bool
	flush := func() {
		s := cur.String()
		if !cased {
			s = strings.ToLower(s)
			// ToLower can change byte lengths for non-ASCII; '?' positions
			// are then meaningless, so such patterns fall back to runes.
		}
		g.segs = append(g.segs, globSeg{lit: s, q: q})
		cur.Reset()
		q = nil
	}
	g.anchorL = !strings.HasPrefix(p, "*")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '?' || p[i+1] == '\\'):
			cur.WriteByte(p[i+1])
			q = append(q, false)
			i++
		case c == '*':
			flush()
		case c == '?':
			cur.WriteByte('?')
			q = append(q, true)
			g.onlyLits = false
		default:
			cur.WriteByte(c)
			q = append(q, false)
		}
	}
	flush()
	g.anchorR = !(strings.HasSuffix(p, "*") && !strings.HasSuffix(p, `\*`))
	if !g.onlyLits {
		for _, s := range g.segs {
			if len(s.q) != len(s.lit) {
				// non-ASCII case folding changed lengths: treat '?' literally
				g.onlyLits = true
			}
		}
	}
	return g
}

func (g *glob) match(v string) bool {
	fold := false
	if !g.cased {
		// ASCII values compare folded in place; lowering a copy of every
		// value for every pattern dominated rule evaluation on events
		if isASCII(v) {
			fold = true
		} else {
			v = strings.ToLower(v)
		}
	}
	return g.matchFold(v, fold)
}

func isASCII(v string) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		if x&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if v[i] >= 0x80 {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (g *glob) matchFold(v string, fold bool) bool {
	n := len(g.segs)
	if n == 1 {
		s := g.segs[0]
		switch {
		case g.anchorL && g.anchorR:
			return len(v) == len(s.lit) && g.segEq(s, v, fold)
		case g.anchorL:
			return len(v) >= len(s.lit) && g.segEq(s, v[:len(s.lit)], fold)
		case g.anchorR:
			return len(v) >= len(s.lit) && g.segEq(s, v[len(v)-len(s.lit):], fold)
		default:
			return g.index(s, v, fold) >= 0
		}
	}
	// first segment anchored left, last anchored right, middle ones in order
	first, last := g.segs[0], g.segs[n-1]
	if g.anchorL {
		if len(v) < len(first.lit) || !g.segEq(first, v[:len(first.lit)], fold) {
			return false
		}
		v = v[len(first.lit):]
	} else {
		i := g.index(first, v, fold)
		if i < 0 {
			return false
		}
		v = v[i+len(first.lit):]
	}
	for _, s := range g.segs[1 : n-1] {
		i := g.index(s, v, fold)
		if i < 0 {
			return false
		}
		v = v[i+len(s.lit):]
	}
	if g.anchorR {
		return len(v) >= len(last.lit) && g.segEq(last, v[len(v)-len(last.lit):], fold)
	}
	return g.index(last, v, fold) >= 0
}

// segEq compares a segment with an equally long part of the value; fold
// lowers the value's ASCII letters as it goes (the segment is lower case).
func (g *glob) segEq(s globSeg, v string, fold bool) bool {
	if g.onlyLits && !fold {
		return v == s.lit
	}
	for i := 0; i < len(s.lit); i++ {
		c := v[i]
		if fold {
			c = lowerByte(c)
		}
		if c != s.lit[i] && (g.onlyLits || !s.q[i]) {
			return false
		}
	}
	return true
}

func (g *glob) index(s globSeg, v string, fold bool) int {
	if g.onlyLits && !fold {
		return strings.Index(v, s.lit)
	}
	if len(s.lit) == 0 {
		return 0
	}
	first := s.lit[0]
	anyFirst := !g.onlyLits && s.q[0]
	up := first
	if 'a' <= first && first <= 'z' {
		up = first - 'a' + 'A'
	}
	for i := 0; i+len(s.lit) <= len(v); i++ {
		if c := v[i]; !anyFirst && c != first && (!fold || c != up) {
			continue
		}
		if g.segEq(s, v[i:i+len(s.lit)], fold) {
			return i
		}
	}
	return -1
}
