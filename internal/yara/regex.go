package yara

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSet is a set of byte values.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) union(o byteSet) { s[0] |= o[0]; s[1] |= o[1]; s[2] |= o[2]; s[3] |= o[3] }
func (s *byteSet) invert()         { s[0], s[1], s[2], s[3] = ^s[0], ^s[1], ^s[2], ^s[3] }
func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s.add(byte(c))
	}
}

func (s *byteSet) count() int {
	n := 0
	for c := 0; c < 256; c++ {
		if s.has(byte(c)) {
			n++
		}
	}
	return n
}

// fold adds the other case of every ASCII letter.
func (s *byteSet) fold() {
	for c := 'a'; c <= 'z'; c++ {
		if s.has(byte(c)) || s.has(byte(c-32)) {
			s.add(byte(c))
			s.add(byte(c - 32))
		}
	}
}

func allBytes() byteSet { return byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)} }

func oneByte(b byte) byteSet {
	var s byteSet
	s.add(b)
	return s
}

type reOp uint8

const (
	rClass  reOp = iota // one byte of set
	rConcat             // subs in order
	rAlt                // subs, first has priority
	rRepeat             // subs[0] min..max (max -1: unbounded)
	rEmpty
	rAssert // assert kind
)

const (
	aBOL = iota
	aEOL
	aWord
	aNotWord
)

// reNode is a node of a regular expression or hex string.
type reNode struct {
	op     reOp
	set    byteSet
	subs   []*reNode
	min    int
	max    int
	greedy bool
	jump   bool // a hex jump
	assert int
}

// maxRepeat is YARA's RE_MAX_RANGE.
const maxRepeat = 32767

type reParser struct {
	src    string
	pos    int
	nocase bool
	dotall bool
	depth  int
	greedy bool // a greedy quantifier was seen
	lazy   bool // a lazy one was seen
}

type reError struct{ msg string }

func (e *reError) Error() string { return e.msg }

// parseRegex parses a YARA regular expression (bytes, not runes).
func parseRegex(src string, nocase, dotall bool) (n *reNode, err error) {
	p := &reParser{src: src, nocase: nocase, dotall: dotall}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*reError)
			if !ok {
				panic(r)
			}
			n, err = nil, e
		}
	}()
	n = p.alt()
	if p.pos < len(p.src) {
		p.fail("syntax error: unexpected %q", p.src[p.pos])
	}
	if p.greedy && p.lazy {
		p.fail("greedy and ungreedy quantifiers can't be mixed in a regular expression")
	}
	return n, nil
}

func (p *reParser) fail(format string, args ...any) {
	panic(&reError{fmt.Sprintf(format, args...)})
}

func (p *reParser) alt() *reNode {
	p.depth++
	if p.depth > 100 {
		p.fail("regular expression nested too deeply")
	}
	defer func() { p.depth-- }()
	branches := []*reNode{p.concat()}
	for p.pos < len(p.src) && p.src[p.pos] == '|' {
		p.pos++
		branches = append(branches, p.concat())
	}
	if len(branches) == 1 {
		return branches[0]
	}
	return &reNode{op: rAlt, subs: branches}
}

func (p *reParser) concat() *reNode {
	var items []*reNode
	for p.pos < len(p.src) && p.src[p.pos] != '|' && p.src[p.pos] != ')' {
		items = append(items, p.repeat())
	}
	if len(items) == 0 {
		return &reNode{op: rEmpty}
	}
	if len(items) == 1 {
		return items[0]
	}
	return &reNode{op: rConcat, subs: items}
}

