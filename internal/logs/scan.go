package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/literal"
)

const (
	chunkSize = 256 << 10
	// MaxLine is the longest line read; longer ones are skipped and reported.
	MaxLine = 1 << 20
	// maxFields bounds columns per header or row against hostile input.
	maxFields = 4096
	// maxLineGaps bounds how many bad lines one file reports individually.
	maxLineGaps = 20
)

// LineGap is a line that could not be read as a record.
type LineGap struct {
	Line   int64
	Reason string
}

// Stats describes what a scan read.
type Stats struct {
	Bytes int64
	// Lines counts physical lines, directives included.
	Lines int64
	// Records counts data lines.
	Records     int64
	First, Last time.Time
	// Version is the first #Version directive (Exchange writes the build).
	Version  string
	Software string
	// Host is the server's host name from the first record, where the
	// format records it.
	Host    string
	LogType string
	Gaps    []LineGap
	// MoreGaps counts bad lines beyond those listed.
	MoreGaps int64
}

// Scanner reads one log file. It is not safe for concurrent use; use one
// per goroutine.
type Scanner struct {
	Format Format
	// Prefilter selects candidate lines; nil or empty with All unset means
	// only coverage is computed.
	Prefilter *Prefilter
	// All hands every data line to the callback.
	All bool
	// Kind is the log kind (as in the registry), for the default field
	// lists used when a file's header is missing or damaged.
	Kind string

	buf   []byte
	rec   Record
	st    Stats
	sch   *Schema
	first bool // first data record seen
	last  []byte
	lastS *Schema
	// schemas caches headers by their text: a collection repeats the same
	// few #Fields lines in thousands of files.
	schemas   map[string]*Schema
	schemaFmt Format
	scratch   []string // fields of the last line, split once per file
	hdr       headerState
}

// maxSchemas bounds the header cache against files that each write a
// different header.
const maxSchemas = 64

// errNoFit: a record has more fields than its header names.
var errNoFit = errors.New("record does not fit the header")

// ErrStop may be returned by the callback to end the scan early.
var ErrStop = errors.New("stop scan")

// Scan reads r to the end, calling fn for each candidate record. Bad lines
// are recorded in Stats.Gaps and the scan goes on; an error is returned only
// for a failed read (with the line it happened at) or cancellation.
func (s *Scanner) Scan(ctx context.Context, r io.Reader, fn func(*Record) error) (Stats, error) {
	if s.buf == nil {
		s.buf = make([]byte, chunkSize+MaxLine)
	}
	s.st = Stats{}
	s.sch, s.first, s.last, s.lastS = nil, false, s.last[:0], nil
	s.hdr.reset()
	s.rec = Record{format: s.Format, Values: s.rec.Values[:0]}
	if s.Format == Text {
		s.sch = &Schema{timeCol: -1, dateCol: -1, clockCol: -1}
	}
	var lineNo int64
	carry := 0
	skipping := false // inside an overlong line
	for {
		if err := ctx.Err(); err != nil {
			return s.st, err
		}
		// Blocks of chunkSize stay in cache between the copy from the
		// kernel and the prefilter; a longer line grows the read.
		n, eof, err := fill(r, s.buf[carry:carry+min(chunkSize, len(s.buf)-carry)])
		s.st.Bytes += int64(n)
		if err != nil {
			return s.st, s.readFailed(ctx, s.buf[:carry+n], skipping, &lineNo, fn, err)
		}
		data := s.buf[:carry+n]
		if skipping {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				carry = 0
				if eof {
					break
				}
				continue
			}
			data = data[i+1:]
			lineNo++
			skipping = false
		}
		end := bytes.LastIndexByte(data, '\n') + 1
		if eof {
			end = len(data)
		}
		if end == 0 && len(data) >= MaxLine {
			s.gap(lineNo+1, fmt.Sprintf("line longer than %d bytes skipped", MaxLine))
			skipping = true
			carry = 0
			continue
		}
		if err := s.block(data[:end], &lineNo, fn); err != nil {
			s.finish(lineNo)
			if errors.Is(err, ErrStop) {
				return s.st, nil
			}
			return s.st, err
		}
		carry = copy(s.buf, data[end:])
		if eof {
			break
		}
	}
	s.finish(lineNo)
	return s.st, nil
}

