package hunt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/sigma"
	"github.com/exhunt/exhunt/internal/winevent"
)

// maxEvtxInMemory bounds an event log read from a zip or gzip, which has to
// be held in memory for the reader's random access.
const maxEvtxInMemory = 1 << 30

// eventRules are the rules for Windows events: exhunt's own by event kind,
// Sigma's by channel, so an event meets only the rules that can match it.
type eventRules struct {
	kinds []kindRulesEvt
	// Sigma rules by lower-case channel and event ID; anyID holds those
	// that take every event of a channel
	sigma map[sigmaKey][]sigmaEntry
	anyID map[string][]sigmaEntry
	// pf finds each rule's literals (Detection.Literals) in an event's
	// values: a rule whose bit is not in the mask cannot match, so it is
	// not evaluated. Rules without literals have bit 0 and always run.
	pf *logs.Prefilter
}

type sigmaKey struct {
	channel string
	id      int
}

type sigmaEntry struct {
	r   *sigma.Rule
	bit uint64
}

type kindRulesEvt struct {
	kind  string
	rules []*rule.Compiled
	bits  []uint64
}

func newEventRules(cat *catalog.Catalog) *eventRules {
	er := &eventRules{sigma: map[sigmaKey][]sigmaEntry{}, anyID: map[string][]sigmaEntry{}}
	var groups [][]string
	bitFor := func(lits []string, ok bool) uint64 {
		if !ok || len(lits) == 0 {
			return 0
		}
		groups = append(groups, lits)
		return ruleBit(len(groups) - 1)
	}
	for _, k := range winevent.Kinds() {
		rs := cat.ForKind(k)
		if len(rs) == 0 {
			continue
		}
		kr := kindRulesEvt{kind: k, rules: rs}
		for _, cr := range rs {
			kr.bits = append(kr.bits, bitFor(cr.Literals()))
		}
		er.kinds = append(er.kinds, kr)
	}
	for _, sr := range cat.Sigma.Rules {
		if len(sr.EventSources()) == 0 {
			continue
		}
		e := sigmaEntry{r: sr, bit: bitFor(sr.Literals())}
		seen := map[sigmaKey]bool{}
		for _, src := range sr.EventSources() {
			ch := strings.ToLower(src.Channel)
			if len(src.EventIDs) == 0 {
				if !seen[sigmaKey{ch, -1}] {
					seen[sigmaKey{ch, -1}] = true
					er.anyID[ch] = append(er.anyID[ch], e)
				}
				continue
			}
			for _, id := range src.EventIDs {
				if k := (sigmaKey{ch, id}); !seen[k] {
					seen[k] = true
					er.sigma[k] = append(er.sigma[k], e)
				}
			}
		}
	}
	er.pf = logs.NewPrefilterGroups(groups)
	return er
}

// match appends the findings of every rule that matches the event.
func (er *eventRules) match(e *evtx.Event, f *evidence.File, out []finding.Finding) []finding.Finding {
	we := winevent.New(e)
	var mask uint64
	masked := false
	may := func(bit uint64) bool {
		if bit == 0 {
			return true
		}
		if !masked {
			// the automaton folds ASCII case itself
			for _, fl := range e.Fields {
				v := fl.Value
				if !isASCII(v) {
					v = strings.ToLower(v)
				}
				mask |= er.pf.Mask(v)
			}
			masked = true
		}
		return mask&bit != 0
	}
	for _, kr := range er.kinds {
		v := we.As(kr.kind)
		if v == nil {
			continue
		}
		for i, cr := range kr.rules {
			if may(kr.bits[i]) && cr.Match(v) {
				out = append(out, eventFinding(cr, v, e, f))
			}
		}
	}
	ch := strings.ToLower(we.Channel())
	byID, all := er.sigma[sigmaKey{ch, we.ID()}], er.anyID[ch]
	if len(byID)+len(all) > 0 {
		v := we.Plain()
		for _, srs := range [2][]sigmaEntry{byID, all} {
			for _, se := range srs {
				if may(se.bit) && se.r.MatchEvent(we.Channel(), we.ID(), v) {
					out = append(out, sigmaFinding(se.r, e, f))
				}
			}
		}
	}
	return out
}

// eventFinding builds the evidence for a hit of one of exhunt's rules.
func eventFinding(cr *rule.Compiled, v *winevent.View, e *evtx.Event, f *evidence.File) finding.Finding {
	fd := ruleHit(cr, v)
	fd.Time = e.Time
	fd.Source = eventSource(e, f)
	fd.Fields = map[string]string{}
	names := cr.Rule.Fields
	if len(names) == 0 {
		for _, fl := range e.Fields {
			names = append(names, fl.Name)
		}
	}
	for _, n := range names {
		if len(fd.Fields) >= 24 {
			break
		}
		if val, ok := v.Field(n); ok {
			fd.Fields[n] = clip(val)
		}
	}
	return fd
}