// interval parses {n}, {n,}, {,m} or {n,m} at pos; ok is false when the
// text is not an interval (then '{' is a literal).
func (p *reParser) interval() (lo, hi int, ok bool) {
	end := strings.IndexByte(p.src[p.pos:], '}')
	if end < 0 {
		return 0, 0, false
	}
	body := p.src[p.pos+1 : p.pos+end]
	num := func(s string) (int, bool) {
		if s == "" || len(s) > 6 {
			return 0, false
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		v, _ := strconv.Atoi(s)
		return v, true
	}
	a, b, comma := strings.Cut(body, ",")
	if !comma {
		v, ok := num(a)
		if !ok {
			return 0, 0, false
		}
		lo, hi = v, v
	} else {
		if a == "" {
			lo = 0
		} else if v, ok := num(a); ok {
			lo = v
		} else {
			return 0, 0, false
		}
		if b == "" {
			if a == "" {
				return 0, 0, false
			}
			hi = -1
		} else if v, ok := num(b); ok {
			hi = v
		} else {
			return 0, 0, false
		}
	}
	if lo > maxRepeat || hi > maxRepeat {
		p.fail("repeat interval too large")
	}
	if hi >= 0 && lo > hi {
		p.fail("bad repeat interval")
	}
	p.pos += end + 1
	return lo, hi, true
}

func (p *reParser) repeat() *reNode {
	n := p.atom()
	quantified := false
	for p.pos < len(p.src) {
		var lo, hi int
		switch p.src[p.pos] {
		case '*':
			lo, hi = 0, -1
			p.pos++
		case '+':
			lo, hi = 1, -1
			p.pos++
		case '?':
			lo, hi = 0, 1
			p.pos++
		case '{':
			var ok bool
			if lo, hi, ok = p.interval(); !ok {
				return n
			}
		default:
			return n
		}
		if quantified {
			p.fail("syntax error: repeated quantifier")
		}
		if n.op == rAssert || n.op == rEmpty {
			p.fail("syntax error: quantifier without operand")
		}
		quantified = true
		greedy := true
		if p.pos < len(p.src) && p.src[p.pos] == '?' {
			greedy = false
			p.pos++
		}
		p.greedy = p.greedy || greedy
		p.lazy = p.lazy || !greedy
		n = &reNode{op: rRepeat, subs: []*reNode{n}, min: lo, max: hi, greedy: greedy}
	}
	return n
}

func (p *reParser) atom() *reNode {
	c := p.src[p.pos]
	switch c {
	case '(':
		p.pos++
		if p.pos < len(p.src) && p.src[p.pos] == '?' {
			p.fail("syntax error: (? groups are not supported")
		}
		n := p.alt()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			p.fail("syntax error: missing )")
		}
		p.pos++
		return n
	case '[':
		return &reNode{op: rClass, set: p.class()}
	case '.':
		p.pos++
		s := allBytes()
		if !p.dotall {
			s[0] &^= 1 << '\n'
		}
		return &reNode{op: rClass, set: s}
	case '^':
		p.pos++
		return &reNode{op: rAssert, assert: aBOL}
	case '$':
		p.pos++
		return &reNode{op: rAssert, assert: aEOL}
	case '\\':
		p.pos++
		if p.pos >= len(p.src) {
			p.fail("syntax error: trailing backslash")
		}
		e := p.src[p.pos]
		switch e {
		case 'b':
			p.pos++
			return &reNode{op: rAssert, assert: aWord}
		case 'B':
			p.pos++
			return &reNode{op: rAssert, assert: aNotWord}
		}
		return &reNode{op: rClass, set: p.folded(p.escape(false))}
	case '*', '+', '?':
		p.fail("syntax error: quantifier without operand")
	case ')':
		p.fail("syntax error: unbalanced )")
	}
	p.pos++
	return &reNode{op: rClass, set: p.folded(oneByte(c))}
}

// folded applies nocase to a set of literal bytes. Classes are folded
// before they are negated: [^a-c] with nocase excludes A-C too.
func (p *reParser) folded(s byteSet) byteSet {
	if p.nocase {
		s.fold()
	}
	return s
}

