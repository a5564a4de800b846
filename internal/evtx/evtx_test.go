package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func fieldMap(e *Event) map[string]string {
	m := map[string]string{}
	for _, f := range e.Fields {
		m[f.Name] = f.Value
	}
	return m
}

func decodeJSON(t *testing.T, e *Event) map[string]any {
	t.Helper()
	j, err := e.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if !json.Valid(j) {
		t.Fatalf("invalid JSON: %s", j)
	}
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// oneChunk reads a file of the given chunks and fails on any error.
func readChunks(t *testing.T, chunks ...[]byte) ([]*Event, Stats) {
	t.Helper()
	evs, st, err := readBytes(t, "test.evtx", evtxFile(chunks...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func TestValueTypes(t *testing.T) {
	when := time.Date(2019, 2, 9, 17, 5, 24, 672757800, time.UTC)
	sid := []byte{1, 5, 0, 0, 0, 0, 0, 5}
	for _, sub := range []uint32{21, 1, 2, 3} {
		sid = append(sid, le32(sub)...)
	}
	guid := []byte{0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49, 0xa5, 0xba, 0x3e, 0x3b, 0x03, 0x28, 0xc3, 0x0d}
	systime := slices.Concat(le16(2024), le16(3), le16(2), le16(5), le16(6), le16(7), le16(8), le16(9))
	cases := []struct {
		name string
		v    val
		text string
		json any // json.Number, string or bool; nil means the text as a string
	}{
		{"String", val{typeString, append(utf16le("hello  "), 0, 0), nil}, "hello", nil},
		{"Ansi", val{typeAnsi, []byte("caf\xe9\x80\x00"), nil}, "café€", nil},
		{"Int8", val{typeInt8, []byte{0xfb}, nil}, "-5", json.Number("-5")},
		{"Uint8", val{typeUint8, []byte{250}, nil}, "250", json.Number("250")},
		{"Int16", val{typeInt16, le16(uint16(0xffff - 299)), nil}, "-300", json.Number("-300")},
		{"Uint16", val{typeUint16, le16(65000), nil}, "65000", json.Number("65000")},
		{"Int32", val{typeInt32, le32(uint32(math.MaxUint32 - 69999)), nil}, "-70000", json.Number("-70000")},
		{"Uint32", val{typeUint32, le32(4000000000), nil}, "4000000000", json.Number("4000000000")},
		{"Int64", val{typeInt64, le64(uint64(math.MaxUint64 - 1<<40 + 1)), nil}, "-1099511627776", json.Number("-1099511627776")},
		{"Uint64", val{typeUint64, le64(1 << 63), nil}, "9223372036854775808", json.Number("9223372036854775808")},
		{"Real32", val{typeReal32, le32(math.Float32bits(1.5)), nil}, "1.5", nil},
		{"Real64", val{typeReal64, le64(math.Float64bits(-2.25)), nil}, "-2.25", nil},
		{"Bool", val{typeBool, le32(1), nil}, "true", true},
		{"Binary", val{typeBinary, []byte{0x01, 0xab}, nil}, "01AB", nil},
		{"GUID", val{typeGUID, guid, nil}, "54849625-5478-4994-A5BA-3E3B0328C30D", nil},
		{"SizeT", val{typeSizeT, le64(0x1000), nil}, "0x1000", nil},
		{"Filetime", val{typeFiletime, le64(filetime(when)), nil}, "2019-02-09T17:05:24.672757Z", nil},
		{"Systime", val{typeSystime, systime, nil}, "2024-03-05T06:07:08.009000Z", nil},
		{"SID", val{typeSID, sid, nil}, "S-1-5-21-1-2-3", nil},
		{"Hex32", val{typeHex32, le32(0xbeef), nil}, "0xbeef", nil},
		{"Hex64", val{typeHex64, le64(0x8000000000000000), nil}, "0x8000000000000000", nil},
		{"Handle", val{typeEvtHandle, le64(0x10), nil}, "0x10", nil},
		{"Null", val{typeNull, nil, nil}, "", nil},
		{"Short", val{typeUint32, []byte{1}, nil}, "1", json.Number("1")}, // cut short: what is there
		{"StrArray1", val{typeString | typeArray, append(utf16le("one"), 0, 0), nil}, "one", nil},
	}
	c := newChunk()
	vals := []val{{typeUint16, le16(4688), nil}, {typeUint64, le64(7), nil}}
	for _, tc := range cases {
		vals = append(vals, tc.v)
	}
	c.record(7, filetime(when), func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("EventData", false)
			c.closeStart()
			for i, tc := range cases {
				c.data(tc.name, i+2, tc.v.typ)
			}
			c.end()
		}), vals)
	})
	evs, st := readChunks(t, c.bytes())
	if len(evs) != 1 || len(st.Corrupt) > 0 {
		t.Fatalf("%d events, problems %v", len(evs), st.Corrupt)
	}
	e := evs[0]
	if e.RecordID != 7 || !e.Time.Equal(when) {
		t.Errorf("record %d at %v", e.RecordID, e.Time)
	}
	f := fieldMap(e)
	if f["EventID"] != "4688" || f["EventRecordID"] != "7" {
		t.Errorf("system fields %v", f)
	}
	data := decodeJSON(t, e)["Event"].(map[string]any)["EventData"].(map[string]any)
	for _, tc := range cases {
		if got, ok := e.Field(tc.name); !ok || got != tc.text {
			t.Errorf("%s: field %q (present %v), want %q", tc.name, got, ok, tc.text)
		}
		want := tc.json
		if want == nil {
			want = tc.text
		}
		if data[tc.name] != want {
			t.Errorf("%s: JSON %#v, want %#v", tc.name, data[tc.name], want)
		}
	}
	if sys := decodeJSON(t, e)["Event"].(map[string]any)["System"].(map[string]any); sys["EventID"] != json.Number("4688") {
		t.Errorf("JSON System %v", sys)
	}
}

