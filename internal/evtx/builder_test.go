package evtx

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// chunkBuilder writes a chunk byte by byte, so tests can make any BinXML,
// well-formed or not. Offsets in BinXML are chunk-relative, so everything
// is written at its final position.
type chunkBuilder struct {
	b         []byte
	names     map[string]int // name -> offset, once written inline
	templates map[uint32]int // template id -> definition offset
	first     uint64
	last      uint64
	lastRec   int
	deps      bool // writing a template definition: elements carry a dependency id
}

func newChunk() *chunkBuilder {
	return &chunkBuilder{
		b:         make([]byte, chunkHeaderSize, chunkSize),
		names:     map[string]int{},
		templates: map[uint32]int{},
	}
}

func (c *chunkBuilder) pos() int  { return len(c.b) }
func (c *chunkBuilder) u8(v byte) { c.b = append(c.b, v) }
func (c *chunkBuilder) u16(v int) { c.b = binary.LittleEndian.AppendUint16(c.b, uint16(v)) }
func (c *chunkBuilder) u32(v int) { c.b = binary.LittleEndian.AppendUint32(c.b, uint32(v)) }
func (c *chunkBuilder) u64(v uint64) {
	c.b = binary.LittleEndian.AppendUint64(c.b, v)
}
func (c *chunkBuilder) put32(at, v int) { binary.LittleEndian.PutUint32(c.b[at:], uint32(v)) }

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// name writes a name offset, and the name inline the first time.
func (c *chunkBuilder) name(s string) {
	if off, ok := c.names[s]; ok {
		c.u32(off)
		return
	}
	off := c.pos() + 4
	c.names[s] = off
	c.u32(off)
	c.u32(0) // next in bucket
	c.u16(0) // hash (unchecked)
	c.u16(len([]rune(s)))
	c.b = append(c.b, utf16le(s)...)
	c.u16(0)
}

// open writes an open start element; attrs says whether attributes follow.
func (c *chunkBuilder) open(name string, attrs bool) {
	tok := byte(tokOpenStart)
	if attrs {
		tok |= tokMore
	}
	c.u8(tok)
	if c.deps {
		c.u16(0xffff)
	}
	c.u32(0) // data size, unused by readers
	c.name(name)
	if attrs {
		c.u32(0) // attribute list size
	}
}

func (c *chunkBuilder) attr(name string) { c.u8(tokAttribute); c.name(name) }
func (c *chunkBuilder) closeStart()      { c.u8(tokCloseStart) }
func (c *chunkBuilder) closeEmpty()      { c.u8(tokCloseEmpty) }
func (c *chunkBuilder) end()             { c.u8(tokEndElement) }
func (c *chunkBuilder) eof()             { c.u8(tokEOF) }

// text writes a literal string value token.
func (c *chunkBuilder) text(s string) {
	c.u8(tokValue)
	c.u8(typeString)
	c.u16(len(utf16.Encode([]rune(s))))
	c.b = append(c.b, utf16le(s)...)
}

func (c *chunkBuilder) subst(i int, typ byte, optional bool) {
	if optional {
		c.u8(tokOptionalSubst)
	} else {
		c.u8(tokNormalSubst)
	}
	c.u16(i)
	c.u8(typ)
}

// data writes <Data Name="name">%i</Data>.
func (c *chunkBuilder) data(name string, i int, typ byte) {
	c.open("Data", true)
	c.attr("Name")
	c.text(name)
	c.closeStart()
	c.subst(i, typ, false)
	c.end()
}

type val struct {
	typ   byte
	data  []byte
	write func() // writes the data in place (BinXml whose offsets must be right)
}