// clip bounds one evidence value and copies it out of the chunk's text.
func clip(v string) string {
	if len(v) > 2048 {
		return strings.ToValidUTF8(v[:2048], "") + "…"
	}
	return strings.Clone(v)
}

// readEVTX runs the event rules over one event log.
func (w *worker) readEVTX(ctx context.Context, j fileResult) fileResult {
	r, size, done, cut, err := openEventLogCut(j.file, func(rd io.Reader) io.Reader { return w.h.opt.Progress.Reader(w.id, rd) },
		func(n int64) { w.h.opt.Progress.Read(w.id, n) })
	j.stats.Bytes = size
	if err != nil {
		j.err = err
		return j
	}
	defer done()
	ev := w.h.events
	var buf []finding.Finding
	st, err := r.Events(ctx, 1, func(e *evtx.Event) error {
		j.stats.Records++
		if !e.Time.IsZero() {
			if j.stats.First.IsZero() || e.Time.Before(j.stats.First) {
				j.stats.First = e.Time
			}
			if e.Time.After(j.stats.Last) {
				j.stats.Last = e.Time
			}
		}
		if j.stats.Host == "" {
			j.stats.Host, _ = e.Field("Computer")
		}
		buf = ev.match(e, j.file, buf[:0])
		for _, f := range buf {
			j.col.add(f)
		}
		return nil
	})
	for _, p := range st.Corrupt {
		j.stats.Gaps = append(j.stats.Gaps, lineGap(p))
	}
	if st.MoreProblems > 0 {
		j.stats.MoreGaps += int64(st.MoreProblems)
	}
	if err != nil {
		j.err = err
	}
	if cut != nil {
		j.err = cut
	}
	return j
}

// openEventLog opens an event log for the reader's random access: a plain
// file in place, a zip member or gzip read into memory (bounded). wrap and
// read report progress; done releases the file. A read that broke off
// after a chunk or more gives a reader over what was read (see
// openEventLogCut).
func openEventLog(f *evidence.File, wrap func(io.Reader) io.Reader, read func(int64)) (r *evtx.Reader, size int64, done func(), err error) {
	r, size, done, _, err = openEventLogCut(f, wrap, read)
	return r, size, done, err
}

// evtxMinSize is a file header and one chunk: less holds no event.
const evtxMinSize = 4096 + 65536

// openEventLogCut is openEventLog that also returns cut, the error of a
// read that broke off (a cut zip member or gzip stream): the chunks read
// before it are still read, and cut is the file's gap.
func openEventLogCut(f *evidence.File, wrap func(io.Reader) io.Reader, read func(int64)) (r *evtx.Reader, size int64, done func(), cut, err error) {
	var ra io.ReaderAt
	done = func() {}
	fh, plain, err := f.OpenFile()
	if err != nil {
		return nil, 0, done, nil, err
	}
	if plain {
		st, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, 0, done, nil, err
		}
		ra, size, done = fh, st.Size(), func() { fh.Close() }
		read(size)
	} else {
		rc, err := f.Open()
		if err != nil {
			return nil, 0, done, nil, err
		}
		data, err := io.ReadAll(io.LimitReader(wrap(rc), maxEvtxInMemory+1))
		rc.Close()
		if err != nil {
			if len(data) < evtxMinSize {
				return nil, 0, done, nil, err
			}
			cut = err
		}
		if len(data) > maxEvtxInMemory {
			return nil, 0, done, nil, fmt.Errorf("%s: event log larger than %d bytes inside an archive; extract it", f.Rel, maxEvtxInMemory)
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	r, err = evtx.Open(ra, size, evtx.Options{Name: f.Rel})
	if err != nil {
		done()
		if cut != nil {
			err = cut
		}
		return nil, size, func() {}, nil, err
	}
	return r, size, done, cut, nil
}

func lineGap(p evtx.Problem) logs.LineGap {
	return logs.LineGap{Line: int64(p.Record), Reason: p.String()}
}

// sigmaFinding turns a Sigma hit on an event into a finding, with the
// event's values as evidence.
func sigmaFinding(r *sigma.Rule, ev *evtx.Event, f *evidence.File) finding.Finding {
	fd := sigmaHit(r)
	fd.Time = ev.Time
	fd.Source = eventSource(ev, f)
	fd.Fields = map[string]string{}
	for _, fl := range ev.Fields {
		if len(fd.Fields) >= 24 {
			break
		}
		fd.Fields[fl.Name] = clip(fl.Value)
	}
	return fd
}

// eventSource points at an event: for event logs the "line" is the
// record id.
func eventSource(e *evtx.Event, f *evidence.File) finding.Source {
	return finding.Source{File: f.Rel, Line: int64(e.RecordID), Kind: string(evidence.EVTX)}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