// An array substitution repeats its element once per item, as Windows
// renders it.
func TestArrays(t *testing.T) {
	c := newChunk()
	strs := slices.Concat(utf16le("a"), []byte{0, 0}, utf16le("b"), []byte{0, 0}, utf16le("c"), []byte{0, 0})
	nums := slices.Concat(le16(1), le16(2))
	c.record(1, 0, func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("EventData", false)
			c.closeStart()
			c.data("List", 2, typeString|typeArray)
			c.open("Data", false) // unnamed
			c.closeStart()
			c.subst(3, typeUint16|typeArray, false)
			c.end()
			c.open("Flag", true) // array in an attribute
			c.attr("v")
			c.subst(3, typeUint16|typeArray, false)
			c.closeEmpty()
			c.end()
		}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(1), nil}, {typeString | typeArray, strs, nil}, {typeUint16 | typeArray, nums, nil}})
	})
	evs, st := readChunks(t, c.bytes())
	if len(evs) != 1 || len(st.Corrupt) > 0 {
		t.Fatalf("%d events, problems %v", len(evs), st.Corrupt)
	}
	want := []Field{
		{"EventID", "1"}, {"EventRecordID", "1"},
		{"List", "a"}, {"List_2", "b"}, {"List_3", "c"},
		{"Data", "1"}, {"Data_2", "2"},
		{"Flag_v", "1"}, {"Flag_v_2", "2"},
	}
	if !slices.Equal(evs[0].Fields, want) {
		t.Errorf("fields\n have %v\n want %v", evs[0].Fields, want)
	}
	j, _ := evs[0].JSON()
	const wantJSON = `"EventData":{"List":"a","List_1":"b","List_2":"c","Flag":{"#attributes":{"v":1}},"Flag_1":{"#attributes":{"v":2}}}`
	if !strings.Contains(string(j), wantJSON) {
		t.Errorf("JSON %s\nwant it to contain %s", j, wantJSON)
	}
}

