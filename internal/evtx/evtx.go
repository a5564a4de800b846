// Package evtx reads Windows XML event log (.evtx) files, in pure Go.
//
// An EVTX file is a 4 KiB header and 64 KiB chunks. Each chunk is
// self-contained: its records are BinXML (binary XML) that refer to names
// and templates stored in the same chunk by offset, so chunks parse
// independently and Reader.Events parses them in parallel, while delivering
// events in file order.
//
// Every offset, length and count read from the file is checked before use,
// and hostile input is bounded (nesting depth, template cycles, the number
// of template nodes per chunk, the text a record may expand to): a bad
// chunk or record is reported in Stats.Corrupt and skipped, and reading
// goes on. Nothing in the file can make the reader panic or loop.
//
// Each Event carries its fields flattened (System, EventData, UserData) as
// text; the full element tree, rendered to JSON the way evtx_dump renders
// it, is built only when Event.JSON is called.
//
// The format is described in Joachim Metz's "Windows XML Event Log (EVTX)
// format" (libevtx) and in Microsoft's MS-EVEN6.
package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"time"
)

// Options tune a Reader.
type Options struct {
	// Name is the file's name, copied into each Problem.
	Name string
	// IgnoreChecksums reads chunks whose header or records checksum fails
	// (the failure is still reported, and the records are checked one by
	// one). By default such a chunk is reported and skipped, as evtxexport
	// does.
	IgnoreChecksums bool
	// MaxProblems caps Stats.Corrupt (0 means 1000); further problems are
	// only counted in Stats.MoreProblems.
	MaxProblems int
}

// Problem is a part of the file that could not be read.
type Problem struct {
	File   string
	Chunk  int    // chunk index in the file; -1 for the file header
	Record uint64 // record id, 0 when not known
	Offset int64  // file offset
	Reason string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: chunk %d", p.File, p.Chunk)
	if p.Chunk < 0 {
		s = p.File + ": file header"
	}
	if p.Record != 0 {
		s += fmt.Sprintf(" record %d", p.Record)
	}
	return s + fmt.Sprintf(" (offset %#x): %s", p.Offset, p.Reason)
}

// Stats summarises a read.
type Stats struct {
	Chunks       int // chunks with a valid header and checksums
	EmptyChunks  int // zeroed chunks: space the log has not used yet
	HeaderChunks int // the chunk count the file header claims
	Records      int // events delivered
	Corrupt      []Problem
	MoreProblems int  // problems beyond Options.MaxProblems
	Dirty        bool // the file header says the log was not closed cleanly
	Full         bool // the file header says the log is full
}

// Event is one event record.
type Event struct {
	RecordID uint64
	Time     time.Time // when the record was written (record header), UTC
	Chunk    int       // chunk index, for reports
	Offset   int64     // file offset of the record
	// Fields are the event's values flattened, in document order (see
	// Field for the names). Values are rendered as in JSON: strings without
	// trailing whitespace, GUIDs in upper case without braces, hex numbers
	// as 0x..., times as 2006-01-02T15:04:05.000000Z, arrays repeated as
	// Windows repeats their element. All values of a chunk share one
	// string: keeping one keeps the chunk's text (some 100 KB) alive, so
	// strings.Clone the few kept for long.
	Fields []Field

	root *instance
}

// Field returns the value of the named field. System fields are named
// after their element ("EventID", "Channel", "Computer", "EventRecordID"),
// attributes as Element_Attribute ("Provider_Name", "Execution_ProcessID",
// "Security_UserID", "Correlation_ActivityID"), and TimeCreated's
// SystemTime as "TimeCreated". EventData values go by their Name attribute
// ("Image", "CommandLine"); unnamed ones are "Data", "Data_2"...; UserData
// leaves by their element name. A repeated name gets "_2", "_3"...
func (e *Event) Field(name string) (string, bool) {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return e.Fields[i].Value, true
		}
	}
	return "", false
}

// Reader reads one EVTX file.
type Reader struct {
	r      io.ReaderAt
	size   int64
	opt    Options
	header []Problem
	stats  Stats
}

