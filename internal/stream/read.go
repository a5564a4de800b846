package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/exhunt/exhunt/internal/finding"
)

// MaxLine bounds one JSON line of a stream.
const MaxLine = 64 << 20

// ErrTruncated is wrapped by Read's error when the input ends inside a
// message: a run killed mid-write. Everything before it was handled.
var ErrTruncated = errors.New("input ends inside a message")

// Read replays saved output into h: a stream of JSON lines (as --format
// jsonl writes, or as older scans wrote, one bare target per line), or one
// JSON document (--format json). A closing run message is sent if the
// input had none, so document handlers always write. Errors name the line.
func Read(r io.Reader, h Handler) error {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if err != nil {
		return err
	}
	closed := false
	track := HandlerFunc(func(m *Message) error {
		if m.Run != nil {
			closed = true
		}
		return h.Handle(m)
	})
	if first == '{' {
		if doc, ok, err := readDocument(br); ok || err != nil {
			if err != nil {
				return err
			}
			return Emit(doc, track)
		}
	}
	var runID string
	var kind string
	line := 0
	for {
		b, err := readLine(br)
		if len(b) > 0 {
			line++
			m, perr := ParseLine(b)
			if perr != nil {
				if err != io.EOF || line == 1 {
					// a first line cut short is not a run with an end
					// missing: nothing was read
					return fmt.Errorf("line %d: %w", line, perr)
				}
				// a last line cut short by a killed run: what came before
				// is rendered, and the caller is told
				if !closed {
					if herr := track.Handle(&Message{RunID: runID, Run: &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: kind, RunID: runID}}); herr != nil {
						return herr
					}
				}
				return fmt.Errorf("line %d: %w", line, ErrTruncated)
			}
			if m != nil {
				runID = cmpOr(runID, m.RunID)
				if m.Start != nil {
					kind = m.Start.Kind
					if m.Start.SchemaVersion != SchemaVersion {
						return fmt.Errorf("line %d: stream schema version %d, this exhunt reads %d", line, m.Start.SchemaVersion, SchemaVersion)
					}
				}
				var herr error
				if r := m.Run; r != nil && (len(r.Servers) > 0 || len(r.Targets) > 0 || len(r.Gaps) > 0) {
					herr = Emit(r, track) // a whole document on one line
				} else {
					herr = track.Handle(m)
				}
				if herr != nil {
					return herr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
	}
	if line == 0 {
		return errors.New("no messages")
	}
	if !closed {
		return track.Handle(&Message{RunID: runID, Run: &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: kind, RunID: runID}})
	}
	return nil
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return 0, errors.New("empty input")
		}
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			br.UnreadByte()
			return c, nil
		}
	}
}

// ReadResult reads saved output as one result: a JSON document exactly
// as written, or a stream collected.
func ReadResult(r io.Reader) (*finding.Result, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if _, err := firstByte(br); err != nil {
		return nil, err
	}
	if doc, ok, err := readDocument(br); ok || err != nil {
		return doc, err
	}
	var c Collector
	if err := Read(br, &c); err != nil {
		return nil, err
	}
	return c.Result(), nil
}

// readDocument reads a --format json document, which is indented: its
// first line is a lone "{". Otherwise ok is false and nothing is consumed.
func readDocument(br *bufio.Reader) (*finding.Result, bool, error) {
	peek, _ := br.Peek(64)
	if i := bytes.IndexByte(peek, '\n'); i < 0 || !bytes.Equal(bytes.TrimSpace(peek[:i]), []byte("{")) {
		return nil, false, nil
	}
	var res finding.Result
	if err := json.NewDecoder(br).Decode(&res); err != nil {
		return nil, true, fmt.Errorf("read result: %w", err)
	}
	if err := checkDocument(&res); err != nil {
		return nil, true, err
	}
	return &res, true, nil
}

func checkDocument(res *finding.Result) error {
	if res.SchemaVersion != finding.SchemaVersion {
		return fmt.Errorf("read result: schema version %d, this exhunt reads %d", res.SchemaVersion, finding.SchemaVersion)
	}
	return nil
}

// readLine returns the next line without its end; a line longer than
// MaxLine is an error.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(buf)+len(part) > MaxLine {
			return nil, fmt.Errorf("line longer than %d bytes", MaxLine)
		}
		buf = append(buf, part...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSpace(buf), err
	}
}

// ParseLine decodes one line: a message, or a bare scan target as scans
// wrote them before the stream. nil for an empty line.
func ParseLine(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		// an old bare scan result: its "target" is a URL, not an object
		var t finding.Target
		if json.Unmarshal(b, &t) == nil && t.Status != "" {
			return &Message{Target: &t}, nil
		}
		return nil, err
	}
	switch m.kinds() {
	case 1:
		return &m, nil
	case 0:
		var t finding.Target
		if err := json.Unmarshal(b, &t); err == nil && t.Status != "" {
			return &Message{Target: &t}, nil
		}
		var doc finding.Result
		if err := json.Unmarshal(b, &doc); err == nil && doc.SchemaVersion != 0 {
			if err := checkDocument(&doc); err != nil {
				return nil, err
			}
			return &Message{Run: &doc}, nil
		}
		return nil, errors.New("not a message: none of start, progress, finding, gap, server, target, event, run")
	}
	return nil, fmt.Errorf("a message must have one kind, this one has %d", m.kinds())
}
