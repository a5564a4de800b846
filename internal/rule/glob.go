package rule

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
	if !g.cased {
		v = lowerASCIIOrUnicode(v)
	}
	n := len(g.segs)
	if n == 1 {
		s := g.segs[0]
		switch {
		case g.anchorL && g.anchorR:
			return len(v) == len(s.lit) && g.segEq(s, v)
		case g.anchorL:
			return len(v) >= len(s.lit) && g.segEq(s, v[:len(s.lit)])
		case g.anchorR:
			return len(v) >= len(s.lit) && g.segEq(s, v[len(v)-len(s.lit):])
		default:
			return g.index(s, v) >= 0
		}
	}
	// first segment anchored left, last anchored right, middle ones in order
	first, last := g.segs[0], g.segs[n-1]
	if g.anchorL {
		if len(v) < len(first.lit) || !g.segEq(first, v[:len(first.lit)]) {
			return false
		}
		v = v[len(first.lit):]
	} else {
		i := g.index(first, v)
		if i < 0 {
			return false
		}
		v = v[i+len(first.lit):]
	}
	for _, s := range g.segs[1 : n-1] {
		i := g.index(s, v)
		if i < 0 {
			return false
		}
		v = v[i+len(s.lit):]
	}
	if g.anchorR {
		return len(v) >= len(last.lit) && g.segEq(last, v[len(v)-len(last.lit):])
	}
	return g.index(last, v) >= 0
}

func (g *glob) segEq(s globSeg, v string) bool {
	if g.onlyLits {
		return v == s.lit
	}
	for i := 0; i < len(s.lit); i++ {
		if !s.q[i] && s.lit[i] != v[i] {
			return false
		}
	}
	return true
}

func (g *glob) index(s globSeg, v string) int {
	if g.onlyLits {
		return strings.Index(v, s.lit)
	}
	for i := 0; i+len(s.lit) <= len(v); i++ {
		if g.segEq(s, v[i:i+len(s.lit)]) {
			return i
		}
	}
	return -1
}

// lowerASCIIOrUnicode lowercases without allocating when v has no upper case.
func lowerASCIIOrUnicode(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 || ('A' <= c && c <= 'Z') {
			return strings.ToLower(v)
		}
	}
	return v
}
