package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// BinXML tokens. Bit 0x40 on a token means "has attributes" (open start
// element) or "more follow" (attribute, value, reference); the parser masks
// it off.
const (
	tokEOF           = 0x00
	tokOpenStart     = 0x01
	tokCloseStart    = 0x02
	tokCloseEmpty    = 0x03
	tokEndElement    = 0x04
	tokValue         = 0x05
	tokAttribute     = 0x06
	tokCDATA         = 0x07
	tokCharRef       = 0x08
	tokEntityRef     = 0x09
	tokPITarget      = 0x0a
	tokPIData        = 0x0b
	tokTemplate      = 0x0c
	tokNormalSubst   = 0x0d
	tokOptionalSubst = 0x0e
	tokFragment      = 0x0f
	tokMore          = 0x40
)

// Limits that keep hostile input from costing unbounded time or memory.
// Real records stay far below each of them.
const (
	maxDepth        = 64      // nesting of elements, templates and BinXml values together
	maxChunkItems   = 1 << 17 // compiled template items per chunk
	maxRecordVisits = 1 << 17 // items expanded while rendering one record
	maxChunkVisits  = 1 << 21
	maxChunkDecode  = 8 << 20 // bytes of names and literal text decoded per chunk
	maxRecordOutput = 2 << 20 // bytes of text one record may render to
	maxChunkOutput  = 16 << 20
	maxEventFields  = 4096
	maxIntern       = 1 << 14
	maxInternLen    = 256
)

// item is one node of a compiled template: literal text, a substitution
// slot, an element, or a template instance nested in the definition.
type item struct {
	kind itemKind
	sub  uint16 // substitution index (normal and optional ones render alike)
	text string
	elem *elem
	inst *instance
}

type itemKind uint8

const (
	itemText itemKind = iota
	itemSubst
	itemElem
	itemInst
	itemNone // parsed and dropped
)

type elem struct {
	name   string
	attrs  []attr
	kids   []item
	substs bool // a substitution among kids or attribute values (an array may repeat the element)
}

type attr struct {
	name string
	val  []item // itemText and itemSubst only
}

// template is a compiled template definition; err is kept so a broken
// definition shared by many records is parsed once.
type template struct {
	items []item
	err   error
	busy  bool // being compiled: meeting it again is a cycle
}

// instance is a template (or a plain fragment) with its substitution values.
type instance struct {
	items []item
	vals  []value
	buf   []byte // the chunk, which holds the values' data
}

// value is one substitution value, kept small (a chunk has thousands): its
// data is buf[off:off+size] of its instance. A BinXml value is parsed once
// into sub.
type value struct {
	off  uint32
	size uint16
	typ  byte
	sub  *instance
}

func (in *instance) data(v *value) []byte {
	return in.buf[v.off : v.off+uint32(v.size)]
}

var errBudget = errors.New("record expands beyond the parser's limits")

// parser holds one worker's state. Names and templates are per chunk
// (their offsets are chunk-relative); the intern table lives across chunks
// so the same element names are not allocated again and again.
type parser struct {
	buf    []byte
	names  map[uint32]string
	tmpls  map[uint32]*template
	items  int // compiled items in this chunk
	decode int // bytes of UTF-16 decoded in this chunk
	intern map[string]string
	tmp    []byte

	// Compiled templates are built on scratch stacks, then copied to slabs
	// that the chunk's events keep; slabs are never reused, stacks are.
	itemStack []item
	attrStack []attr
	itemSlab  []item
	attrSlab  []attr
	elemSlab  []elem
	vals      []value
	insts     []instance

	// per-chunk scratch of parseChunk, reused
	sink   fieldSink
	walker walker
	raw    []rawField
	spans  [][2]int
}

// startRecord drops scratch left by a record that failed half-way.
func (p *parser) startRecord() {
	p.itemStack, p.attrStack = p.itemStack[:0], p.attrStack[:0]
}

func newParser() *parser {
	return &parser{intern: make(map[string]string)}
}