// instance writes a template instance; def writes the definition's body
// (after its fragment header) the first time the id is used.
func (c *chunkBuilder) instance(id uint32, def func(), vals []val) {
	c.u8(tokTemplate)
	c.u8(1)
	c.u32(int(id))
	if off, ok := c.templates[id]; ok {
		c.u32(off)
	} else {
		off := c.pos() + 4
		c.templates[id] = off
		c.u32(off)
		c.u32(0) // next template
		c.u32(int(id))
		c.b = append(c.b, make([]byte, 12)...) // rest of the GUID
		sizeAt := c.pos()
		c.u32(0)
		c.b = append(c.b, tokFragment, 1, 1, 0)
		saved := c.deps
		c.deps = true
		def()
		c.deps = saved
		c.put32(sizeAt, c.pos()-sizeAt-4)
	}
	c.values(vals)
}

func (c *chunkBuilder) values(vals []val) {
	c.u32(len(vals))
	desc := c.pos()
	for _, v := range vals {
		c.u16(len(v.data))
		c.u8(v.typ)
		c.u8(0)
	}
	for i, v := range vals {
		start := c.pos()
		if v.write != nil {
			v.write()
		} else {
			c.b = append(c.b, v.data...)
		}
		binary.LittleEndian.PutUint16(c.b[desc+4*i:], uint16(c.pos()-start))
	}
}

// record writes an event record around body.
func (c *chunkBuilder) record(id uint64, written uint64, body func()) {
	start := c.pos()
	c.b = append(c.b, recordMagic...)
	c.u32(0)
	c.u64(id)
	c.u64(written)
	c.b = append(c.b, tokFragment, 1, 1, 0)
	body()
	for (c.pos()-start+4)%8 != 0 {
		c.u8(0)
	}
	size := c.pos() - start + 4
	c.u32(size)
	c.put32(start+4, size)
	if c.first == 0 {
		c.first = id
	}
	c.last = id
	c.lastRec = start
}

// bytes finishes the chunk: header fields and both checksums.
func (c *chunkBuilder) bytes() []byte {
	b := append([]byte(nil), c.b...)
	free := len(b)
	b = append(b, make([]byte, chunkSize-len(b))...)
	copy(b, chunkMagic)
	binary.LittleEndian.PutUint64(b[8:], c.first)
	binary.LittleEndian.PutUint64(b[16:], c.last)
	binary.LittleEndian.PutUint64(b[24:], c.first)
	binary.LittleEndian.PutUint64(b[32:], c.last)
	binary.LittleEndian.PutUint32(b[40:], 128)
	binary.LittleEndian.PutUint32(b[44:], uint32(c.lastRec))
	binary.LittleEndian.PutUint32(b[48:], uint32(free))
	binary.LittleEndian.PutUint32(b[52:], crc32.ChecksumIEEE(b[chunkHeaderSize:free]))
	binary.LittleEndian.PutUint32(b[124:], chunkHeaderCRC(b))
	return b
}

// evtxFile puts chunks behind a valid file header.
func evtxFile(chunks ...[]byte) []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	binary.LittleEndian.PutUint64(h[16:], uint64(max(len(chunks)-1, 0)))
	binary.LittleEndian.PutUint32(h[32:], 128)
	binary.LittleEndian.PutUint16(h[36:], 1)
	binary.LittleEndian.PutUint16(h[38:], 3)
	binary.LittleEndian.PutUint16(h[40:], fileHeaderSize)
	binary.LittleEndian.PutUint16(h[42:], uint16(len(chunks)))
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	for _, c := range chunks {
		h = append(h, c...)
	}
	return h
}

// eventTemplate writes a minimal Event with a System part and, via body,
// its EventData.
func (c *chunkBuilder) eventTemplate(body func()) func() {
	return func() {
		c.open("Event", true)
		c.attr("xmlns")
		c.text("http://schemas.microsoft.com/win/2004/08/events/event")
		c.closeStart()
		c.open("System", false)
		c.closeStart()
		c.open("EventID", false)
		c.closeStart()
		c.subst(0, typeUint16, false)
		c.end()
		c.open("EventRecordID", false)
		c.closeStart()
		c.subst(1, typeUint64, false)
		c.end()
		c.end()
		body()
		c.end()
		c.eof()
	}
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
