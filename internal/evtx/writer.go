package evtx

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// The writer produces EVTX files as Windows lays them out: each event is a
// template instance whose template (one per event shape: provider, event
// data names and value types) is defined once per chunk, names are stored
// once per chunk and indexed in the chunk's string hash table, and every
// header and checksum is filled in. The lab generator uses it to produce
// event logs that evtxexport and the reader in this package both read.

// Hex32 and Hex64 are written as HexInt32/HexInt64 values (rendered 0x...).
type (
	Hex32 uint32
	Hex64 uint64
)

// SID is a security identifier in its string form (S-1-5-18), written as a
// binary SID value.
type SID string

// GUID is written as a GUID value; give it in its string form, with or
// without braces.
type GUID string

// Data is one named value of an event's EventData (Name may be empty, as
// classic providers write unnamed <Data> elements) or of its UserData.
type Data struct {
	Name string
	// Value is a string, bool, uint8, uint16, uint32, uint64, int32,
	// int64, Hex32, Hex64, SID, GUID, time.Time or []byte.
	Value any
}

// UserData is an event's UserData part: one element (Name, in namespace NS)
// holding one child element per field.
type UserData struct {
	Name   string
	NS     string
	Fields []Data
}

// WEvent is an event to write.
type WEvent struct {
	Provider        string
	ProviderGUID    GUID   // manifest providers; empty for classic ones
	EventSourceName string // classic providers: the source name attribute
	EventID         uint16
	Qualifiers      uint16
	HasQualifiers   bool // classic providers write EventID Qualifiers=
	Version         uint8
	Level           uint8
	Task            uint16
	Opcode          uint8
	Keywords        uint64
	Time            time.Time
	ActivityID      GUID
	ProcessID       uint32
	ThreadID        uint32
	Channel         string
	Computer        string
	UserID          SID // empty: no Security UserID
	Data            []Data
	UserData        *UserData
}

// Writer writes one EVTX file. Call Close to finish the file header.
type Writer struct {
	w       io.WriteSeeker
	c       *wchunk
	chunks  int
	nextID  uint64
	err     error
	scratch []byte
}

// NewWriter starts an EVTX file on w (a file: the header is rewritten at
// Close, when the chunk count and the next record id are known).
func NewWriter(w io.WriteSeeker) (*Writer, error) {
	wr := &Writer{w: w, nextID: 1}
	if _, err := w.Write(make([]byte, fileHeaderSize)); err != nil {
		return nil, err
	}
	return wr, nil
}

// ErrEventTooLarge is returned for an event that does not fit in a chunk.
var ErrEventTooLarge = errors.New("evtx: event larger than a chunk")

// Write appends an event; its record id is the next in sequence.
func (wr *Writer) Write(ev *WEvent) error {
	if wr.err != nil {
		return wr.err
	}
	if wr.c == nil {
		wr.c = newWChunk()
	}
	if err := wr.c.event(wr.nextID, ev); err != nil {
		if !errors.Is(err, errChunkFull) {
			return err
		}
		if wr.c.records == 0 {
			return ErrEventTooLarge
		}
		if err := wr.flush(); err != nil {
			return err
		}
		wr.c = newWChunk()
		if err := wr.c.event(wr.nextID, ev); err != nil {
			if errors.Is(err, errChunkFull) {
				return ErrEventTooLarge
			}
			return err
		}
	}
	wr.nextID++
	return nil
}

func (wr *Writer) flush() error {
	if wr.c == nil || wr.c.records == 0 {
		return nil
	}
	if wr.chunks == 0xffff {
		wr.err = errors.New("evtx: more chunks than a file header can count")
		return wr.err
	}
	if _, err := wr.w.Write(wr.c.finish()); err != nil {
		wr.err = err
		return err
	}
	wr.chunks++
	wr.c = nil
	return nil
}

