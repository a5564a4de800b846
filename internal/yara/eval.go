package yara

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
)

type vkind uint8

const (
	vUndef vkind = iota
	vBool
	vInt
	vFloat
	vStr
)

// value is the result of a condition sub-expression; vUndef is YARA's
// UNDEFINED.
type value struct {
	k vkind
	i int64
	f float64
	s string
}

var undef = value{}

func intVal(i int64) value     { return value{k: vInt, i: i} }
func floatVal(f float64) value { return value{k: vFloat, f: f} }
func strVal(s string) value    { return value{k: vStr, s: s} }
func boolVal(b bool) value {
	if b {
		return value{k: vBool, i: 1}
	}
	return value{k: vBool}
}

// truth is the boolean meaning of a value; undefined is false.
func (v value) truth() bool {
	switch v.k {
	case vBool, vInt:
		return v.i != 0
	case vFloat:
		return v.f != 0
	case vStr:
		return v.s != ""
	}
	return false
}

func (v value) num() (int64, float64, bool) {
	switch v.k {
	case vFloat:
		return int64(v.f), v.f, true
	case vInt, vBool:
		return v.i, float64(v.i), false
	}
	return 0, 0, false
}

// maxLoopSteps bounds the iterations of for loops in one scan: a hostile
// rule like "for all i in (0..0x7fffffffffffffff)" must not hang. Past the
// budget a loop is undefined.
const maxLoopSteps = 1 << 24

type evalCtx struct {
	r       *Rules
	st      *scanState
	ext     []value
	rule    *crule
	loops   []int64
	anon    []int // global string index bound by the innermost for-of
	results []int8
	steps   int
	over    bool // loop budget exceeded
}

func (c *evalCtx) sid(local int) int {
	if local < 0 {
		if len(c.anon) == 0 {
			return -1
		}
		return c.anon[len(c.anon)-1]
	}
	return c.rule.strs[local]
}

func (c *evalCtx) matchesOf(local int) []rawMatch {
	s := c.sid(local)
	if s < 0 {
		return nil
	}
	return c.st.matches[s]
}

// firstAtOrAfter returns the index of the first match starting at or after off.
func firstAtOrAfter(ms []rawMatch, off int64) int {
	return sort.Search(len(ms), func(i int) bool { return ms[i].start >= off })
}

func (c *evalCtx) rangeOf(lo, hi *expr) (int64, int64, bool) {
	a, b := c.eval(lo), c.eval(hi)
	if a.k == vUndef || b.k == vUndef {
		return 0, 0, false
	}
	x, _, _ := a.num()
	y, _, _ := b.num()
	return x, y, true
}

func quantify(q int, qv value, count, n int) value {
	switch q {
	case qAll:
		return boolVal(count == n)
	case qAny:
		return boolVal(count >= 1)
	case qNone:
		return boolVal(count == 0)
	}
	if qv.k == vUndef {
		return undef
	}
	k, _, _ := qv.num()
	if q == qPercent {
		return boolVal(int64(count)*100 >= k*int64(n))
	}
	if k == 0 {
		return boolVal(count == 0)
	}
	return boolVal(int64(count) >= k)
}