// reset starts a chunk. The previous chunk's events keep what they point
// at (templates, slabs); the maps and stacks are only indexes and scratch.
func (p *parser) reset(buf []byte) {
	p.buf = buf
	if p.names == nil {
		p.names = make(map[uint32]string)
		p.tmpls = make(map[uint32]*template)
	}
	clear(p.names)
	clear(p.tmpls)
	p.items, p.decode = 0, 0
	p.itemSlab, p.attrSlab, p.elemSlab, p.vals, p.insts = nil, nil, nil, nil, nil
	if len(p.intern) > maxIntern {
		p.intern = make(map[string]string)
	}
}

// keepItems moves the items stacked since base to the slab.
func (p *parser) keepItems(base int) []item { return keep(&p.itemStack, &p.itemSlab, base, 512) }

// keepAttrs moves the attributes stacked since base to the slab.
func (p *parser) keepAttrs(base int) []attr { return keep(&p.attrStack, &p.attrSlab, base, 128) }

// keep moves stack[base:] to the end of slab and returns it there, growing
// the slab by at least minGrow so most chunks allocate it once.
func keep[T any](stack, slab *[]T, base, minGrow int) []T {
	n := len(*stack) - base
	if n == 0 {
		return nil
	}
	if n > cap(*slab)-len(*slab) {
		*slab = make([]T, 0, max(n, minGrow))
	}
	l := len(*slab)
	*slab = append(*slab, (*stack)[base:]...)
	*stack = (*stack)[:base]
	return (*slab)[l : l+n : l+n]
}

func (p *parser) newElem(name string) *elem {
	if len(p.elemSlab) == cap(p.elemSlab) {
		p.elemSlab = make([]elem, 0, 128)
	}
	p.elemSlab = append(p.elemSlab, elem{name: name})
	return &p.elemSlab[len(p.elemSlab)-1]
}

func (p *parser) internBytes(b []byte) string {
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternLen && len(p.intern) <= maxIntern {
		p.intern[s] = s
	}
	return s
}

func (p *parser) u16(off int) int { return int(binary.LittleEndian.Uint16(p.buf[off:])) }

// u32 reads an offset, size or count. Anything past 1<<30 is clamped there
// (it is out of range for a 64 KiB chunk anyway), so int stays positive
// on 32-bit platforms.
func (p *parser) u32(off int) int { return int(min(binary.LittleEndian.Uint32(p.buf[off:]), 1<<30)) }

func (p *parser) errorf(off int, format string, args ...any) error {
	return fmt.Errorf("chunk offset %#x: %s", off, fmt.Sprintf(format, args...))
}

func (p *parser) newInstance(items []item, vals []value) *instance {
	if len(p.insts) == cap(p.insts) {
		p.insts = make([]instance, 0, 64)
	}
	p.insts = append(p.insts, instance{items: items, vals: vals, buf: p.buf})
	return &p.insts[len(p.insts)-1]
}

func (p *parser) newValues(n int) []value {
	if n > cap(p.vals)-len(p.vals) {
		p.vals = make([]value, 0, max(n, 1024))
	}
	v := p.vals[len(p.vals) : len(p.vals)+n : len(p.vals)+n]
	p.vals = p.vals[:len(p.vals)+n]
	return v
}

// fragment parses a BinXML fragment in buf[pos:end]: an optional fragment
// header, then a template instance or plain content.
func (p *parser) fragment(pos, end, depth int) (*instance, int, error) {
	if depth > maxDepth {
		return nil, pos, p.errorf(pos, "BinXML nested more than %d deep", maxDepth)
	}
	if pos < end && p.buf[pos] == tokFragment {
		if pos+4 > end {
			return nil, pos, p.errorf(pos, "fragment header cut short")
		}
		pos += 4
	}
	if pos < end && p.buf[pos] == tokTemplate {
		return p.templateInstance(pos, end, depth)
	}
	items, pos, err := p.content(pos, end, depth, false, false)
	if err != nil {
		return nil, pos, err
	}
	return p.newInstance(items, nil), pos, nil
}