// escape decodes the escape after a backslash at pos.
func (p *reParser) escape(inClass bool) byteSet {
	e := p.src[p.pos]
	p.pos++
	var s byteSet
	switch e {
	case 'w', 'W':
		s.addRange('a', 'z')
		s.addRange('A', 'Z')
		s.addRange('0', '9')
		s.add('_')
		if e == 'W' {
			s.invert()
		}
	case 's', 'S':
		for _, c := range []byte(" \t\n\r\f\v") {
			s.add(c)
		}
		if e == 'S' {
			s.invert()
		}
	case 'd', 'D':
		s.addRange('0', '9')
		if e == 'D' {
			s.invert()
		}
	case 'n':
		s.add('\n')
	case 't':
		s.add('\t')
	case 'r':
		s.add('\r')
	case 'f':
		s.add('\f')
	case 'a':
		s.add('\a')
	case 'x':
		if p.pos+1 >= len(p.src)+0 || unhex(p.src[p.pos]) < 0 || p.pos+1 >= len(p.src) || unhex(p.src[p.pos+1]) < 0 {
			p.fail(`syntax error: \x needs two hex digits`)
		}
		s.add(byte(unhex(p.src[p.pos])<<4 | unhex(p.src[p.pos+1])))
		p.pos += 2
	default:
		if e >= '1' && e <= '9' && !inClass {
			p.fail("backreferences are not allowed")
		}
		s.add(e)
	}
	return s
}

// class parses [...] at pos.
func (p *reParser) class() byteSet {
	p.pos++ // [
	var s byteSet
	neg := false
	if p.pos < len(p.src) && p.src[p.pos] == '^' {
		neg = true
		p.pos++
	}
	first := true
	for {
		if p.pos >= len(p.src) {
			p.fail("syntax error: missing ]")
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		// one element: a byte or an escape
		var lo int = -1
		var elem byteSet
		if c == '\\' {
			p.pos++
			if p.pos >= len(p.src) {
				p.fail("syntax error: missing ]")
			}
			elem = p.escape(true)
			if elem.count() == 1 {
				for b := 0; b < 256; b++ {
					if elem.has(byte(b)) {
						lo = b
					}
				}
			}
		} else {
			p.pos++
			lo = int(c)
			elem = oneByte(c)
		}
		// a range lo-hi
		if lo >= 0 && p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			hc := p.src[p.pos]
			hi := int(hc)
			if hc == '\\' {
				p.pos++
				if p.pos >= len(p.src) {
					p.fail("syntax error: missing ]")
				}
				he := p.escape(true)
				if he.count() != 1 {
					p.fail("syntax error: bad class range")
				}
				for b := 0; b < 256; b++ {
					if he.has(byte(b)) {
						hi = b
					}
				}
			} else {
				p.pos++
			}
			if hi < lo {
				p.fail("syntax error: bad class range")
			}
			elem.addRange(lo, hi)
		}
		s.union(elem)
	}
	s = p.folded(s)
	if neg {
		s.invert()
	}
	return s
}

// widen makes every byte of the pattern match that byte followed by a zero,
// as YARA's wide modifier does for regular expressions.
func widen(n *reNode) *reNode {
	switch n.op {
	case rClass:
		return &reNode{op: rConcat, subs: []*reNode{n, {op: rClass, set: oneByte(0)}}}
	case rConcat, rAlt, rRepeat:
		c := *n
		c.subs = make([]*reNode, len(n.subs))
		for i, s := range n.subs {
			c.subs[i] = widen(s)
		}
		return &c
	}
	return n
}

// parseHex parses the body of a hex string into the same tree: bytes are
// classes, ?? any byte, jumps lazy repeats of any byte.
func parseHex(src string) (n *reNode, err error) {
	h := &hexParser{src: src}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*reError)
			if !ok {
				panic(r)
			}
			n, err = nil, e
		}
	}()
	n = h.seq(0)
	h.space()
	if h.pos < len(h.src) {
		h.fail("syntax error in hex string: unexpected %q", h.src[h.pos])
	}
	return n, nil
}

type hexParser struct {
	src string
	pos int
}

func (h *hexParser) fail(format string, args ...any) {
	panic(&reError{fmt.Sprintf(format, args...)})
}