func (c *evalCtx) eval(e *expr) value {
	switch e.kind {
	case eBool:
		return boolVal(e.b)
	case eInt:
		return intVal(e.i)
	case eFloat:
		return floatVal(e.f)
	case eStr:
		return strVal(e.s)
	case eFilesize:
		return intVal(c.st.filesize)
	case eIdent:
		switch {
		case e.loop >= 0:
			return intVal(c.loops[e.loop])
		case e.ext >= 0:
			return c.ext[e.ext]
		case e.ref >= 0:
			return boolVal(c.results[e.ref] == 1)
		}
		return undef
	case eStrMatch:
		ms := c.matchesOf(e.str)
		switch e.op {
		case "at":
			v := c.eval(e.args[0])
			if v.k == vUndef {
				return undef
			}
			off, _, _ := v.num()
			i := firstAtOrAfter(ms, off)
			return boolVal(i < len(ms) && ms[i].start == off)
		case "in":
			lo, hi, ok := c.rangeOf(e.args[0], e.args[1])
			if !ok {
				return undef
			}
			i := firstAtOrAfter(ms, lo)
			return boolVal(i < len(ms) && ms[i].start <= hi)
		}
		return boolVal(len(ms) > 0)
	case eCount:
		ms := c.matchesOf(e.str)
		if e.op == "in" {
			lo, hi, ok := c.rangeOf(e.args[0], e.args[1])
			if !ok {
				return undef
			}
			if hi < lo {
				return intVal(0)
			}
			i := firstAtOrAfter(ms, lo)
			j := firstAtOrAfter(ms, hi+1)
			if hi == 1<<63-1 {
				j = len(ms)
			}
			return intVal(int64(j - i))
		}
		return intVal(int64(len(ms)))
	case eOffset, eLength:
		ms := c.matchesOf(e.str)
		v := c.eval(e.args[0])
		if v.k == vUndef {
			return undef
		}
		i, _, _ := v.num()
		if i < 1 || i > int64(len(ms)) {
			return undef
		}
		if e.kind == eOffset {
			return intVal(ms[i-1].start)
		}
		return intVal(ms[i-1].length)
	case eOf:
		var lo, hi int64
		ranged := e.op == "in"
		if ranged {
			var ok bool
			if lo, hi, ok = c.rangeOf(e.args[0], e.args[1]); !ok {
				return undef
			}
		}
		count := 0
		for _, s := range e.strs {
			ms := c.st.matches[c.rule.strs[s]]
			if ranged {
				i := firstAtOrAfter(ms, lo)
				if i < len(ms) && ms[i].start <= hi {
					count++
				}
			} else if len(ms) > 0 {
				count++
			}
		}
		var qv value
		if e.quant != nil {
			qv = c.eval(e.quant)
		}
		return quantify(e.qkind, qv, count, len(e.strs))
	case eForOf:
		var qv value
		if e.quant != nil {
			qv = c.eval(e.quant)
		}
		count := 0
		for _, s := range e.strs {
			c.anon = append(c.anon, c.rule.strs[s])
			if c.eval(e.body).truth() {
				count++
			}
			c.anon = c.anon[:len(c.anon)-1]
		}
		return quantify(e.qkind, qv, count, len(e.strs))
	case eForIn:
		return c.forIn(e)
	case eUnary:
		v := c.eval(e.args[0])
		switch e.op {
		case "not":
			if v.k == vUndef {
				return undef
			}
			return boolVal(!v.truth())
		case "defined":
			return boolVal(v.k != vUndef)
		case "-":
			switch v.k {
			case vFloat:
				return floatVal(-v.f)
			case vInt, vBool:
				return intVal(-v.i)
			}
			return undef
		default: // ~
			if v.k == vUndef {
				return undef
			}
			i, _, _ := v.num()
			return intVal(^i)
		}
	case eBinary:
		return c.binary(e)
	case eCall:
		if mathFuncs[e.name] > 0 {
			return c.math(e)
		}
		return c.readInt(e)
	}
	return undef
}

func (c *evalCtx) forIn(e *expr) value {
	var qv value
	if e.quant != nil {
		qv = c.eval(e.quant)
	}
	slot := len(c.loops)
	c.loops = append(c.loops, 0)
	defer func() { c.loops = c.loops[:slot] }()
	count, n := 0, 0
	// any stops at the first true, all at the first false, as YARA does
	body := func(v int64) (stop bool) {
		n++
		c.steps++
		c.loops[slot] = v
		t := c.eval(e.body).truth()
		if t {
			count++
		}
		switch e.qkind {
		case qAny:
			return t
		case qAll:
			return !t
		}
		return false
	}
	if e.rng {
		lo, hi, ok := c.rangeOf(e.iter[0], e.iter[1])
		if !ok {
			return undef
		}
		if lo > hi { // an empty range: false, as in YARA 4.2
			return boolVal(false)
		}
		if uint64(hi-lo) >= uint64(maxLoopSteps-c.steps) || c.steps >= maxLoopSteps {
			c.over = true
			return undef
		}
		for v := lo; ; v++ {
			if body(v) || v == hi {
				break
			}
		}
		total := int(hi-lo) + 1
		if e.qkind == qAll {
			return boolVal(count == total)
		}
		if e.qkind == qAny {
			return boolVal(count > 0)
		}
		return quantify(e.qkind, qv, count, total)
	}
	total := len(e.iter)
	for _, it := range e.iter {
		v := c.eval(it)
		if v.k == vUndef {
			continue
		}
		i, _, _ := v.num()
		if body(i) {
			break
		}
	}
	if e.qkind == qAll {
		return boolVal(count == total)
	}
	if e.qkind == qAny {
		return boolVal(count > 0)
	}
	return quantify(e.qkind, qv, count, total)
}