// templateInstance parses a template instance token: the template (its
// definition follows inline when first used in the chunk), then the
// substitution array: a count, count descriptors (size, type) and the data.
func (p *parser) templateInstance(pos, end, depth int) (*instance, int, error) {
	if depth > maxDepth {
		return nil, pos, p.errorf(pos, "BinXML nested more than %d deep", maxDepth)
	}
	start := pos
	if pos+10 > end {
		return nil, pos, p.errorf(pos, "template instance cut short")
	}
	id := binary.LittleEndian.Uint32(p.buf[pos+2:])
	def := p.u32(pos + 6)
	pos += 10
	if def == pos { // the definition is inline: skip it
		if pos+24 > end {
			return nil, pos, p.errorf(pos, "inline template definition cut short")
		}
		size := p.u32(pos + 20)
		if size > end-pos-24 {
			return nil, pos, p.errorf(pos, "inline template definition of %d bytes overruns its record", size)
		}
		pos += 24 + size
	}
	t := p.template(def, id, depth+1)
	if t.err != nil {
		return nil, start, t.err
	}
	if pos+4 > end {
		return nil, pos, p.errorf(pos, "substitution count cut short")
	}
	n := p.u32(pos)
	pos += 4
	if n > (end-pos)/4 {
		return nil, pos, p.errorf(pos, "%d substitution values do not fit in the record", n)
	}
	vals := p.newValues(n)
	data := pos + 4*n
	for i := range vals {
		size, typ := p.u16(pos+4*i), p.buf[pos+4*i+2]
		if size > end-data {
			return nil, pos, p.errorf(pos+4*i, "substitution %d of %d bytes overruns the record", i, size)
		}
		v := &vals[i]
		v.typ, v.off, v.size = typ, uint32(data), uint16(size)
		if typ == typeBinXML && size > 0 {
			sub, _, err := p.fragment(data, data+size, depth+1)
			if err != nil {
				return nil, data, fmt.Errorf("substitution %d: %w", i, err)
			}
			v.sub = sub
		}
		data += size
	}
	return p.newInstance(t.items, vals), data, nil
}

// template returns the compiled definition at chunk offset def.
func (p *parser) template(def int, id uint32, depth int) *template {
	if t, ok := p.tmpls[uint32(def)]; ok {
		if t.busy {
			return &template{err: p.errorf(def, "template refers to itself")}
		}
		return t
	}
	t := &template{busy: true}
	p.tmpls[uint32(def)] = t
	switch {
	case def < chunkHeaderSize || def > len(p.buf)-24:
		t.err = p.errorf(def, "template definition offset outside the chunk's records")
	case binary.LittleEndian.Uint32(p.buf[def+4:]) != id:
		t.err = p.errorf(def, "no template %#x at this offset", id)
	default:
		start, size := def+24, p.u32(def+20)
		if size > len(p.buf)-start {
			t.err = p.errorf(def, "template definition of %d bytes overruns the chunk", size)
			break
		}
		pos := start
		if pos < start+size && p.buf[pos] == tokFragment {
			pos += 4
		}
		t.items, _, t.err = p.content(pos, start+size, depth, false, true)
	}
	t.busy = false
	return t
}