// fill reads until p is full or the reader ends. Only io.EOF is a clean
// end: io.ErrUnexpectedEOF from below (a cut gzip stream or zip member)
// is an error like any other, which io.ReadFull would hide.
func fill(r io.Reader, p []byte) (n int, eof bool, err error) {
	empty := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		case k > 0:
			empty = 0
		default:
			if empty++; empty > 100 { // a reader stuck returning nothing
				return n, false, io.ErrNoProgress
			}
		}
	}
	return n, false, nil
}

// readFailed handles a read that broke off: the complete lines read before
// the break are still hunted, and the error names the line and the byte
// offset where the data ends. The partial line at the break is not parsed
// (it is cut), and counts towards the error's line.
func (s *Scanner) readFailed(ctx context.Context, data []byte, skipping bool, lineNo *int64, fn func(*Record) error, rerr error) error {
	if skipping {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
			*lineNo++
		} else {
			data = nil
		}
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	if err := ctx.Err(); err != nil {
		s.finish(*lineNo)
		return err
	}
	if err := s.block(data[:end], lineNo, fn); err != nil && !errors.Is(err, ErrStop) {
		s.finish(*lineNo)
		return err
	}
	s.finish(*lineNo)
	return fmt.Errorf("read broke off at line %d, the lines before it were read: %w", *lineNo+1, rerr)
}

func (s *Scanner) finish(lineNo int64) {
	s.st.Lines = lineNo
	if len(s.last) > 0 && s.lastS != nil {
		s.rec.Schema = s.lastS
		if t, ok := s.recordTime(s.last); ok {
			s.st.Last = t
		}
	}
	// a file whose last line has no time ends no earlier than it began
	if s.st.First.After(s.st.Last) {
		s.st.Last = s.st.First
	}
}

func (s *Scanner) gap(line int64, reason string) {
	if len(s.st.Gaps) < maxLineGaps {
		s.st.Gaps = append(s.st.Gaps, LineGap{Line: line, Reason: reason})
	} else {
		s.st.MoreGaps++
	}
}

// block processes complete lines; lineNo counts lines consumed so far.
func (s *Scanner) block(b []byte, lineNo *int64, fn func(*Record) error) error {
	// after the block, the schema in force is the one of its last lines
	defer s.rememberLast(b)
	// Without literals (coverage only) the fast path still applies: it
	// finds no candidate and only counts lines.
	fast := !s.All
	pos := 0
	for pos < len(b) {
		// Directives, the header and the first record go line by line.
		if !fast || !s.first || s.sch == nil || b[pos] == '#' {
			le := bytes.IndexByte(b[pos:], '\n')
			next := len(b)
			if le >= 0 {
				next = pos + le + 1
			} else {
				le = len(b) - pos
			}
			*lineNo++
			if err := s.line(trimCR(b[pos:pos+le]), *lineNo, fn, s.All || (fast && s.hasLit(b[pos:pos+le]))); err != nil {
				return err
			}
			pos = next
			continue
		}
		// Fast path up to the next directive: only lines holding a
		// literal are parsed.
		limit := len(b)
		if d := bytes.Index(b[pos:], []byte("\n#")); d >= 0 {
			limit = pos + d + 1
		}
		for pos < limit {
			off := -1
			if s.Prefilter != nil {
				off = s.Prefilter.Index(b[pos:limit])
			}
			if off < 0 {
				*lineNo += int64(bytes.Count(b[pos:limit], nl))
				pos = limit
				break
			}
			hit := pos + off - 1
			ls := bytes.LastIndexByte(b[pos:hit], '\n') + 1 + pos
			*lineNo += int64(bytes.Count(b[pos:ls], nl))
			le := bytes.IndexByte(b[hit:limit], '\n')
			next := limit
			if le >= 0 {
				le += hit
				next = le + 1
			} else {
				le = limit
			}
			*lineNo++
			if err := s.line(trimCR(b[ls:le]), *lineNo, fn, true); err != nil {
				return err
			}
			pos = next
		}
	}
	return nil
}

var nl = []byte{'\n'}