func (h *hexParser) space() {
	for h.pos < len(h.src) && strings.IndexByte(" \t\r\n", h.src[h.pos]) >= 0 {
		h.pos++
	}
}

// seq parses tokens up to ')' or '|' (inside alternatives) or the end.
func (h *hexParser) seq(depth int) *reNode {
	if depth > 50 {
		h.fail("hex string nested too deeply")
	}
	var items []*reNode
	for {
		h.space()
		if h.pos >= len(h.src) || h.src[h.pos] == '|' || h.src[h.pos] == ')' {
			break
		}
		c := h.src[h.pos]
		switch {
		case c == '[':
			items = append(items, h.jump(depth > 0))
		case c == '(':
			h.pos++
			alts := []*reNode{h.seq(depth + 1)}
			for h.pos < len(h.src) && h.src[h.pos] == '|' {
				h.pos++
				alts = append(alts, h.seq(depth+1))
			}
			if h.pos >= len(h.src) || h.src[h.pos] != ')' {
				h.fail("syntax error in hex string: missing )")
			}
			h.pos++
			if len(alts) < 2 {
				h.fail("syntax error in hex string: alternative needs '|'")
			}
			items = append(items, &reNode{op: rAlt, subs: alts})
		case c == '~':
			h.fail("syntax error in hex string: ~ is not supported by YARA 4.2")
		default:
			if h.pos+1 >= len(h.src) {
				h.fail("syntax error in hex string: odd number of digits")
			}
			hi, lo := h.src[h.pos], h.src[h.pos+1]
			h.pos += 2
			items = append(items, &reNode{op: rClass, set: nibbles(h, hi, lo)})
		}
	}
	if len(items) == 0 {
		h.fail("syntax error in hex string: empty sequence")
	}
	if items[0].jump || items[len(items)-1].jump {
		h.fail("syntax error in hex string: jump at the start or end")
	}
	if len(items) == 1 {
		return items[0]
	}
	return &reNode{op: rConcat, subs: items}
}

func nibbles(h *hexParser, hi, lo byte) byteSet {
	var s byteSet
	vh, vl := unhex(hi), unhex(lo)
	if (vh < 0 && hi != '?') || (vl < 0 && lo != '?') {
		h.fail("syntax error in hex string: bad byte %q", string([]byte{hi, lo}))
	}
	for b := 0; b < 256; b++ {
		if (hi == '?' || b>>4 == vh) && (lo == '?' || b&15 == vl) {
			s.add(byte(b))
		}
	}
	return s
}

// maxJump bounds hex jumps; larger ones are rejected as YARA does.
const maxJump = 1 << 30

func (h *hexParser) jump(inAlt bool) *reNode {
	end := strings.IndexByte(h.src[h.pos:], ']')
	if end < 0 {
		h.fail("syntax error in hex string: missing ]")
	}
	body := strings.ReplaceAll(h.src[h.pos+1:h.pos+end], " ", "")
	h.pos += end + 1
	num := func(s string) int {
		if s == "" || len(s) > 10 {
			h.fail("syntax error in hex string: bad jump [%s]", body)
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxJump {
			h.fail("syntax error in hex string: bad jump [%s]", body)
		}
		return v
	}
	lo, hi := 0, -1
	a, b, dash := strings.Cut(body, "-")
	switch {
	case !dash:
		lo = num(a)
		hi = lo
	case a == "" && b == "":
		lo, hi = 0, -1
	case b == "":
		lo = num(a)
	default:
		if a != "" {
			lo = num(a)
		}
		hi = num(b)
	}
	if hi >= 0 && lo > hi {
		h.fail("invalid jump length [%s]", body)
	}
	if inAlt && (hi < 0 || hi > 200) {
		h.fail("invalid jump in alternative: unbounded or larger than 200")
	}
	if hi == 0 {
		h.fail("invalid jump length [%s]", body)
	}
	return &reNode{op: rRepeat, subs: []*reNode{{op: rClass, set: allBytes()}}, min: lo, max: hi, jump: true}
}
