package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are real chunks (up to their free space) and built ones, all
// small: the fuzzer minimises an interesting input byte by byte.
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	dir := sharedDir(f)
	for _, name := range []string{
		"testdata/evtx/Security_1_record.evtx",                             // UserData
		"testdata/evtx/Microsoft-Windows-CAPI2_Operational_EventID70.evtx", // BinXml value
		"testdata/sigma-regression/cases/rules/windows/builtin/security/win_security_susp_scheduled_task_delete_or_disable/7595ba94-cf3b-4471-aa03-4f6baa9e5fad.evtx", // EventData
	} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		c := data[fileHeaderSize : fileHeaderSize+chunkSize]
		seeds = append(seeds, c[:binary.LittleEndian.Uint32(c[48:])])
	}
	c := newChunk()
	strs := append(utf16le("a\x00b"), 0, 0)
	c.record(1, 0, func() {
		c.instance(1, c.eventTemplate(func() {
			c.open("EventData", false)
			c.closeStart()
			c.data("S", 2, typeString|typeArray)
			c.data("T", 3, typeSystime)
			c.subst(4, typeBinXML, true)
			c.end()
		}), []val{{typeUint16, le16(1), nil}, {typeUint64, le64(1), nil}, {typeString | typeArray, strs, nil},
			{typeSystime, make([]byte, 16), nil}, {typeBinXML, nil, func() {
				c.open("X", true)
				c.attr("y")
				c.u8(tokCharRef)
				c.u16(0x41)
				c.closeEmpty()
				c.eof()
			}}})
	})
	b := c.bytes()
	return append(seeds, b[:binary.LittleEndian.Uint32(b[48:])])
}

// checkRead reads data and checks what must hold for any input: no error
// but the caller's, valid UTF-8 fields, valid JSON.
func checkRead(t *testing.T, data []byte, opt Options) {
	r, err := Open(bytes.NewReader(data), int64(len(data)), opt)
	if err != nil {
		return
	}
	_, err = r.Events(context.Background(), 2, func(e *Event) error {
		for _, f := range e.Fields {
			if !utf8.ValidString(f.Name) || !utf8.ValidString(f.Value) {
				t.Fatalf("record %d: invalid UTF-8 in %q=%q", e.RecordID, f.Name, f.Value)
			}
		}
		if j, err := e.JSON(); err == nil && !json.Valid(j) {
			t.Fatalf("record %d: invalid JSON %s", e.RecordID, j)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzChunk parses arbitrary chunk bytes behind a valid file header. The
// signature and both checksums are set right, so the mutations reach the
// records.
func FuzzChunk(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := make([]byte, chunkSize)
		copy(buf, in)
		copy(buf, chunkMagic)
		if free := binary.LittleEndian.Uint32(buf[48:]); free >= chunkHeaderSize && free <= chunkSize {
			binary.LittleEndian.PutUint32(buf[52:], crc32.ChecksumIEEE(buf[chunkHeaderSize:free]))
		}
		binary.LittleEndian.PutUint32(buf[124:], chunkHeaderCRC(buf))
		checkRead(t, evtxFile(buf), Options{})
	})
}

// FuzzFile parses arbitrary bytes as a file. The length picks the
// variant: odd ignores checksums; a length of 2 mod 4 is padded with zeros
// to whole chunks (the seeds are kept short: chunks without their free
// space); 0 mod 4 is read as it is, cut short.
func FuzzFile(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		data := evtxFile(s)
		for len(data)%4 != 2 {
			data = append(data, 0)
		}
		f.Add(data)
		f.Add(data[:fileHeaderSize+len(s)/2&^3])
	}
	f.Add(evtxFile())
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := Options{IgnoreChecksums: len(data)%2 == 1}
		if len(data)%4 == 2 && len(data) > fileHeaderSize {
			pad := (chunkSize - (len(data)-fileHeaderSize)%chunkSize) % chunkSize
			data = append(bytes.Clone(data), make([]byte, pad)...) // the input is the fuzzer's
		}
		checkRead(t, data, opt)
	})
}