// Close writes the last chunk and the file header. The file is marked
// clean (not dirty), as after a log is closed or exported.
func (wr *Writer) Close() error {
	if err := wr.flush(); err != nil {
		return err
	}
	h := make([]byte, fileHeaderSize)
	copy(h, fileMagic)
	binary.LittleEndian.PutUint64(h[8:], 0)
	binary.LittleEndian.PutUint64(h[16:], uint64(max(wr.chunks-1, 0)))
	binary.LittleEndian.PutUint64(h[24:], wr.nextID)
	binary.LittleEndian.PutUint32(h[32:], 128)
	binary.LittleEndian.PutUint16(h[36:], 2)
	binary.LittleEndian.PutUint16(h[38:], 3)
	binary.LittleEndian.PutUint16(h[40:], fileHeaderSize)
	binary.LittleEndian.PutUint16(h[42:], uint16(wr.chunks))
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	if _, err := wr.w.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := wr.w.Write(h); err != nil {
		return err
	}
	_, err := wr.w.Seek(0, io.SeekEnd)
	return err
}

var errChunkFull = errors.New("chunk full")

// wchunk is a chunk being written.
type wchunk struct {
	b         []byte
	names     map[string]int // name -> offset of its string entry
	templates map[string]wtemplate
	buckets   [64]uint32 // string hash table: latest entry per bucket
	tbuckets  [32]uint32 // template table
	first     uint64
	last      uint64
	lastRec   int
	records   int
	// what the current record added, undone when it does not fit
	addedNames []string
	addedTmpl  []string
	deps       bool
}

type wtemplate struct {
	off int
	id  uint32
}

func newWChunk() *wchunk {
	return &wchunk{
		b:         make([]byte, chunkHeaderSize, chunkSize),
		names:     map[string]int{},
		templates: map[string]wtemplate{},
	}
}

func (c *wchunk) u8(v byte)    { c.b = append(c.b, v) }
func (c *wchunk) u16(v uint16) { c.b = binary.LittleEndian.AppendUint16(c.b, v) }
func (c *wchunk) u32(v uint32) { c.b = binary.LittleEndian.AppendUint32(c.b, v) }
func (c *wchunk) u64(v uint64) { c.b = binary.LittleEndian.AppendUint64(c.b, v) }
func (c *wchunk) put32(at int, v uint32) {
	binary.LittleEndian.PutUint32(c.b[at:], v)
}

