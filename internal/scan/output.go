package scan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"

	"github.com/exhunt/exhunt/internal/stream"
)

// Done is the set of targets an earlier run's output already holds, by
// sequence number, with a hash of each target to notice a changed input.
type Done struct {
	hashes []uint32 // index: seq; 0: not done
	n      int
	// RunID is the interrupted run's id, which the resumed run keeps.
	RunID string
}

func keyHash(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() | 1
}

func resultKey(r *Result) string {
	if r.Status == StatusInvalid {
		return "invalid:" + r.Input
	}
	return r.Target
}

func targetKey(t *Target) string {
	if t.Err != "" {
		return "invalid:" + t.Input
	}
	return t.URL()
}

// maxResultLine bounds one line of a results file.
const maxResultLine = 1 << 20

// ReadDone reads a results file and returns the targets it holds and the
// length of its complete lines: a run killed mid-write leaves a partial
// last line, which the caller cuts off before appending. visit, if set,
// sees every result.
func ReadDone(r io.Reader, visit func(*Result)) (*Done, int64, error) {
	d := &Done{}
	br := bufio.NewReaderSize(r, 64<<10)
	var good int64
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Too long to be ours: read on to the end of the line.
			n := int64(len(line))
			for err == bufio.ErrBufferFull && n < maxResultLine {
				line, err = br.ReadSlice('\n')
				n += int64(len(line))
			}
			return nil, 0, fmt.Errorf("results line %d is longer than %d bytes: not a results file", lineNo+1, maxResultLine)
		}
		if err == io.EOF {
			return d, good, nil // a partial last line, if any, is dropped
		}
		if err != nil {
			return nil, 0, err
		}
		lineNo++
		// stream messages; bare results as scans wrote before the stream
		m, perr := stream.ParseLine(bytes.TrimSpace(line))
		if perr != nil || m == nil {
			return nil, 0, fmt.Errorf("results line %d is not a scan result", lineNo)
		}
		if d.RunID == "" {
			d.RunID = m.RunID
		}
		if res := m.Target; res != nil {
			d.add(res.Seq, keyHash(resultKey(res)))
			if visit != nil {
				visit(res)
			}
		} else if m.Finding != nil || m.Server != nil {
			return nil, 0, fmt.Errorf("results line %d is a hunt's, not a scan's", lineNo)
		}
		good += int64(len(line))
	}
}

func (d *Done) add(seq uint64, h uint32) {
	if seq > 1<<34 {
		return
	}
	for uint64(len(d.hashes)) <= seq {
		d.hashes = append(d.hashes, make([]uint32, max(1024, len(d.hashes)))...)
	}
	if d.hashes[seq] == 0 {
		d.n++
	}
	d.hashes[seq] = h
}

// Len is how many targets are done.
func (d *Done) Len() int { return d.n }

// Has reports whether the output holds a result for target number seq.
func (d *Done) Has(seq uint64) bool {
	return d != nil && seq < uint64(len(d.hashes)) && d.hashes[seq] != 0
}

// Skip reports whether t is done; an error when the output holds another
// target under t's number, meaning the input changed.
func (d *Done) Skip(t *Target) (bool, error) {
	if d == nil || t.Seq >= uint64(len(d.hashes)) || d.hashes[t.Seq] == 0 {
		return false, nil
	}
	if d.hashes[t.Seq] != keyHash(targetKey(t)) {
		return false, fmt.Errorf("resume: target %d is %s in the input but another in the results: %w since the interrupted run", t.Seq, targetKey(t), ErrInputChanged)
	}
	return true, nil
}

// ErrInputChanged is wrapped by Skip's error.
var ErrInputChanged = errors.New("input changed")