// BinXml substitution values expand in place: a plain fragment (whose
// elements have no dependency id) and one holding a template instance.
func TestNestedBinXML(t *testing.T) {
	c := newChunk()
	plain := func() {
		c.open("Inner", true)
		c.attr("a")
		c.text("x")
		c.closeStart()
		c.text("plain")
		c.end()
		c.eof()
	}
	templated := func() {
		c.b = append(c.b, tokFragment, 1, 1, 0)
		c.instance(2, func() {
			c.open("LogFileCleared", true)
			c.attr("xmlns")
			c.text("http://manifests.microsoft.com/win/2004/08/windows/eventlog")
			c.closeStart()
			c.open("SubjectUserName", false)
			c.closeStart()
			c.subst(0, typeString, false)
			c.end()
			c.end()
			c.eof()
		}, []val{{typeString, utf16le("alice"), nil}})
		c.eof()
	}
	c.record(1, 0, func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("UserData", false)
			c.closeStart()
			c.subst(2, typeBinXML, false)
			c.subst(3, typeBinXML, false)
			c.end()
		}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(1), nil}, {typeBinXML, nil, plain}, {typeBinXML, nil, templated}})
	})
	evs, st := readChunks(t, c.bytes())
	if len(evs) != 1 || len(st.Corrupt) > 0 {
		t.Fatalf("%d events, problems %v", len(evs), st.Corrupt)
	}
	f := fieldMap(evs[0])
	if f["Inner_a"] != "x" || f["Inner"] != "plain" || f["SubjectUserName"] != "alice" {
		t.Errorf("fields %v", evs[0].Fields)
	}
	ud := decodeJSON(t, evs[0])["Event"].(map[string]any)["UserData"].(map[string]any)
	if ud["LogFileCleared"].(map[string]any)["SubjectUserName"] != "alice" {
		t.Errorf("JSON UserData %v", ud)
	}
}

// Character and entity references, CDATA and processing instructions in
// templates.
func TestReferences(t *testing.T) {
	c := newChunk()
	c.record(1, 0, func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("EventData", false)
			c.closeStart()
			c.open("Data", true)
			c.attr("Name")
			c.text("Ref")
			c.closeStart()
			c.text("a")
			c.u8(tokEntityRef)
			c.name("amp")
			c.u8(tokCharRef)
			c.u16('é')
			c.u8(tokCDATA)
			c.u16(2)
			c.b = append(c.b, utf16le("<>")...)
			c.u8(tokPITarget)
			c.name("pi")
			c.u8(tokPIData)
			c.u16(1)
			c.b = append(c.b, utf16le("z")...)
			c.end()
			c.end()
		}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(1), nil}})
	})
	evs, st := readChunks(t, c.bytes())
	if len(evs) != 1 || len(st.Corrupt) > 0 {
		t.Fatalf("%d events, problems %v", len(evs), st.Corrupt)
	}
	if v, _ := evs[0].Field("Ref"); v != "a&é<>" {
		t.Errorf("Ref = %q", v)
	}
}

func securityEvtx(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "testdata", "evtx", "Security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// recordsPerChunk counts Security.evtx's records by chunk.
func recordsPerChunk(evs []*Event) map[int]int {
	m := map[int]int{}
	for _, e := range evs {
		m[e.Chunk]++
	}
	return m
}

// Security.evtx is dirty and its header counts 5 chunks of the 10 in use.
func TestDirtyFileMoreChunks(t *testing.T) {
	evs, st := readFile(t, filepath.Join(sharedDir(t), "testdata", "evtx", "Security.evtx"))
	if !st.Dirty || st.HeaderChunks != 5 || st.Chunks != 10 || st.EmptyChunks != 7 || st.Records != 739 || len(evs) != 739 {
		t.Errorf("stats %+v", st)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].RecordID != evs[i-1].RecordID+1 {
			t.Fatalf("record %d follows %d", evs[i].RecordID, evs[i-1].RecordID)
		}
	}
}