func utf16Bytes(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// nameHash is the hash Windows stores with each name (and buckets by).
func nameHash(s string) uint16 {
	var h uint32
	for _, u := range utf16.Encode([]rune(s)) {
		h = h*65599 + uint32(u)
	}
	return uint16(h)
}

// name writes a name reference, and the name itself the first time.
func (c *wchunk) name(s string) {
	if off, ok := c.names[s]; ok {
		c.u32(uint32(off))
		return
	}
	off := len(c.b) + 4
	c.names[s] = off
	c.addedNames = append(c.addedNames, s)
	c.u32(uint32(off))
	h := nameHash(s)
	c.u32(c.buckets[h%64])
	c.buckets[h%64] = uint32(off)
	c.u16(h)
	u := utf16.Encode([]rune(s))
	c.u16(uint16(len(u)))
	for _, x := range u {
		c.u16(x)
	}
	c.u16(0)
}

// open writes an element's start; it returns the offsets to patch: the data
// size and, with attributes, the attribute list size.
func (c *wchunk) open(name string, attrs bool) (sizeAt, attrAt int) {
	tok := byte(tokOpenStart)
	if attrs {
		tok |= tokMore
	}
	c.u8(tok)
	if c.deps {
		c.u16(0xffff)
	}
	sizeAt = len(c.b)
	c.u32(0)
	c.name(name)
	attrAt = -1
	if attrs {
		attrAt = len(c.b)
		c.u32(0)
	}
	return sizeAt, attrAt
}

func (c *wchunk) attr(name string, more bool) {
	tok := byte(tokAttribute)
	if more {
		tok |= tokMore
	}
	c.u8(tok)
	c.name(name)
}

// closeAttrs ends the attribute list (its size is patched) and the start tag.
func (c *wchunk) closeAttrs(attrAt int, empty bool) {
	if attrAt >= 0 {
		c.put32(attrAt, uint32(len(c.b)-attrAt-4))
	}
	if empty {
		c.u8(tokCloseEmpty)
	} else {
		c.u8(tokCloseStart)
	}
}

func (c *wchunk) end(sizeAt int) {
	c.u8(tokEndElement)
	c.put32(sizeAt, uint32(len(c.b)-sizeAt-4))
}

// endEmpty patches the size of an element closed with tokCloseEmpty.
func (c *wchunk) endEmpty(sizeAt int) { c.put32(sizeAt, uint32(len(c.b)-sizeAt-4)) }

func (c *wchunk) text(s string) {
	u := utf16.Encode([]rune(s))
	c.u8(tokValue)
	c.u8(typeString)
	c.u16(uint16(len(u)))
	for _, x := range u {
		c.u16(x)
	}
}

func (c *wchunk) subst(i int, typ byte, optional bool) {
	if optional {
		c.u8(tokOptionalSubst)
	} else {
		c.u8(tokNormalSubst)
	}
	c.u16(uint16(i))
	c.u8(typ)
}

// attrSubst is an attribute whose value is substitution i.
type attrSubst struct {
	name     string
	i        int
	typ      byte
	optional bool
}

// emptySubst writes <name a="%i" .../>.
func (c *wchunk) emptySubst(name string, attrs ...attrSubst) {
	s, a := c.open(name, true)
	for k, at := range attrs {
		c.attr(at.name, k < len(attrs)-1)
		c.subst(at.i, at.typ, at.optional)
	}
	c.closeAttrs(a, true)
	c.endEmpty(s)
}

// leaf writes <name>%i</name>.
func (c *wchunk) leaf(name string, i int, typ byte, optional bool) {
	s, a := c.open(name, false)
	c.closeAttrs(a, false)
	c.subst(i, typ, optional)
	c.end(s)
}

// value is one substitution value.
type wvalue struct {
	typ  byte
	data []byte
}

// encodeValue turns a Go value into a substitution value.
func encodeValue(v any) (wvalue, error) {
	le := binary.LittleEndian
	switch x := v.(type) {
	case nil:
		return wvalue{typ: typeNull}, nil
	case string:
		return wvalue{typ: typeString, data: utf16Bytes(x)}, nil
	case bool:
		b := uint32(0)
		if x {
			b = 1
		}
		return wvalue{typ: typeBool, data: le.AppendUint32(nil, b)}, nil
	case uint8:
		return wvalue{typ: typeUint8, data: []byte{x}}, nil
	case uint16:
		return wvalue{typ: typeUint16, data: le.AppendUint16(nil, x)}, nil
	case uint32:
		return wvalue{typ: typeUint32, data: le.AppendUint32(nil, x)}, nil
	case uint64:
		return wvalue{typ: typeUint64, data: le.AppendUint64(nil, x)}, nil
	case int32:
		return wvalue{typ: typeInt32, data: le.AppendUint32(nil, uint32(x))}, nil
	case int64:
		return wvalue{typ: typeInt64, data: le.AppendUint64(nil, uint64(x))}, nil
	case Hex32:
		return wvalue{typ: typeHex32, data: le.AppendUint32(nil, uint32(x))}, nil
	case Hex64:
		return wvalue{typ: typeHex64, data: le.AppendUint64(nil, uint64(x))}, nil
	case time.Time:
		return wvalue{typ: typeFiletime, data: le.AppendUint64(nil, filetime(x))}, nil
	case []byte:
		return wvalue{typ: typeBinary, data: x}, nil
	case GUID:
		if x == "" {
			return wvalue{typ: typeNull}, nil
		}
		g, err := parseGUID(string(x))
		return wvalue{typ: typeGUID, data: g}, err
	case SID:
		if x == "" {
			return wvalue{typ: typeNull}, nil
		}
		s, err := parseSID(string(x))
		return wvalue{typ: typeSID, data: s}, err
	}
	return wvalue{}, fmt.Errorf("evtx: cannot write a %T value", v)
}

// filetime converts to 100 ns intervals since 1601-01-01 UTC.
func filetime(t time.Time) uint64 {
	return uint64(t.Unix()+filetimeEpoch)*1e7 + uint64(t.Nanosecond()/100)
}

func parseGUID(s string) ([]byte, error) {
	s = strings.Trim(s, "{}")
	p := strings.Split(s, "-")
	if len(p) != 5 || len(p[0]) != 8 || len(p[1]) != 4 || len(p[2]) != 4 || len(p[3]) != 4 || len(p[4]) != 12 {
		return nil, fmt.Errorf("evtx: GUID %q: want 8-4-4-4-12 hex digits", s)
	}
	a, err1 := strconv.ParseUint(p[0], 16, 32)
	b, err2 := strconv.ParseUint(p[1], 16, 16)
	c, err3 := strconv.ParseUint(p[2], 16, 16)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("evtx: GUID %q: %w", s, err)
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(a))
	out = binary.LittleEndian.AppendUint16(out, uint16(b))
	out = binary.LittleEndian.AppendUint16(out, uint16(c))
	rest := p[3] + p[4]
	for i := 0; i < 16; i += 2 {
		v, err := strconv.ParseUint(rest[i:i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("evtx: GUID %q: %w", s, err)
		}
		out = append(out, byte(v))
	}
	return out, nil
}

func parseSID(s string) ([]byte, error) {
	p := strings.Split(s, "-")
	if len(p) < 3 || !strings.EqualFold(p[0], "S") || len(p)-3 > 15 {
		return nil, fmt.Errorf("evtx: SID %q: want S-R-A-S...", s)
	}
	rev, err := strconv.ParseUint(p[1], 10, 8)
	if err != nil {
		return nil, fmt.Errorf("evtx: SID %q: %w", s, err)
	}
	auth, err := strconv.ParseUint(p[2], 10, 48)
	if err != nil {
		return nil, fmt.Errorf("evtx: SID %q: %w", s, err)
	}
	out := []byte{byte(rev), byte(len(p) - 3)}
	for i := 5; i >= 0; i-- {
		out = append(out, byte(auth>>(8*i)))
	}
	for _, sub := range p[3:] {
		v, err := strconv.ParseUint(sub, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("evtx: SID %q: %w", s, err)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(v))
	}
	return out, nil
}

// Substitution indices of the System part, then EventData/UserData values.
const (
	sLevel = iota
	sTask
	sOpcode
	sKeywords
	sTime
	sRecordID
	sActivity
	sPID
	sTID
	sEventID
	sQualifiers
	sVersion
	sComputer
	sUserID
	sFirstData
)

// event encodes one record, or returns errChunkFull with the chunk as it
// was before.
func (c *wchunk) event(id uint64, ev *WEvent) error {
	vals := make([]wvalue, sFirstData, sFirstData+len(ev.Data))
	var err error
	set := func(i int, v any) {
		if err == nil {
			vals[i], err = encodeValue(v)
		}
	}
	set(sLevel, ev.Level)
	set(sTask, ev.Task)
	set(sOpcode, ev.Opcode)
	set(sKeywords, Hex64(ev.Keywords))
	set(sTime, ev.Time)
	set(sRecordID, id)
	set(sActivity, ev.ActivityID)
	set(sPID, ev.ProcessID)
	set(sTID, ev.ThreadID)
	set(sEventID, ev.EventID)
	set(sQualifiers, ev.Qualifiers)
	set(sVersion, ev.Version)
	set(sComputer, ev.Computer)
	set(sUserID, ev.UserID)
	var fields []Data
	if ev.UserData != nil {
		fields = ev.UserData.Fields
	} else {
		fields = ev.Data
	}
	for _, d := range fields {
		v, e := encodeValue(d.Value)
		if e != nil && err == nil {
			err = fmt.Errorf("data %q: %w", d.Name, e)
		}
		vals = append(vals, v)
	}
	if err != nil {
		return err
	}

	// The template is keyed by everything its definition holds literally.
	var key strings.Builder
	fmt.Fprintf(&key, "%s\x00%s\x00%s\x00%s\x00%t", ev.Provider, ev.ProviderGUID, ev.EventSourceName, ev.Channel, ev.HasQualifiers)
	if ev.UserData != nil {
		fmt.Fprintf(&key, "\x00U%s\x00%s", ev.UserData.Name, ev.UserData.NS)
	}
	for i, d := range fields {
		fmt.Fprintf(&key, "\x00%s\x01%d", d.Name, vals[sFirstData+i].typ)
	}

	start := len(c.b)
	c.addedNames, c.addedTmpl = c.addedNames[:0], c.addedTmpl[:0]
	c.b = append(c.b, recordMagic...)
	c.u32(0)
	c.u64(id)
	c.u64(filetime(ev.Time))
	c.b = append(c.b, tokFragment, 1, 1, 0)
	c.instance(key.String(), ev, fields, vals)
	c.u8(tokEOF)
	for (len(c.b)-start+4)%8 != 0 {
		c.u8(0)
	}
	size := len(c.b) - start + 4
	if len(c.b)+4 > chunkSize {
		// undo: names and templates this record defined live in the bytes
		// being dropped
		c.b = c.b[:start]
		for i := len(c.addedNames) - 1; i >= 0; i-- {
			n := c.addedNames[i]
			off := c.names[n]
			delete(c.names, n)
			h := nameHash(n) % 64
			c.buckets[h] = binary.LittleEndian.Uint32(c.b[:cap(c.b)][off:])
		}
		for i := len(c.addedTmpl) - 1; i >= 0; i-- {
			k := c.addedTmpl[i]
			t := c.templates[k]
			delete(c.templates, k)
			c.tbuckets[t.id%32] = binary.LittleEndian.Uint32(c.b[:cap(c.b)][t.off:])
		}
		return errChunkFull
	}
	c.u32(uint32(size))
	c.put32(start+4, uint32(size))
	if c.records == 0 {
		c.first = id
	}
	c.last = id
	c.lastRec = start
	c.records++
	return nil
}

// instance writes the template instance: the definition on first use in
// the chunk, then the substitution values.
func (c *wchunk) instance(key string, ev *WEvent, fields []Data, vals []wvalue) {
	c.u8(tokTemplate)
	c.u8(1)
	t, ok := c.templates[key]
	if !ok {
		sum := sha256.Sum256([]byte(key))
		t = wtemplate{off: len(c.b) + 8, id: binary.LittleEndian.Uint32(sum[:4])}
		c.u32(t.id)
		c.u32(uint32(t.off))
		c.u32(c.tbuckets[t.id%32])
		c.tbuckets[t.id%32] = uint32(t.off)
		c.b = append(c.b, sum[:16]...)
		sizeAt := len(c.b)
		c.u32(0)
		c.templates[key] = t
		c.addedTmpl = append(c.addedTmpl, key)
		c.b = append(c.b, tokFragment, 1, 1, 0)
		c.deps = true
		c.definition(ev, fields, vals)
		c.deps = false
		c.u8(tokEOF)
		c.put32(sizeAt, uint32(len(c.b)-sizeAt-4))
	} else {
		c.u32(t.id)
		c.u32(uint32(t.off))
	}
	c.u32(uint32(len(vals)))
	for _, v := range vals {
		c.u16(uint16(len(v.data)))
		c.u8(v.typ)
		c.u8(0)
	}
	for _, v := range vals {
		c.b = append(c.b, v.data...)
	}
}

// definition writes the Event element of a template.
func (c *wchunk) definition(ev *WEvent, fields []Data, vals []wvalue) {
	evS, evA := c.open("Event", true)
	c.attr("xmlns", false)
	c.text("http://schemas.microsoft.com/win/2004/08/events/event")
	c.closeAttrs(evA, false)

	sysS, sysA := c.open("System", false)
	c.closeAttrs(sysA, false)

	pS, pA := c.open("Provider", true)
	c.attr("Name", ev.ProviderGUID != "" || ev.EventSourceName != "")
	c.text(ev.Provider)
	if ev.ProviderGUID != "" {
		c.attr("Guid", ev.EventSourceName != "")
		g := strings.ToUpper(strings.Trim(string(ev.ProviderGUID), "{}"))
		c.text("{" + g + "}")
	}
	if ev.EventSourceName != "" {
		c.attr("EventSourceName", false)
		c.text(ev.EventSourceName)
	}
	c.closeAttrs(pA, true)
	c.endEmpty(pS)

	if ev.HasQualifiers {
		s, a := c.open("EventID", true)
		c.attr("Qualifiers", false)
		c.subst(sQualifiers, typeUint16, false)
		c.closeAttrs(a, false)
		c.subst(sEventID, typeUint16, false)
		c.end(s)
	} else {
		c.leaf("EventID", sEventID, typeUint16, false)
	}
	c.leaf("Version", sVersion, typeUint8, false)
	c.leaf("Level", sLevel, typeUint8, false)
	c.leaf("Task", sTask, typeUint16, false)
	c.leaf("Opcode", sOpcode, typeUint8, false)
	c.leaf("Keywords", sKeywords, typeHex64, false)

	c.emptySubst("TimeCreated", attrSubst{"SystemTime", sTime, typeFiletime, false})

	c.leaf("EventRecordID", sRecordID, typeUint64, false)

	c.emptySubst("Correlation", attrSubst{"ActivityID", sActivity, typeGUID, true})

	c.emptySubst("Execution", attrSubst{"ProcessID", sPID, typeUint32, false}, attrSubst{"ThreadID", sTID, typeUint32, false})

	chS, chA := c.open("Channel", false)
	c.closeAttrs(chA, false)
	c.text(ev.Channel)
	c.end(chS)

	c.leaf("Computer", sComputer, typeString, false)

	c.emptySubst("Security", attrSubst{"UserID", sUserID, typeSID, true})

	c.end(sysS)

	if ev.UserData != nil {
		udS, udA := c.open("UserData", false)
		c.closeAttrs(udA, false)
		hasNS := ev.UserData.NS != ""
		eS, eA := c.open(ev.UserData.Name, hasNS)
		if hasNS {
			c.attr("xmlns", false)
			c.text(ev.UserData.NS)
		}
		c.closeAttrs(eA, false)
		for i, d := range fields {
			c.leaf(d.Name, sFirstData+i, vals[sFirstData+i].typ, true)
		}
		c.end(eS)
		c.end(udS)
	} else if len(fields) > 0 {
		edS, edA := c.open("EventData", false)
		c.closeAttrs(edA, false)
		for i, d := range fields {
			s, a := c.open("Data", d.Name != "")
			if d.Name != "" {
				c.attr("Name", false)
				c.text(d.Name)
			}
			c.closeAttrs(a, false)
			c.subst(sFirstData+i, vals[sFirstData+i].typ, true)
			c.end(s)
		}
		c.end(edS)
	}
	c.end(evS)
}

// finish fills in the chunk header: record numbers, offsets, the hash
// tables and both checksums.
func (c *wchunk) finish() []byte {
	free := len(c.b)
	b := c.b[:chunkSize]
	clear(b[free:])
	copy(b, chunkMagic)
	le := binary.LittleEndian
	le.PutUint64(b[8:], c.first)
	le.PutUint64(b[16:], c.last)
	le.PutUint64(b[24:], c.first)
	le.PutUint64(b[32:], c.last)
	le.PutUint32(b[40:], 128)
	le.PutUint32(b[44:], uint32(c.lastRec))
	le.PutUint32(b[48:], uint32(free))
	le.PutUint32(b[52:], crc32.ChecksumIEEE(b[chunkHeaderSize:free]))
	for i, off := range c.buckets {
		le.PutUint32(b[128+4*i:], off)
	}
	for i, off := range c.tbuckets {
		le.PutUint32(b[384+4*i:], off)
	}
	le.PutUint32(b[124:], chunkHeaderCRC(b))
	return b
}
