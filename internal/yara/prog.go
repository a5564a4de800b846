package yara

import (
	"errors"
	"time"
)

type opcode uint8

const (
	opByte   opcode = iota // one byte in sets[arg]
	opSplit                // try x, then y
	opJmp                  // go to x
	opMatch                // success
	opAssert               // assertion arg
	opRepeat               // sets[arg] repeated min..max times (stride 2: each followed by a zero)
)

type inst struct {
	op     opcode
	greedy bool
	stride uint8
	arg    int32
	x, y   int32
	min    int32
	max    int32 // -1: unbounded
	memo   int32 // slot in the visited rows, -1 when never a join point
}

// prog is a compiled pattern: a small backtracking program over bytes.
type prog struct {
	insts  []inst
	sets   []byteSet
	first  byteSet // bytes a match can start with (all when nullable)
	nmemo  int
	anchor bool // starts with ^: matches only at offset 0
}

// maxInsts bounds the size of a program (YARA has a similar code size limit).
const maxInsts = 1 << 14

var errTooComplex = errors.New("regular expression too complex")

// size estimates the instructions n compiles to, saturating.
func size(n *reNode) int {
	switch n.op {
	case rClass, rAssert:
		return 1
	case rEmpty:
		return 0
	case rConcat:
		t := 0
		for _, s := range n.subs {
			t += size(s)
			if t > maxInsts {
				return maxInsts + 1
			}
		}
		return t
	case rAlt:
		t := 0
		for _, s := range n.subs {
			t += size(s) + 2
			if t > maxInsts {
				return maxInsts + 1
			}
		}
		return t
	case rRepeat:
		if _, _, ok := repeatClass(n); ok {
			return 1
		}
		s := size(n.subs[0]) + 2
		copies := n.max
		if copies < 0 {
			copies = n.min + 1
		}
		if copies > maxInsts || s*copies > maxInsts {
			return maxInsts + 1
		}
		return s * copies
	}
	return 1
}

// repeatClass reports whether a repeat is of one byte class (or a wide pair
// class+zero), which compiles to a single opRepeat.
func repeatClass(n *reNode) (set byteSet, stride uint8, ok bool) {
	s := n.subs[0]
	if s.op == rClass {
		return s.set, 1, true
	}
	if s.op == rConcat && len(s.subs) == 2 && s.subs[0].op == rClass && s.subs[1].op == rClass &&
		s.subs[1].set == oneByte(0) {
		return s.subs[0].set, 2, true
	}
	return byteSet{}, 0, false
}

type compiler struct {
	p    *prog
	sets map[byteSet]int32
}

func compileRE(n *reNode) (*prog, error) {
	if size(n) > maxInsts {
		return nil, errTooComplex
	}
	c := &compiler{p: &prog{}, sets: map[byteSet]int32{}}
	c.emit(n)
	c.add(inst{op: opMatch})
	p := c.p
	// join points: targets of jumps and splits, and after repeats
	join := make([]bool, len(p.insts)+1)
	join[0] = true
	for i, in := range p.insts {
		switch in.op {
		case opSplit:
			join[in.x], join[in.y] = true, true
		case opJmp:
			join[in.x] = true
		case opRepeat:
			join[i+1] = true
		}
	}
	for i := range p.insts {
		p.insts[i].memo = -1
		if join[i] {
			p.insts[i].memo = int32(p.nmemo)
			p.nmemo++
		}
	}
	var nullable bool
	p.first, nullable = firstSet(n)
	if nullable {
		p.first = allBytes()
	}
	p.anchor = startsWithBOL(n)
	return p, nil
}

func (c *compiler) add(in inst) int32 {
	c.p.insts = append(c.p.insts, in)
	return int32(len(c.p.insts) - 1)
}

func (c *compiler) set(s byteSet) int32 {
	if i, ok := c.sets[s]; ok {
		return i
	}
	c.p.sets = append(c.p.sets, s)
	i := int32(len(c.p.sets) - 1)
	c.sets[s] = i
	return i
}

func (c *compiler) emit(n *reNode) {
	switch n.op {
	case rClass:
		c.add(inst{op: opByte, arg: c.set(n.set)})
	case rEmpty:
	case rAssert:
		c.add(inst{op: opAssert, arg: int32(n.assert)})
	case rConcat:
		for _, s := range n.subs {
			c.emit(s)
		}
	case rAlt:
		var jumps []int32
		for i, s := range n.subs {
			if i == len(n.subs)-1 {
				c.emit(s)
				break
			}
			split := c.add(inst{op: opSplit})
			c.p.insts[split].x = split + 1
			c.emit(s)
			jumps = append(jumps, c.add(inst{op: opJmp}))
			c.p.insts[split].y = int32(len(c.p.insts))
		}
		for _, j := range jumps {
			c.p.insts[j].x = int32(len(c.p.insts))
		}
	case rRepeat:
		if set, stride, ok := repeatClass(n); ok {
			c.add(inst{op: opRepeat, arg: c.set(set), min: int32(n.min), max: int32(n.max), greedy: n.greedy, stride: stride})
			return
		}
		for i := 0; i < n.min; i++ {
			c.emit(n.subs[0])
		}
		if n.max < 0 {
			loop := c.add(inst{op: opSplit})
			c.emit(n.subs[0])
			c.add(inst{op: opJmp, x: loop})
			c.branch(loop, loop+1, int32(len(c.p.insts)), n.greedy)
			return
		}
		var splits []int32
		for i := n.min; i < n.max; i++ {
			s := c.add(inst{op: opSplit})
			splits = append(splits, s)
			c.emit(n.subs[0])
		}
		end := int32(len(c.p.insts))
		for _, s := range splits {
			c.branch(s, s+1, end, n.greedy)
		}
	}
}