// content parses tokens up to the end of the enclosing element (inElem) or
// of the fragment. Elements carry a dependency id only inside template
// definitions (deps); plain BinXml, such as a BinXml substitution value,
// has none.
func (p *parser) content(pos, end, depth int, inElem, deps bool) ([]item, int, error) {
	if depth > maxDepth {
		return nil, pos, p.errorf(pos, "BinXML nested more than %d deep", maxDepth)
	}
	base := len(p.itemStack)
	for pos < end {
		if p.items++; p.items > maxChunkItems {
			return nil, pos, p.errorf(pos, "more than %d template nodes in the chunk", maxChunkItems)
		}
		var (
			it  item
			err error
		)
		switch tok := p.buf[pos]; tok &^ tokMore {
		case tokEOF:
			if inElem {
				return nil, pos, p.errorf(pos, "fragment ends inside an element")
			}
			return p.keepItems(base), pos + 1, nil
		case tokEndElement:
			if !inElem {
				return nil, pos, p.errorf(pos, "end of element outside any element")
			}
			return p.keepItems(base), pos + 1, nil
		case tokOpenStart:
			it.kind = itemElem
			it.elem, pos, err = p.element(pos, end, depth+1, deps)
		case tokValue, tokCDATA, tokCharRef, tokEntityRef:
			it.text, pos, err = p.text(pos, end)
		case tokNormalSubst, tokOptionalSubst:
			it, pos, err = p.subst(pos, end)
		case tokTemplate:
			it.kind = itemInst
			it.inst, pos, err = p.templateInstance(pos, end, depth+1)
		case tokPITarget: // processing instructions render as nothing
			if pos+5 > end {
				return nil, pos, p.errorf(pos, "processing instruction cut short")
			}
			_, pos, err = p.name(p.u32(pos+1), pos+5, end)
			it.kind = itemNone
		case tokPIData:
			_, pos, err = p.utf16(pos+1, end)
			it.kind = itemNone
		case tokFragment:
			if pos+4 > end {
				return nil, pos, p.errorf(pos, "fragment header cut short")
			}
			pos += 4
			it.kind = itemNone
		default:
			return nil, pos, p.errorf(pos, "unknown BinXML token %#02x", tok)
		}
		if err != nil {
			return nil, pos, err
		}
		if it.kind != itemNone {
			p.itemStack = append(p.itemStack, it)
		}
	}
	if inElem {
		return nil, pos, p.errorf(pos, "element not closed")
	}
	return p.keepItems(base), pos, nil
}

// element parses an open start element with its attributes and content.
// Layout: token, dependency id (2, in templates only), data size (4), name
// offset (4), the name itself when it is inline, attribute list size (4)
// when the token has 0x40.
func (p *parser) element(pos, end, depth int, deps bool) (*elem, int, error) {
	if depth > maxDepth {
		return nil, pos, p.errorf(pos, "elements nested more than %d deep", maxDepth)
	}
	tok := p.buf[pos]
	head := 9
	if deps {
		head = 11
	}
	if pos+head > end {
		return nil, pos, p.errorf(pos, "element cut short")
	}
	name, pos, err := p.name(p.u32(pos+head-4), pos+head, end)
	if err != nil {
		return nil, pos, err
	}
	e := p.newElem(name)
	if tok&tokMore != 0 {
		abase := len(p.attrStack)
		if pos+4 > end {
			return nil, pos, p.errorf(pos, "attribute list cut short")
		}
		pos += 4
		for pos < end && p.buf[pos]&^tokMore == tokAttribute {
			if p.items++; p.items > maxChunkItems {
				return nil, pos, p.errorf(pos, "more than %d template nodes in the chunk", maxChunkItems)
			}
			if pos+5 > end {
				return nil, pos, p.errorf(pos, "attribute cut short")
			}
			var a attr
			a.name, pos, err = p.name(p.u32(pos+1), pos+5, end)
			if err != nil {
				return nil, pos, err
			}
			vbase := len(p.itemStack)
		value:
			for pos < end {
				var it item
				switch p.buf[pos] &^ tokMore {
				case tokValue, tokCharRef, tokEntityRef:
					it.text, pos, err = p.text(pos, end)
				case tokNormalSubst, tokOptionalSubst:
					it, pos, err = p.subst(pos, end)
					e.substs = true
				default:
					break value
				}
				if err != nil {
					return nil, pos, err
				}
				p.itemStack = append(p.itemStack, it)
			}
			a.val = p.keepItems(vbase)
			p.attrStack = append(p.attrStack, a)
		}
		e.attrs = p.keepAttrs(abase)
	}
	if pos >= end {
		return nil, pos, p.errorf(pos, "element %q cut short", name)
	}
	switch p.buf[pos] {
	case tokCloseStart:
		e.kids, pos, err = p.content(pos+1, end, depth, true, deps)
		for i := range e.kids {
			if e.kids[i].kind == itemSubst {
				e.substs = true
			}
		}
		return e, pos, err
	case tokCloseEmpty:
		return e, pos + 1, nil
	}
	return nil, pos, p.errorf(pos, "element %q: unexpected token %#02x after the attributes", name, p.buf[pos])
}