func (s *Scanner) hasLit(line []byte) bool { return s.Prefilter != nil && s.Prefilter.Index(line) >= 0 }

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// rememberLast keeps the block's last data line, for the coverage end time.
func (s *Scanner) rememberLast(b []byte) {
	end := len(b)
	for end > 0 {
		e := end
		for e > 0 && (b[e-1] == '\n' || b[e-1] == '\r') {
			e--
		}
		start := bytes.LastIndexByte(b[:e], '\n') + 1
		line := b[start:e]
		if len(line) > 0 && line[0] != '#' {
			s.last = append(s.last[:0], line...)
			s.lastS = s.sch
			return
		}
		end = start
		if start == 0 {
			return
		}
	}
}

// line handles one physical line; candidate says whether fn should see it.
func (s *Scanner) line(b []byte, n int64, fn func(*Record) error, candidate bool) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) > MaxLine {
		s.gap(n, fmt.Sprintf("line longer than %d bytes skipped", MaxLine))
		return nil
	}
	if b[0] == '#' {
		s.directive(b, n)
		return nil
	}
	if s.Format != Text && s.sch == nil || s.Format == CSV && s.isHeaderRow(b) {
		if s.Format == CSV && looksLikeHeader(b) {
			old := s.sch
			if !s.cachedSchema(b) {
				s.setSchema(splitCSV(string(b), nil))
				s.cacheSchema(b)
			}
			s.replaced(old, n)
			return nil
		}
		if s.sch == nil && !s.noHeader(b, n) {
			s.gap(n, "record before any #Fields header")
			return nil
		}
	}
	s.st.Records++
	if !candidate && s.first {
		return nil
	}
	err := s.parse(b, n)
	if err == errNoFit && s.refit(b, n) {
		err = s.parse(b, n)
	}
	if err == nil {
		s.fitted()
	}
	if !s.first {
		s.first = true
		if err == nil {
			s.st.First = s.rec.Time
			for _, h := range hostFields {
				if v, ok := s.rec.Field(h); ok && v != "" {
					s.st.Host = v
					break
				}
			}
		}
	}
	if !candidate {
		return nil
	}
	if err == errNoFit {
		s.gap(n, fmt.Sprintf("%d fields where the header names %d", len(s.rec.Values), len(s.sch.Names)))
		return nil
	}
	if err != nil {
		s.gap(n, err.Error())
		return nil
	}
	if s.rec.Time.IsZero() && s.Format != Text {
		s.gap(n, "record has no readable timestamp")
	}
	return fn(&s.rec)
}

func (s *Scanner) isHeaderRow(b []byte) bool {
	if s.sch == nil || len(s.sch.Names) == 0 {
		return false
	}
	first := s.sch.Names[0]
	return len(b) > len(first) && b[len(first)] == ',' && strings.EqualFold(string(b[:len(first)]), first)
}

// looksLikeHeader recognises a bare CSV header row such as
// "DateTime,RequestId,...", which some collections put before the # block.
func looksLikeHeader(b []byte) bool {
	i := bytes.IndexByte(b, ',')
	if i < 0 {
		return false
	}
	switch strings.ToLower(string(b[:i])) {
	case "datetime", "timestamp", "date-time", "date":
		return true
	}
	return false
}

func (s *Scanner) directive(b []byte, n int64) {
	// every file starts with a few directives: read them without copies
	k, v, ok := bytes.Cut(b[1:], []byte(":"))
	if !ok {
		return
	}
	key, val := bytes.TrimSpace(k), bytes.TrimSpace(v)
	switch {
	case literal.EqualFold(key, "fields"):
		old := s.sch
		if s.cachedSchema(b) {
			s.replaced(old, n)
			return
		}
		var names []string
		if s.Format == W3C {
			names = strings.Fields(string(val))
		} else {
			names = splitCSV(string(val), nil)
		}
		if len(names) == 0 || len(names) > maxFields {
			s.gap(n, fmt.Sprintf("#Fields directive with %d fields ignored", len(names)))
			return
		}
		s.setSchema(names)
		s.replaced(old, n)
		s.cacheSchema(b)
	case literal.EqualFold(key, "version"):
		if s.st.Version == "" {
			s.st.Version = string(val)
		}
	case literal.EqualFold(key, "software"):
		if s.st.Software == "" {
			s.st.Software = string(val)
		}
	case literal.EqualFold(key, "log-type"):
		if s.st.LogType == "" {
			s.st.LogType = string(val)
		}
	}
}

