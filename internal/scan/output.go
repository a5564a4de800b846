package scan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Done is the set of targets an earlier run's output already holds, by
// sequence number, with a hash of each target to notice a changed input.
type Done struct {
	hashes []uint32 // index: seq; 0: not done
	n      int
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
		var res Result
		if jerr := json.Unmarshal(bytes.TrimSpace(line), &res); jerr != nil || res.Status == "" {
			return nil, 0, fmt.Errorf("results line %d is not a scan result", lineNo)
		}
		d.add(res.Seq, keyHash(resultKey(&res)))
		if visit != nil {
			visit(&res)
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

// Summary counts results for the text table.
type Summary struct {
	Targets  int
	ByStatus map[string]int
	// ByChain counts verdicts per chain; Mitigated counts mitigated ones.
	ByChain   map[string]map[string]int
	Mitigated map[string]int
	Webshells int
	// Notable keeps the first rows with a vulnerable chain or a web shell.
	Notable []*Result
	More    int
}

// MaxNotable bounds the rows the summary lists.
const MaxNotable = 50

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{ByStatus: map[string]int{}, ByChain: map[string]map[string]int{}, Mitigated: map[string]int{}}
}

// Add counts one result.
func (s *Summary) Add(r *Result) {
	s.Targets++
	s.ByStatus[r.Status]++
	for _, c := range r.Chains {
		m := s.ByChain[c.Chain]
		if m == nil {
			m = map[string]int{}
			s.ByChain[c.Chain] = m
		}
		m[c.Verdict]++
		if c.Mitigated {
			s.Mitigated[c.Chain]++
		}
	}
	if len(r.Webshells) > 0 {
		s.Webshells++
	}
	if r.Vulnerable() {
		if len(s.Notable) < MaxNotable {
			slim := *r
			slim.Evidence = nil
			s.Notable = append(s.Notable, &slim)
		} else {
			s.More++
		}
	}
}

var chainOrder = []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"}

// Row formats one Exchange result as a table row.
func Row(r *Result) string {
	build, update := "-", ""
	if r.Exchange != nil && r.Exchange.Build != "" {
		build = r.Exchange.Build
		update = strings.TrimSpace(r.Exchange.Product + " " + r.Exchange.Update)
	}
	cells := []string{r.Target, build, update}
	verdict := map[string]string{}
	for _, c := range r.Chains {
		v := c.Verdict
		if c.Mitigated {
			v += "+mitigated"
		}
		verdict[c.Chain] = v
	}
	for _, c := range chainOrder {
		v := verdict[c]
		if v == "" {
			v = "-"
		}
		cells = append(cells, v)
	}
	note := r.Status
	if len(r.Webshells) > 0 {
		note = fmt.Sprintf("%d web shell(s): %s", len(r.Webshells), r.Webshells[0].Path)
	}
	return strings.Join(append(cells, note), "\t")
}

// RowHeader is the header of Row's table.
const RowHeader = "TARGET\tBUILD\tUPDATE\tPROXYLOGON\tPROXYSHELL\tPROXYNOTSHELL\tOWASSRF\tNOTE"

// Write renders the summary as text.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "%d target(s):", s.Targets)
	var st []string
	for k := range s.ByStatus {
		st = append(st, k)
	}
	sort.Strings(st)
	for i, k := range st {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %d %s", sep, s.ByStatus[k], k)
	}
	fmt.Fprintln(w)
	if len(s.ByChain) > 0 {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "CHAIN\tVULNERABLE\tINDETERMINATE\tPATCHED\tNOT AFFECTED\tMITIGATED")
		for _, c := range chainOrder {
			m := s.ByChain[c]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", c, m[VerdictVulnerable], m[VerdictIndeterminate], m[VerdictPatched], m[VerdictNotAffected], s.Mitigated[c])
		}
		tw.Flush()
	}
	if s.Webshells > 0 {
		fmt.Fprintf(w, "%d target(s) answer on known web-shell paths\n", s.Webshells)
	}
	if len(s.Notable) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, RowHeader)
		for _, r := range s.Notable {
			fmt.Fprintln(tw, Row(r))
		}
		tw.Flush()
		if s.More > 0 {
			fmt.Fprintf(w, "... and %d more vulnerable target(s) in the results\n", s.More)
		}
	}
}