func (p *parser) subst(pos, end int) (item, int, error) {
	if pos+4 > end {
		return item{}, pos, p.errorf(pos, "substitution cut short")
	}
	return item{kind: itemSubst, sub: uint16(p.u16(pos + 1))}, pos + 4, nil
}

// text parses the literal tokens: a value (always a string in templates),
// CDATA, a character reference or an entity reference.
func (p *parser) text(pos, end int) (string, int, error) {
	switch p.buf[pos] &^ tokMore {
	case tokValue:
		if pos+2 > end {
			return "", pos, p.errorf(pos, "value cut short")
		}
		if t := p.buf[pos+1]; t != typeString {
			return "", pos, p.errorf(pos, "literal value of type %#02x", t)
		}
		return p.utf16(pos+2, end)
	case tokCDATA:
		return p.utf16(pos+1, end)
	case tokCharRef:
		if pos+3 > end {
			return "", pos, p.errorf(pos, "character reference cut short")
		}
		r := rune(p.u16(pos + 1))
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
		}
		return string(r), pos + 3, nil
	default: // entity reference
		if pos+5 > end {
			return "", pos, p.errorf(pos, "entity reference cut short")
		}
		name, next, err := p.name(p.u32(pos+1), pos+5, end)
		if err != nil {
			return "", pos, err
		}
		switch name {
		case "amp":
			return "&", next, nil
		case "lt":
			return "<", next, nil
		case "gt":
			return ">", next, nil
		case "quot":
			return `"`, next, nil
		case "apos":
			return "'", next, nil
		}
		return "&" + name + ";", next, nil
	}
}

// utf16 reads a length-prefixed (16-bit count of units) UTF-16 string.
func (p *parser) utf16(pos, end int) (string, int, error) {
	if pos+2 > end {
		return "", pos, p.errorf(pos, "string cut short")
	}
	n := 2 * p.u16(pos)
	if n > end-pos-2 {
		return "", pos, p.errorf(pos, "string of %d bytes overruns its fragment", n)
	}
	if p.decode += n; p.decode > maxChunkDecode {
		return "", pos, p.errorf(pos, "more than %d bytes of template text in the chunk", maxChunkDecode)
	}
	p.tmp = appendUTF16(p.tmp[:0], p.buf[pos+2:pos+2+n], false)
	return p.internBytes(p.tmp), pos + 2 + n, nil
}

// name returns the name at chunk offset off. When off is the current
// position the name is inline and the position moves past it. A name is
// stored as: next offset in its hash bucket (4), hash (2), unit count (2),
// the units, a NUL unit.
func (p *parser) name(off, pos, end int) (string, int, error) {
	s, size, err := p.nameAt(off)
	if err != nil {
		return "", pos, err
	}
	if off == pos {
		if size > end-pos {
			return "", pos, p.errorf(pos, "name overruns its fragment")
		}
		pos += size
	}
	return s, pos, nil
}

func (p *parser) nameAt(off int) (string, int, error) {
	if off < 0 || off > len(p.buf)-8 {
		return "", 0, p.errorf(off, "name offset outside the chunk")
	}
	n := p.u16(off + 6)
	size := 8 + 2*n + 2
	if size > len(p.buf)-off {
		return "", 0, p.errorf(off, "name of %d units overruns the chunk", n)
	}
	if s, ok := p.names[uint32(off)]; ok {
		return s, size, nil
	}
	if p.decode += 2 * n; p.decode > maxChunkDecode {
		return "", 0, p.errorf(off, "more than %d bytes of names in the chunk", maxChunkDecode)
	}
	p.tmp = appendUTF16(p.tmp[:0], p.buf[off+8:off+8+2*n], false)
	s := p.internBytes(p.tmp)
	p.names[uint32(off)] = s
	return s, size, nil
}