// Open reads and checks the file header. It fails only when the data is
// not an EVTX file at all; a damaged header (bad checksum, odd version) is
// reported in Stats.Corrupt and the chunks are read anyway, since each
// carries its own checks.
func Open(r io.ReaderAt, size int64, opt Options) (*Reader, error) {
	if opt.MaxProblems <= 0 {
		opt.MaxProblems = 1000
	}
	if size < fileHeaderSize {
		return nil, fmt.Errorf("evtx: %d bytes, shorter than the %d-byte file header", size, fileHeaderSize)
	}
	var h [128]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("evtx: reading the file header: %w", err)
	}
	if !bytes.Equal(h[:8], fileMagic) {
		return nil, errors.New("evtx: not an EVTX file (no ElfFile signature)")
	}
	rd := &Reader{r: r, size: size, opt: opt}
	problem := func(off int64, format string, args ...any) {
		rd.header = append(rd.header, Problem{File: opt.Name, Chunk: -1, Offset: off, Reason: fmt.Sprintf(format, args...)})
	}
	if got, want := crc32.ChecksumIEEE(h[:120]), binary.LittleEndian.Uint32(h[124:]); got != want {
		problem(124, "file header checksum %08x, computed %08x", want, got)
	}
	if major := binary.LittleEndian.Uint16(h[38:]); major != 3 {
		problem(38, "format version %d, expected 3", major)
	}
	flags := binary.LittleEndian.Uint32(h[120:])
	rd.stats.Dirty, rd.stats.Full = flags&1 != 0, flags&2 != 0
	rd.stats.HeaderChunks = int(binary.LittleEndian.Uint16(h[42:]))
	return rd, nil
}

// Events parses the chunks with the given number of workers (0 means one
// per CPU) and calls fn for each event, from one goroutine: chunks in file
// order, records in chunk order. Every 64 KiB block after the header is
// tried, so chunks beyond the header's count (a dirty file) are read too.
// fn may keep the Event. At most 2*workers+1 parsed chunks are held at a
// time, so memory does not grow with the file. An error from fn, or ctx
// ending, stops the read and is returned; damaged data is not an error but
// a Problem in Stats.
func (r *Reader) Events(ctx context.Context, workers int, fn func(*Event) error) (Stats, error) {
	st := r.stats
	for _, pr := range r.header {
		addProblem(&st, pr, r.opt.MaxProblems)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := int((r.size - fileHeaderSize + chunkSize - 1) / chunkSize)
	workers = max(1, min(workers, n))

	ctx, cancel := context.WithCancel(ctx)
	type job struct {
		index int
		res   chan chunkResult
	}
	jobs := make(chan job)
	order := make(chan job, 2*workers) // bounds the chunks held in memory
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // hand out chunks in file order
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		for i := 0; i < n; i++ {
			j := job{index: i, res: make(chan chunkResult, 1)}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newParser()
			for j := range jobs {
				j.res <- r.chunk(p, j.index)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }() // stops the feeder and the workers

	for j := range order {
		var res chunkResult
		select {
		case res = <-j.res:
		case <-ctx.Done():
			return st, ctx.Err()
		}
		if res.err != nil {
			return st, res.err
		}
		for _, pr := range res.problems {
			addProblem(&st, pr, r.opt.MaxProblems)
		}
		if res.valid {
			st.Chunks++
		}
		if res.empty {
			st.EmptyChunks++
		}
		for i := range res.events {
			st.Records++
			if err := fn(&res.events[i]); err != nil {
				return st, err
			}
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	return st, ctx.Err()
}

func addProblem(st *Stats, p Problem, limit int) {
	if len(st.Corrupt) < limit {
		st.Corrupt = append(st.Corrupt, p)
	} else {
		st.MoreProblems++
	}
}

// chunk reads and parses chunk i.
func (r *Reader) chunk(p *parser, i int) chunkResult {
	off := fileHeaderSize + int64(i)*chunkSize
	buf := make([]byte, min(chunkSize, r.size-off))
	if n, err := r.r.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		if !errors.Is(err, io.EOF) {
			return chunkResult{index: i, err: fmt.Errorf("evtx: reading chunk %d: %w", i, err)}
		}
		buf = buf[:n] // the file shrank: report what is there
	}
	res := p.parseChunk(buf, i, off, &r.opt)
	if res.empty && i < r.stats.HeaderChunks {
		// Inside the range the header vouches for, zeros are damage, not
		// free space.
		res.empty = false
		res.problems = append(res.problems, Problem{File: r.opt.Name, Chunk: i, Offset: off,
			Reason: fmt.Sprintf("chunk is zeroed, though the file header counts %d chunks", r.stats.HeaderChunks)})
	}
	return res
}