func TestTruncated(t *testing.T) {
	data := securityEvtx(t)
	full, _, _ := readBytes(t, "full", data, Options{})
	per := recordsPerChunk(full)
	for _, cut := range []int{fileHeaderSize, fileHeaderSize + 100, fileHeaderSize + 3*chunkSize + 300, fileHeaderSize + 3*chunkSize + 30000, len(data) - 1} {
		evs, st, err := readBytes(t, "cut", data[:cut], Options{})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		whole := (cut - fileHeaderSize) / chunkSize
		want := 0
		for i := 0; i < whole; i++ {
			want += per[i]
		}
		if len(evs) != want {
			t.Errorf("cut at %d: %d events, want %d", cut, len(evs), want)
		}
		if whole < 10 && (cut-fileHeaderSize)%chunkSize != 0 && len(st.Corrupt) != 1 {
			t.Errorf("cut at %d: problems %v", cut, st.Corrupt)
		}
	}
	for _, cut := range []int{0, 8, 4095} {
		if _, _, err := readBytes(t, "cut", data[:cut], Options{}); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
}

func chunkAt(data []byte, i int) []byte {
	return data[fileHeaderSize+i*chunkSize : fileHeaderSize+(i+1)*chunkSize]
}

func TestZeroedChunk(t *testing.T) {
	data := securityEvtx(t)
	full, _, _ := readBytes(t, "full", data, Options{})
	per := recordsPerChunk(full)
	data = bytes.Clone(data)
	clear(chunkAt(data, 2))
	evs, st, err := readBytes(t, "zeroed", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(full)-per[2] || st.Chunks != 9 {
		t.Errorf("%d events, want %d; stats %+v", len(evs), len(full)-per[2], st)
	}
	if len(st.Corrupt) != 1 || st.Corrupt[0].Chunk != 2 {
		t.Errorf("problems %v", st.Corrupt)
	}
}

func TestBadChecksums(t *testing.T) {
	data := bytes.Clone(securityEvtx(t))
	full, _, _ := readBytes(t, "full", data, Options{})
	per := recordsPerChunk(full)
	chunkAt(data, 1)[200] ^= 1    // string table: header checksum
	chunkAt(data, 3)[5000] ^= 1   // a record: records checksum
	data[fileHeaderSize-100] ^= 1 // file header padding: harmless
	data[30] ^= 1                 // file header: checksum
	evs, st, err := readBytes(t, "crc", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(full) - per[1] - per[3]; len(evs) != want {
		t.Errorf("%d events, want %d", len(evs), want)
	}
	var where []int
	for _, p := range st.Corrupt {
		where = append(where, p.Chunk)
		if !strings.Contains(p.Reason, "checksum") {
			t.Errorf("reason %q", p.Reason)
		}
	}
	if !slices.Equal(where, []int{-1, 1, 3}) {
		t.Errorf("problems %v", st.Corrupt)
	}
	// Read anyway, the flipped bit in chunk 1's string table is harmless,
	// chunk 3's record may or may not parse.
	evs, _, err = readBytes(t, "crc", data, Options{IgnoreChecksums: true})
	if err != nil || len(evs) < len(full)-per[3] {
		t.Errorf("IgnoreChecksums: %d events, %v", len(evs), err)
	}
}

// problems reads a built chunk and returns its events and problems.
func problems(t *testing.T, chunk []byte) ([]*Event, []Problem) {
	t.Helper()
	done := make(chan struct{})
	var (
		evs []*Event
		st  Stats
	)
	go func() {
		defer close(done)
		evs, st = readChunks(t, chunk)
		for _, e := range evs {
			e.JSON() // must not panic either
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("reader hangs")
	}
	return evs, st.Corrupt
}

func simpleRecord(c *chunkBuilder, id uint64) {
	c.record(id, 0, func() {
		c.instance(100, c.eventTemplate(func() {}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(id), nil}})
	})
}

func wantOneProblem(t *testing.T, evs []*Event, probs []Problem, good int, reason string) {
	t.Helper()
	if len(evs) != good {
		t.Errorf("%d events, want %d", len(evs), good)
	}
	if len(probs) != 1 || !strings.Contains(probs[0].Reason, reason) {
		t.Errorf("problems %v, want one about %q", probs, reason)
	}
}

func TestWrongTemplateOffset(t *testing.T) {
	c := newChunk()
	simpleRecord(c, 1)
	c.record(2, 0, func() {
		c.u8(tokTemplate)
		c.u8(1)
		c.u32(100)
		c.u32(c.templates[100] + 7) // into the middle of the definition
		c.values(nil)
	})
	c.record(3, 0, func() {
		c.u8(tokTemplate)
		c.u8(1)
		c.u32(100)
		c.u32(60000) // past the records
		c.values(nil)
	})
	simpleRecord(c, 4)
	evs, probs := problems(t, c.bytes())
	if len(evs) != 2 || len(probs) != 2 || probs[0].Record != 2 || probs[1].Record != 3 {
		t.Errorf("%d events, problems %v", len(evs), probs)
	}
}

func TestRecursiveTemplate(t *testing.T) {
	c := newChunk()
	simpleRecord(c, 1)
	c.record(2, 0, func() { // a template that instantiates itself
		c.instance(7, func() {
			c.open("Event", false)
			c.closeStart()
			c.u8(tokTemplate)
			c.u8(1)
			c.u32(7)
			c.u32(c.templates[7])
			c.values(nil)
			c.end()
			c.eof()
		}, nil)
	})
	c.record(3, 0, func() { // A holds B, B holds A
		c.instance(8, func() {
			c.open("A", false)
			c.closeStart()
			c.instance(9, func() {
				c.open("B", false)
				c.closeStart()
				c.u8(tokTemplate)
				c.u8(1)
				c.u32(8)
				c.u32(c.templates[8])
				c.values(nil)
				c.end()
				c.eof()
			}, nil)
			c.end()
			c.eof()
		}, nil)
	})
	simpleRecord(c, 4)
	evs, probs := problems(t, c.bytes())
	if len(evs) != 2 || len(probs) != 2 {
		t.Fatalf("%d events, problems %v", len(evs), probs)
	}
	for _, p := range probs {
		if !strings.Contains(p.Reason, "refers to itself") {
			t.Errorf("reason %q", p.Reason)
		}
	}
}

// Templates that each instantiate the next one ten times would expand to
// 10^8 elements; the budget stops the record.
func TestExpansionBomb(t *testing.T) {
	c := newChunk()
	simpleRecord(c, 1)
	c.record(2, 0, func() {
		var level func(n uint32) func()
		level = func(n uint32) func() {
			return func() {
				c.open("L", false)
				c.closeStart()
				for i := 0; i < 10; i++ {
					if n == 8 {
						c.text("leaf")
						continue
					}
					c.instance(200+n+1, level(n+1), nil)
				}
				c.end()
				c.eof()
			}
		}
		c.instance(200, level(0), nil)
	})
	simpleRecord(c, 3)
	start := time.Now()
	evs, probs := problems(t, c.bytes())
	wantOneProblem(t, evs, probs, 2, "limits")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// One 20 KB value substituted thousands of times.
func TestOutputBomb(t *testing.T) {
	c := newChunk()
	big := bytes.Repeat([]byte{'x', 0}, 10000)
	c.record(1, 0, func() {
		c.instance(300, func() {
			c.open("Event", false)
			c.closeStart()
			for i := 0; i < 2000; i++ {
				c.subst(0, typeString, false)
			}
			c.end()
			c.eof()
		}, []val{{typeString, big, nil}})
	})
	simpleRecord(c, 2)
	evs, probs := problems(t, c.bytes())
	wantOneProblem(t, evs, probs, 1, "limits")
}

func TestDeepNesting(t *testing.T) {
	c := newChunk()
	c.record(1, 0, func() {
		c.instance(400, func() {
			for i := 0; i < 500; i++ {
				c.open("E", false)
				c.closeStart()
			}
			for i := 0; i < 500; i++ {
				c.end()
			}
			c.eof()
		}, nil)
	})
	simpleRecord(c, 2)
	evs, probs := problems(t, c.bytes())
	wantOneProblem(t, evs, probs, 1, "nested")
}

func TestHugeLengths(t *testing.T) {
	type bad struct {
		name   string
		body   func(c *chunkBuilder)
		reason string
	}
	for _, tc := range []bad{
		{"string", func(c *chunkBuilder) {
			c.instance(500, func() {
				c.open("Event", false)
				c.closeStart()
				c.u8(tokValue)
				c.u8(typeString)
				c.u16(0xffff)
				c.end()
				c.eof()
			}, nil)
		}, "overruns"},
		{"name", func(c *chunkBuilder) {
			c.instance(501, func() {
				c.u8(tokOpenStart)
				c.u16(0xffff)
				c.u32(0)
				c.u32(c.pos() + 4)
				c.u32(0)
				c.u16(0)
				c.u16(0xfff0)
			}, nil)
		}, "overruns"},
		{"count", func(c *chunkBuilder) {
			c.u8(tokTemplate)
			c.u8(1)
			c.u32(100)
			c.u32(c.templates[100])
			c.u32(0x7fffffff)
		}, "do not fit"},
		{"value", func(c *chunkBuilder) {
			c.u8(tokTemplate)
			c.u8(1)
			c.u32(100)
			c.u32(c.templates[100])
			c.u32(1)
			c.u16(0xffff)
			c.u8(typeString)
			c.u8(0)
		}, "overruns"},
		{"definition", func(c *chunkBuilder) {
			c.u8(tokTemplate)
			c.u8(1)
			c.u32(502)
			c.u32(c.pos() + 4)
			c.u32(0)
			c.u32(502)
			c.b = append(c.b, make([]byte, 12)...)
			c.u32(0x7fffffff)
		}, "overruns"},
		{"unknown token", func(c *chunkBuilder) {
			c.instance(503, func() { c.u8(0x3f) }, nil)
		}, "unknown"},
		{"unclosed", func(c *chunkBuilder) {
			c.instance(504, func() { c.open("E", false); c.closeStart(); c.eof() }, nil)
		}, "inside an element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChunk()
			simpleRecord(c, 1)
			c.record(2, 0, func() { tc.body(c) })
			simpleRecord(c, 3)
			evs, probs := problems(t, c.bytes())
			wantOneProblem(t, evs, probs, 2, tc.reason)
		})
	}
}

func TestRecordFraming(t *testing.T) {
	c := newChunk()
	simpleRecord(c, 1)
	simpleRecord(c, 2)
	binary.LittleEndian.PutUint32(c.b[c.lastRec+4:], 8) // size too small
	evs, probs := problems(t, c.bytes())
	wantOneProblem(t, evs, probs, 1, "does not fit")

	c = newChunk()
	simpleRecord(c, 1)
	simpleRecord(c, 2)
	simpleRecord(c, 3)
	c.b[c.lastRec-1] ^= 0xff // record 2's trailing size copy
	evs, probs = problems(t, c.bytes())
	wantOneProblem(t, evs, probs, 2, "trailing copy")
}

func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 5*chunkSize)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	if _, _, err := readBytes(t, "junk", junk, Options{}); err == nil {
		t.Error("random bytes opened")
	}
	data := evtxFile(junk[:4*chunkSize])
	evs, st, err := readBytes(t, "junk", data, Options{})
	if err != nil || len(evs) != 0 || len(st.Corrupt) != 4 {
		t.Errorf("%d events, %v, problems %v", len(evs), err, st.Corrupt)
	}
	// Random records behind a valid chunk header, checksums ignored.
	c := newChunk()
	for i := 0; i < 20; i++ {
		c.record(uint64(i+1), 0, func() { c.b = append(c.b, junk[i*1000:i*1000+rng.IntN(900)]...) })
	}
	evs, st, err = readBytes(t, "junk", evtxFile(c.bytes()), Options{IgnoreChecksums: true})
	if err != nil || len(evs)+len(st.Corrupt) < 20 {
		t.Errorf("%d events, %v, problems %v", len(evs), err, st.Corrupt)
	}
}

// Events arrive in file order whatever the number of workers, and an
// error from fn stops the read without leaking goroutines.
func TestOrderAndStop(t *testing.T) {
	data := bigFile(t, 3)
	var ids [][]uint64
	for _, workers := range []int{1, 2, 7} {
		r, err := Open(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		if _, err := r.Events(context.Background(), workers, func(e *Event) error {
			got = append(got, e.RecordID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got)
	}
	if len(ids[0]) != 3*739 || !slices.Equal(ids[0], ids[1]) || !slices.Equal(ids[0], ids[2]) {
		t.Errorf("orders differ: %d %d %d records", len(ids[0]), len(ids[1]), len(ids[2]))
	}

	before := runtime.NumGoroutine()
	stop := errors.New("stop")
	r, _ := Open(bytes.NewReader(data), int64(len(data)), Options{})
	n := 0
	st, err := r.Events(context.Background(), 4, func(e *Event) error {
		if n++; n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || st.Records != 100 {
		t.Errorf("err %v, %d records", err, st.Records)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Events(ctx, 4, func(*Event) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left, %d before", g, before)
	}
}

func TestFileHeader(t *testing.T) {
	data := evtxFile(newChunk().bytes())
	binary.LittleEndian.PutUint32(data[120:], 3) // dirty and full
	binary.LittleEndian.PutUint16(data[38:], 4)  // unknown major version
	binary.LittleEndian.PutUint32(data[124:], crc32.ChecksumIEEE(data[:120]))
	_, st, err := readBytes(t, "h", data, Options{})
	if err != nil || !st.Dirty || !st.Full || len(st.Corrupt) != 1 || st.Corrupt[0].Chunk != -1 {
		t.Errorf("%v %+v", err, st)
	}
	if s := st.Corrupt[0].String(); !strings.Contains(s, "file header") || !strings.Contains(s, "version 4") {
		t.Errorf("problem %q", s)
	}
}

// A chunk of small records that all instantiate one big template costs
// the most work per byte; the chunk's budget bounds it.
func TestManyHeavyRecords(t *testing.T) {
	c := newChunk()
	def := func() {
		c.open("Event", false)
		c.closeStart()
		for i := 0; i < 2500; i++ {
			c.open("E", false)
			c.closeEmpty()
		}
		c.end()
		c.eof()
	}
	c.record(1, 0, func() { c.instance(600, def, nil) })
	for id := uint64(2); len(c.b) < chunkSize-100; id++ {
		c.record(id, 0, func() { c.instance(600, nil, nil) })
	}
	start := time.Now()
	evs, st := readChunks(t, c.bytes())
	d := time.Since(start)
	t.Logf("%d events, %d problems in %v", len(evs), len(st.Corrupt), d)
	if d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if len(st.Corrupt) != 2 || !strings.Contains(st.Corrupt[1].Reason, "rest of the chunk") {
		t.Errorf("problems %v", st.Corrupt)
	}
}

func TestAppendValue(t *testing.T) {
	sid := func(subs ...uint32) []byte {
		b := []byte{1, byte(len(subs)), 0, 0, 0, 0, 0, 5}
		for _, s := range subs {
			b = append(b, le32(s)...)
		}
		return b
	}
	guid := make([]byte, 16)
	guid[0], guid[15] = 1, 0xff
	for _, tc := range []struct {
		typ  byte
		data []byte
		want string
	}{
		{typeString, utf16le("a\U0001F600b"), "a\U0001F600b"},                             // surrogate pair
		{typeString, slices.Concat(utf16le("a"), le16(0xd800), utf16le("b")), "a\ufffdb"}, // unpaired
		{typeString, slices.Concat(utf16le("a"), le16(0xdc00)), "a\ufffd"},
		{typeString, slices.Concat(utf16le("ab "), []byte{0, 0}, utf16le("hidden")), "ab"},
		{typeString, []byte{'a', 0, 'b'}, "a"}, // odd length
		{typeAnsi, []byte("x\x81\xff"), "x\ufffdÿ"},
		{typeSID, sid(18), "S-1-5-18"},
		{typeSID, sid(21, 7)[:13], "S-1-5-21"}, // cut short
		{typeSID, []byte{1, 2}, "0102"},
		{typeGUID, guid[:3], "010000"}, // cut short: hex
		{typeReal64, le64(math.Float64bits(math.Inf(-1))), "-inf"},
		{typeReal32, le32(math.Float32bits(float32(math.NaN()))), "NaN"},
		{typeFiletime, le64(0), "1601-01-01T00:00:00.000000Z"},
		{typeFiletime, le64(math.MaxUint64), "60056-05-28T05:36:10.955161Z"},
		{0x7f, []byte{0xab}, "AB"}, // unknown type
		{typeSID | typeArray, append(sid(18), sid(19)...), "S-1-5-18,S-1-5-19"},
		{typeGUID | typeArray, append(guid, guid...), "00000001-0000-0000-0000-0000000000FF,00000001-0000-0000-0000-0000000000FF"},
		{typeSizeT | typeArray, slices.Concat(le32(1), le32(2), le32(3)), "0x1,0x2,0x3"},
		{typeSizeT | typeArray, slices.Concat(le64(1), le64(2)), "0x1,0x2"},
		{typeHex64 | typeArray, slices.Concat(le64(10), le64(11)), "0xa,0xb"},
		{typeBool | typeArray, slices.Concat(le32(0), le32(1)), "false,true"},
		{typeInt8 | typeArray, []byte{0xff, 1}, "-1,1"},
		{typeReal64 | typeArray, le64(math.Float64bits(0.5)), "0.5"},
		{typeString | typeArray, slices.Concat(utf16le("a"), []byte{0, 0}, []byte{0, 0}, utf16le("c")), "a,,c"},
		{typeString | typeArray, []byte{'x'}, ""},
		{typeUint16 | typeArray, []byte{1, 0, 2}, "1"}, // trailing odd byte
	} {
		if got := string(appendValue(nil, tc.typ, tc.data)); got != tc.want {
			t.Errorf("type %#x % x: %q, want %q", tc.typ, tc.data, got, tc.want)
		}
		if n := arrayLen(tc.typ, tc.data); tc.typ&typeArray != 0 && n < 0 {
			t.Errorf("type %#x: %d items", tc.typ, n)
		}
	}
}

// Unnamed Data elements gather under "Data" in JSON; in Fields they are
// Data, Data_2...
func TestUnnamedData(t *testing.T) {
	c := newChunk()
	strs := slices.Concat(utf16le("a"), []byte{0, 0}, utf16le("b"), []byte{0, 0})
	c.record(1, 0, func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("EventData", false)
			c.closeStart()
			for _, i := range []int{2, 3} {
				c.open("Data", false)
				c.closeStart()
				c.subst(i, typeString, false)
				c.end()
			}
			c.open("Binary", false)
			c.closeStart()
			c.subst(4, typeBinary, false)
			c.end()
			c.end()
		}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(1), nil},
			{typeString | typeArray, strs, nil}, {typeString, utf16le("x"), nil}, {typeBinary, []byte{0xde, 0xad}, nil}})
	})
	evs, st := readChunks(t, c.bytes())
	if len(evs) != 1 || len(st.Corrupt) > 0 {
		t.Fatalf("%d events, problems %v", len(evs), st.Corrupt)
	}
	want := []Field{{"EventID", "1"}, {"EventRecordID", "1"}, {"Data", "a"}, {"Data_2", "b"}, {"Data_3", "x"}, {"Binary", "DEAD"}}
	if !slices.Equal(evs[0].Fields, want) {
		t.Errorf("fields %v", evs[0].Fields)
	}
	j, _ := evs[0].JSON()
	const wantJSON = `"EventData":{"Data":{"#text":["a","b","x"]},"Binary":"DEAD"}`
	if !strings.Contains(string(j), wantJSON) {
		t.Errorf("JSON %s\nwant it to contain %s", j, wantJSON)
	}
}