// cachedSchema makes the schema of a header line seen before the one in
// force, and reports whether there was one.
func (s *Scanner) cachedSchema(header []byte) bool {
	if s.schemaFmt != s.Format {
		return false
	}
	sch, ok := s.schemas[string(header)]
	if ok {
		s.sch = sch
	}
	return ok
}

// cacheSchema remembers the schema in force as the one of header.
func (s *Scanner) cacheSchema(header []byte) {
	if s.sch == nil {
		return
	}
	if s.schemas == nil || len(s.schemas) >= maxSchemas || s.schemaFmt != s.Format {
		s.schemas, s.schemaFmt = map[string]*Schema{}, s.Format
	}
	s.schemas[string(header)] = s.sch
}

func (s *Scanner) setSchema(names []string) {
	if len(names) > maxFields {
		names = names[:maxFields]
	}
	s.sch = NewSchema(names)
}

// parse splits a data line into s.rec.
func (s *Scanner) parse(b []byte, n int64) error {
	s.rec.raw = string(b)
	s.rec.ecp = nil
	s.rec.Line = n
	s.rec.Schema = s.sch
	s.rec.Time = time.Time{}
	switch s.Format {
	case CSV:
		s.rec.Values = splitCSV(s.rec.raw, s.rec.Values[:0])
	case W3C:
		s.rec.Values = splitW3C(s.rec.raw, s.rec.Values[:0])
	case Text:
		s.rec.Values = s.rec.Values[:0]
		s.rec.Time, _ = leadingTime(s.rec.raw)
		return nil
	}
	if len(s.rec.Values) > maxFields {
		return fmt.Errorf("more than %d fields", maxFields)
	}
	if len(s.rec.Values) > len(s.sch.Names)+1 {
		return errNoFit
	}
	s.rec.Time, _ = s.timeOf(s.rec.Values)
	return nil
}

func (s *Scanner) recordTime(b []byte) (time.Time, bool) {
	switch s.Format {
	case Text:
		return leadingTime(string(b))
	case CSV:
		s.scratch = splitCSV(string(b), s.scratch[:0])
	default:
		s.scratch = splitW3C(string(b), s.scratch[:0])
	}
	return s.timeOf(s.scratch)
}

func (s *Scanner) timeOf(v []string) (time.Time, bool) {
	sch := s.rec.Schema
	if sch == nil {
		return time.Time{}, false
	}
	if sch.timeCol >= 0 && sch.timeCol < len(v) {
		return parseISO(v[sch.timeCol])
	}
	if sch.dateCol >= 0 && sch.clockCol >= 0 && sch.dateCol < len(v) && sch.clockCol < len(v) {
		return parseISO(v[sch.dateCol] + "T" + v[sch.clockCol] + "Z")
	}
	return time.Time{}, false
}

// splitCSV splits one CSV record; quoted fields may hold commas and doubled
// quotes. An unterminated quote takes the rest of the line.
func splitCSV(line string, dst []string) []string {
	if strings.IndexByte(line, '"') < 0 {
		for len(dst) < maxFields+1 {
			i := strings.IndexByte(line, ',')
			if i < 0 {
				return append(dst, line)
			}
			dst = append(dst, line[:i])
			line = line[i+1:]
		}
		return dst
	}
	for len(dst) < maxFields+1 {
		if len(line) > 0 && line[0] == '"' {
			var sb strings.Builder
			i := 1
			for i < len(line) {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						sb.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				sb.WriteByte(line[i])
				i++
			}
			// text between the closing quote and the comma is kept
			j := strings.IndexByte(line[i:], ',')
			if j < 0 {
				sb.WriteString(line[i:])
				return append(dst, sb.String())
			}
			sb.WriteString(line[i : i+j])
			dst = append(dst, sb.String())
			line = line[i+j+1:]
			continue
		}
		i := strings.IndexByte(line, ',')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
	return dst
}

// splitW3C splits on spaces; "-" is an empty value.
func splitW3C(line string, dst []string) []string {
	for len(dst) < maxFields+1 {
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		if line == "" {
			return dst
		}
		i := strings.IndexByte(line, ' ')
		f := line
		if i >= 0 {
			f, line = line[:i], line[i+1:]
		} else {
			line = ""
		}
		if f == "-" {
			f = ""
		}
		dst = append(dst, f)
	}
	return dst
}
