package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	fileHeaderSize  = 4096
	chunkSize       = 64 << 10
	chunkHeaderSize = 512
	recordHeader    = 24 // signature, size, record id, written time
)

var (
	fileMagic   = []byte("ElfFile\x00")
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte("**\x00\x00")
)

// chunkResult is what a worker hands back for one chunk.
type chunkResult struct {
	index    int
	events   []Event
	problems []Problem
	valid    bool // a chunk with a good header (counted in Stats.Chunks)
	empty    bool // all zeros: space not used yet
	err      error
}

// parseChunk checks a chunk's header and checksums and parses its records.
// The events keep buf (for JSON), so buf must not be reused.
func (p *parser) parseChunk(buf []byte, index int, off int64, opt *Options) chunkResult {
	res := chunkResult{index: index}
	problem := func(rec uint64, at int, format string, args ...any) {
		res.problems = append(res.problems, Problem{
			File: opt.Name, Chunk: index, Record: rec, Offset: off + int64(at),
			Reason: fmt.Sprintf(format, args...),
		})
	}
	if len(buf) < chunkSize {
		if allZero(buf) {
			res.empty = true
		} else {
			problem(0, 0, "chunk cut short: %d of %d bytes (truncated file)", len(buf), chunkSize)
		}
		return res
	}
	if !bytes.Equal(buf[:8], chunkMagic) {
		if allZero(buf) {
			res.empty = true
		} else {
			problem(0, 0, "no chunk signature")
		}
		return res
	}
	h := chunkHeaderCRC(buf)
	if want := binary.LittleEndian.Uint32(buf[124:]); h != want {
		problem(0, 124, "chunk header checksum %08x, computed %08x", want, h)
		if !opt.IgnoreChecksums {
			return res
		}
	}
	free := int(binary.LittleEndian.Uint32(buf[48:]))
	if free < chunkHeaderSize || free > chunkSize {
		problem(0, 48, "free space offset %#x outside the chunk", free)
		if !opt.IgnoreChecksums {
			return res
		}
		free = chunkSize
	}
	d := crc32.ChecksumIEEE(buf[chunkHeaderSize:free])
	if want := binary.LittleEndian.Uint32(buf[52:]); d != want {
		problem(0, 52, "event records checksum %08x, computed %08x", want, d)
		if !opt.IgnoreChecksums {
			return res
		}
	}
	res.valid = true

	p.reset(buf)
	sink := &p.sink
	sink.p, sink.arena = p, sink.arena[:0]
	raw, spans := p.raw[:0], p.spans[:0]
	if n := binary.LittleEndian.Uint64(buf[16:]) - binary.LittleEndian.Uint64(buf[8:]); n < 4096 {
		res.events = make([]Event, 0, n+1) // the header's record count, when sane
	}
	output, visits := maxChunkOutput, maxChunkVisits
	for pos := chunkHeaderSize; pos+recordHeader+4 <= free; {
		if !bytes.Equal(buf[pos:pos+4], recordMagic) {
			problem(0, pos, "no record signature; the rest of the chunk is skipped")
			break
		}
		size := int(binary.LittleEndian.Uint32(buf[pos+4:]))
		if size < recordHeader+4 || size > free-pos {
			problem(0, pos, "record size %d does not fit; the rest of the chunk is skipped", size)
			break
		}
		id := binary.LittleEndian.Uint64(buf[pos+8:])
		if tail := int(binary.LittleEndian.Uint32(buf[pos+size-4:])); tail != size {
			problem(id, pos, "record size %d, trailing copy %d", size, tail)
			pos += size
			continue
		}
		next := pos + size
		p.startRecord()
		root, _, err := p.fragment(pos+recordHeader, next-4, 0)
		if err == nil {
			sink.begin()
			mark := len(sink.arena)
			budget, vbudget := min(maxRecordOutput, output), min(maxRecordVisits, visits)
			err = p.walker.run(root, sink, vbudget, budget)
			// Count what was spent, a record cut short in full, so a
			// chunk of records that each stay within their own limits
			// still has a bound.
			output -= budget - p.walker.output
			visits -= vbudget - p.walker.visits
			if err != nil {
				sink.arena = sink.arena[:mark]
			}
		}
		if err != nil {
			problem(id, pos, "%v", err)
			if output <= 0 || visits <= 0 {
				problem(0, next, "chunk expands beyond the parser's limits; the rest of the chunk is skipped")
				break
			}
			pos = next
			continue
		}
		res.events = append(res.events, Event{
			RecordID: id,
			Time:     filetimeToTime(binary.LittleEndian.Uint64(buf[pos+16:])),
			Chunk:    index,
			Offset:   off + int64(pos),
			root:     root,
		})
		spans = append(spans, [2]int{len(raw), len(raw) + len(sink.fields)})
		raw = append(raw, sink.fields...)
		pos = next
	}

	text := string(sink.arena)
	fields := make([]Field, len(raw))
	for i, f := range raw {
		fields[i] = Field{Name: f.name, Value: text[f.lo:f.hi]}
	}
	for i := range res.events {
		lo, hi := spans[i][0], spans[i][1]
		res.events[i].Fields = fields[lo:hi:hi]
	}
	p.raw, p.spans = raw, spans
	return res
}

// chunkHeaderCRC is the CRC32 of the header's first 120 bytes and of its
// string and template tables (bytes 128-511).
func chunkHeaderCRC(buf []byte) uint32 {
	c := crc32.ChecksumIEEE(buf[:120])
	return crc32.Update(c, crc32.IEEETable, buf[128:chunkHeaderSize])
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