func (c *evalCtx) binary(e *expr) value {
	switch e.op {
	case "and":
		a := c.eval(e.args[0])
		if a.k != vUndef && !a.truth() {
			return boolVal(false)
		}
		b := c.eval(e.args[1])
		if a.k == vUndef || b.k == vUndef {
			return boolVal(false)
		}
		return boolVal(b.truth())
	case "or":
		a := c.eval(e.args[0])
		if a.truth() {
			return boolVal(true)
		}
		b := c.eval(e.args[1])
		if a.k == vUndef {
			if b.k == vUndef {
				return undef
			}
			return boolVal(b.truth())
		}
		if b.k == vUndef {
			return boolVal(false)
		}
		return boolVal(b.truth())
	}
	if e.op == "matches" {
		a := c.eval(e.args[0])
		if a.k != vStr || e.args[1].re == nil {
			return undef
		}
		return boolVal(searchString(c.st, e.args[1].re.prog, a.s))
	}
	a, b := c.eval(e.args[0]), c.eval(e.args[1])
	if a.k == vUndef || b.k == vUndef {
		return undef
	}
	if a.k == vStr || b.k == vStr {
		if a.k != vStr || b.k != vStr {
			return undef
		}
		x, y := a.s, b.s
		switch e.op {
		case "==":
			return boolVal(x == y)
		case "!=":
			return boolVal(x != y)
		case "<":
			return boolVal(x < y)
		case "<=":
			return boolVal(x <= y)
		case ">":
			return boolVal(x > y)
		case ">=":
			return boolVal(x >= y)
		case "contains":
			return boolVal(strings.Contains(x, y))
		case "icontains":
			return boolVal(bytes.Contains(foldBytes([]byte(x)), foldBytes([]byte(y))))
		case "startswith":
			return boolVal(strings.HasPrefix(x, y))
		case "istartswith":
			return boolVal(bytes.HasPrefix(foldBytes([]byte(x)), foldBytes([]byte(y))))
		case "endswith":
			return boolVal(strings.HasSuffix(x, y))
		case "iendswith":
			return boolVal(bytes.HasSuffix(foldBytes([]byte(x)), foldBytes([]byte(y))))
		case "iequals":
			return boolVal(bytes.Equal(foldBytes([]byte(x)), foldBytes([]byte(y))))
		}
		return undef
	}
	xi, xf, af := a.num()
	yi, yf, bf := b.num()
	isFloat := af || bf
	switch e.op {
	case "==", "!=", "<", "<=", ">", ">=":
		var cmp int
		if isFloat {
			switch {
			case xf < yf:
				cmp = -1
			case xf > yf:
				cmp = 1
			}
		} else {
			switch {
			case xi < yi:
				cmp = -1
			case xi > yi:
				cmp = 1
			}
		}
		switch e.op {
		case "==":
			return boolVal(cmp == 0)
		case "!=":
			return boolVal(cmp != 0)
		case "<":
			return boolVal(cmp < 0)
		case "<=":
			return boolVal(cmp <= 0)
		case ">":
			return boolVal(cmp > 0)
		}
		return boolVal(cmp >= 0)
	case "+", "-", "*", "\\":
		if isFloat {
			switch e.op {
			case "+":
				return floatVal(xf + yf)
			case "-":
				return floatVal(xf - yf)
			case "*":
				return floatVal(xf * yf)
			}
			return floatVal(xf / yf)
		}
		switch e.op {
		case "+":
			return intVal(xi + yi)
		case "-":
			return intVal(xi - yi)
		case "*":
			return intVal(xi * yi)
		}
		if yi == 0 {
			return undef
		}
		return intVal(xi / yi)
	case "%":
		if yi == 0 {
			return undef
		}
		return intVal(xi % yi)
	case "&":
		return intVal(xi & yi)
	case "|":
		return intVal(xi | yi)
	case "^":
		return intVal(xi ^ yi)
	case "<<", ">>":
		if yi < 0 {
			return undef
		}
		if yi >= 64 {
			return intVal(0)
		}
		if e.op == "<<" {
			return intVal(xi << uint(yi))
		}
		return intVal(xi >> uint(yi))
	}
	return undef
}

// readInt implements uint8(x) ... int32be(x).
func (c *evalCtx) readInt(e *expr) value {
	v := c.eval(e.args[0])
	if v.k == vUndef {
		return undef
	}
	off, _, _ := v.num()
	name := e.name
	signed := !strings.HasPrefix(name, "u")
	be := strings.HasSuffix(name, "be")
	n := 1
	switch {
	case strings.Contains(name, "16"):
		n = 2
	case strings.Contains(name, "32"):
		n = 4
	}
	b, ok := c.st.readAt(off, n)
	if !ok {
		return undef
	}
	var u uint64
	switch n {
	case 1:
		u = uint64(b[0])
		if signed {
			return intVal(int64(int8(b[0])))
		}
	case 2:
		x := binary.LittleEndian.Uint16(b)
		if be {
			x = binary.BigEndian.Uint16(b)
		}
		if signed {
			return intVal(int64(int16(x)))
		}
		u = uint64(x)
	case 4:
		x := binary.LittleEndian.Uint32(b)
		if be {
			x = binary.BigEndian.Uint32(b)
		}
		if signed {
			return intVal(int64(int32(x)))
		}
		u = uint64(x)
	}
	return intVal(int64(u))
}

// searchString reports whether p matches anywhere in s.
func searchString(st *scanState, p *prog, s string) bool {
	in := &input{data: []byte(s), bol: true, eol: true}
	st.m.arm(1 << 40) // bounded by the string's length and the deadline
	for i := 0; i <= len(s); i++ {
		if st.m.match(p, in, i, len(s), false) >= 0 {
			return true
		}
	}
	return false
}