// branch sets a split to prefer "more" when greedy, "skip" otherwise.
func (c *compiler) branch(at, more, skip int32, greedy bool) {
	if greedy {
		c.p.insts[at].x, c.p.insts[at].y = more, skip
	} else {
		c.p.insts[at].x, c.p.insts[at].y = skip, more
	}
}

// firstSet returns the bytes a match of n can start with and whether n can
// match the empty string.
func firstSet(n *reNode) (byteSet, bool) {
	switch n.op {
	case rClass:
		return n.set, false
	case rEmpty, rAssert:
		return byteSet{}, true
	case rConcat:
		var s byteSet
		for _, sub := range n.subs {
			f, null := firstSet(sub)
			s.union(f)
			if !null {
				return s, false
			}
		}
		return s, true
	case rAlt:
		var s byteSet
		nullable := false
		for _, sub := range n.subs {
			f, null := firstSet(sub)
			s.union(f)
			nullable = nullable || null
		}
		return s, nullable
	case rRepeat:
		f, null := firstSet(n.subs[0])
		return f, null || n.min == 0
	}
	return allBytes(), true
}

func startsWithBOL(n *reNode) bool {
	switch n.op {
	case rAssert:
		return n.assert == aBOL
	case rConcat:
		return len(n.subs) > 0 && startsWithBOL(n.subs[0])
	case rAlt:
		for _, s := range n.subs {
			if !startsWithBOL(s) {
				return false
			}
		}
		return true
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// matcher runs programs; it owns reusable memory and is not safe for
// concurrent use. Visited (instruction, position) pairs are remembered for
// a session of attempts: a state that led to no match cannot lead to one
// from another start either (there are no captures), so attempts at
// neighbouring starts with the same limit share the work.
type matcher struct {
	visited []uint64
	stack   []frame
	steps   int // instructions executed, for budgets
	// limit is the step count at which run calls halt: the pattern's
	// budget, or sooner, to look at the clock
	limit    int
	budget   int        // step count at which the pattern in hand is over budget
	deadline time.Time  // of the scan; zero for none
	clock    int        // step count at which to look at the clock next
	stop     stopReason // why the last run was cut, 0 when it was not
	base     int        // position of visited row 0
	rows     int        // rows of visited in use
	rowWords int
	touched  bool // an attempt of the session was cut by its limit
}

type frame struct {
	pc, pos int32
	n, k    int32 // repeat alternatives: next count n, bound k (rep only)
	rep     bool
}

// input describes the text a program runs on; bol and eol say whether data
// starts or ends at the file's edges.
type input struct {
	data []byte
	bol  bool
	eol  bool
}

// session starts a series of attempts of p at starts >= base.
func (m *matcher) session(p *prog, base int) {
	m.clear()
	m.base = base
	m.rowWords = (p.nmemo + 63) >> 6
	m.touched = false
}

// clear forgets the visited states.
func (m *matcher) clear() {
	clear(m.visited[:m.rows*m.rowWords])
	m.rows = 0
}

// match runs p once, anchored at start; see run.
func (m *matcher) match(p *prog, src *input, start, limit int, wide bool) int {
	m.session(p, start)
	end := m.run(p, src, start, limit, wide)
	m.clear()
	return end
}

// run returns the end of the leftmost-first match of p anchored at start
// that reads no further than limit, or -1. wide makes assertions see
// two-byte characters. States failed in earlier runs of the session are
// not explored again, so after a match the caller must clear the session
// before reusing it (the states on the matching path are marked visited).
func (m *matcher) run(p *prog, src *input, start, limit int, wide bool) int {
	if p.anchor && (start != 0 || !src.bol) {
		return -1
	}
	if start < m.base || start > limit || limit > len(src.data) {
		return -1
	}
	if start < limit && !p.first.has(src.data[start]) {
		return -1 // a nullable program has every byte in first
	} else if start == limit && p.first != allBytes() {
		return -1
	}
	rowWords := m.rowWords
	data := src.data
	stride := 1
	if wide {
		stride = 2
	}
	cut := limit < len(data) // reads at limit are cut by it
	m.stack = m.stack[:0]
	pc, pos := int32(0), int32(start)
	for {
		ins := &p.insts[pc]
		if ins.memo >= 0 {
			row := int(pos) - m.base
			if row >= m.rows {
				need := (row + 1) * rowWords
				if need > len(m.visited) {
					nv := make([]uint64, max(need, 2*len(m.visited)))
					copy(nv, m.visited[:m.rows*rowWords])
					m.visited = nv
				}
				m.rows = row + 1
			}
			w := row*rowWords + int(ins.memo>>6)
			bit := uint64(1) << (ins.memo & 63)
			if m.visited[w]&bit != 0 {
				goto fail
			}
			m.visited[w] |= bit
		}
		m.steps++
		if m.steps >= m.limit && m.halt() {
			return -1
		}
		switch ins.op {
		case opByte:
			if int(pos) < limit && p.sets[ins.arg].has(data[pos]) {
				pc++
				pos++
				continue
			}
			if int(pos) == limit && cut {
				m.touched = true
			}
			goto fail
		case opJmp:
			pc = ins.x
			continue
		case opSplit:
			m.stack = append(m.stack, frame{pc: ins.y, pos: pos})
			pc = ins.x
			continue
		case opMatch:
			return int(pos)
		case opAssert:
			ok := false
			switch ins.arg {
			case aBOL:
				ok = pos == 0 && src.bol
			case aEOL:
				ok = int(pos) == len(data) && src.eol
			case aWord, aNotWord:
				// as in YARA, \b holds (and \B fails) at the edges: at the
				// start of the data and where the scan is cut
				ok = true
				if int(pos) >= stride && int(pos) < limit {
					a := inWord(data, int(pos)-stride, stride)
					b := inWord(data, int(pos), stride)
					ok = a != b
				}
				if ins.arg == aNotWord {
					ok = !ok
				}
			}
			if ok {
				pc++
				continue
			}
			goto fail
		case opRepeat:
			set := &p.sets[ins.arg]
			st := int32(ins.stride)
			k := int32(0)
			q := pos
			for ; (ins.max < 0 || k < ins.max) && int(q+st) <= limit && set.has(data[q]) && (st == 1 || data[q+1] == 0); q += st {
				k++
			}
			m.steps += int(k)
			if cut && int(q+st) > limit && (ins.max < 0 || k < ins.max) {
				m.touched = true
			}
			if k < ins.min {
				goto fail
			}
			if ins.greedy {
				if k > ins.min {
					m.stack = append(m.stack, frame{pc: pc, pos: pos, n: k - 1, k: ins.min, rep: true})
				}
				pos += k * st
			} else {
				if k > ins.min {
					m.stack = append(m.stack, frame{pc: pc, pos: pos, n: ins.min + 1, k: k, rep: true})
				}
				pos += ins.min * st
			}
			pc++
			continue
		}
	fail:
		if len(m.stack) == 0 {
			return -1
		}
		f := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		if !f.rep {
			pc, pos = f.pc, f.pos
			continue
		}
		ri := &p.insts[f.pc]
		st := int32(ri.stride)
		if ri.greedy { // counts downward to the minimum k
			if f.n > f.k {
				m.stack = append(m.stack, frame{pc: f.pc, pos: f.pos, n: f.n - 1, k: f.k, rep: true})
			}
		} else if f.n < f.k {
			m.stack = append(m.stack, frame{pc: f.pc, pos: f.pos, n: f.n + 1, k: f.k, rep: true})
		}
		pc, pos = f.pc+1, f.pos+f.n*st
	}
}

// stopReason says why a run was cut short.
type stopReason uint8

const (
	stopSteps stopReason = iota + 1 // the pattern's step budget
	stopTime                        // the scan's deadline
)

// timeCheckSteps is how many steps run between looks at the clock (well
// under a millisecond).
const timeCheckSteps = 1 << 18

// arm gives the pattern about to run left more steps, within the scan's
// deadline.
func (m *matcher) arm(left int) {
	m.stop = 0
	m.budget = m.steps + max(left, 0)
	m.limit = min(m.budget, m.clock)
}

// halt is called when steps reach limit; it reports whether the run must
// stop, and why in m.stop.
func (m *matcher) halt() bool {
	if m.steps >= m.budget {
		m.stop = stopSteps
		return true
	}
	if m.steps >= m.clock {
		if !m.deadline.IsZero() && time.Now().After(m.deadline) {
			m.stop = stopTime
			return true
		}
		m.clock = m.steps + timeCheckSteps
	}
	m.limit = min(m.budget, m.clock)
	return false
}

func inWord(data []byte, pos, stride int) bool {
	if pos < 0 || pos+stride > len(data) {
		return false
	}
	if stride == 2 && data[pos+1] != 0 {
		return false
	}
	return isWordByte(data[pos])
}
