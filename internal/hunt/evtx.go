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
	"github.com/exhunt/exhunt/internal/winevent"
)

// maxEvtxInMemory bounds an event log read from a zip or gzip, which has to
// be held in memory for the reader's random access.
const maxEvtxInMemory = 1 << 30

// eventRules are the detectors for Windows events, exhunt's and Sigma's
// alike, indexed by the channel and event ID of the sources they read, so an
// event meets only the detectors that can match it.
type eventRules struct {
	// byID holds the detectors reading given event IDs of a channel
	// (lower case); anyID those that take every event of a channel.
	byID  map[eventKey][]eventEntry
	anyID map[string][]eventEntry
	// pf finds each detector's literals (Detection.Literals) in an event's
	// values: a detector whose bit is not in the mask cannot match, so it
	// is not evaluated. Detectors without literals have bit 0 and always run.
	pf *logs.Prefilter
}

type eventKey struct {
	channel string
	id      int
}

// eventEntry is one detector over the events of one logsource.
type eventEntry struct {
	d *detector
	// seq orders the entries as they were added, so an event's findings
	// come out in one order whichever index holds the entries
	seq int
	bit uint64
	// src is the event source the entry's index key came from, whose
	// field names the detector reads; alias adds the names of an exhunt
	// event kind
	src   *winevent.Source
	alias map[string]string
}

// newEventRules indexes the event detectors; number numbers each.
func newEventRules(cat *catalog.Catalog, number func(*detector) *detector) *eventRules {
	er := &eventRules{byID: map[eventKey][]eventEntry{}, anyID: map[string][]eventEntry{}}
	var groups [][]string
	bitFor := func(lits []string, ok bool) uint64 {
		if !ok || len(lits) == 0 {
			return 0
		}
		groups = append(groups, lits)
		return ruleBit(len(groups) - 1)
	}
	seq := 0
	add := func(e eventEntry, srcs []winevent.Source) {
		e.seq = seq
		seq++
		seen := map[eventKey]bool{}
		for i := range srcs {
			// the first source of a channel and ID gives its names, as
			// a logsource mapping's lookup does
			src := &srcs[i]
			e.src = src
			ch := strings.ToLower(src.Channel)
			if len(src.EventIDs) == 0 {
				if !seen[eventKey{ch, -1}] {
					seen[eventKey{ch, -1}] = true
					er.anyID[ch] = append(er.anyID[ch], e)
				}
				continue
			}
			for _, id := range src.EventIDs {
				if k := (eventKey{ch, id}); !seen[k] {
					seen[k] = true
					er.byID[k] = append(er.byID[k], e)
				}
			}
		}
	}
	for _, k := range winevent.Kinds() {
		m, alias := winevent.Kind(k)
		if m == nil {
			continue
		}
		for _, cr := range cat.ForKind(k) {
			add(eventEntry{d: number(ruleDetector(cr)), bit: bitFor(cr.Literals()), alias: alias}, m.Events)
		}
	}
	for _, sr := range cat.Sigma.Rules {
		if len(sr.EventSources()) == 0 {
			continue
		}
		add(eventEntry{d: number(sigmaDetector(sr, nil)), bit: bitFor(sr.Literals())}, sr.EventSources())
	}
	er.pf = logs.NewPrefilterGroups(groups)
	return er
}

// match appends the findings of every detector that matches the event,
// each within its budget on the file (rm).
func (er *eventRules) match(e *evtx.Event, f *evidence.File, rm *ruleMeters, out []finding.Finding) []finding.Finding {
	we := winevent.New(e)
	ch := strings.ToLower(we.Channel())
	byID, all := er.byID[eventKey{ch, we.ID()}], er.anyID[ch]
	if len(byID)+len(all) == 0 {
		return out
	}
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
	// one view per event source, shared by the detectors that read it
	type view struct {
		src   *winevent.Source
		alias map[string]string
		v     *winevent.View
	}
	var viewBuf [4]view
	views := viewBuf[:0]
	for len(byID)+len(all) > 0 {
		// merge the two lists in the order the entries were added
		var en eventEntry
		if len(all) == 0 || (len(byID) > 0 && byID[0].seq < all[0].seq) {
			en, byID = byID[0], byID[1:]
		} else {
			en, all = all[0], all[1:]
		}
		if !may(en.bit) {
			continue
		}
		var v *winevent.View
		for _, x := range views {
			// a source belongs to one mapping, so to at most one event
			// kind's aliases: Sigma's (none) and that kind's are the two
			if x.src == en.src && (x.alias == nil) == (en.alias == nil) {
				v = x.v
				break
			}
		}
		if v == nil {
			v = we.Under(en.src, en.alias)
			views = append(views, view{en.src, en.alias, v})
		}
		if rm.match(en.d, v, int64(e.RecordID)) {
			out = append(out, eventFinding(en.d, v, e, f))
		}
	}
	return out
}

// eventFinding is the evidence of a hit on an event: the detector's fields
// under its names, or every field as read.
func eventFinding(d *detector, v *winevent.View, e *evtx.Event, f *evidence.File) finding.Finding {
	fields := map[string]string{}
	if d.fields == nil {
		for _, fl := range e.Fields {
			if len(fields) >= 24 {
				break
			}
			fields[fl.Name] = clip(fl.Value)
		}
	}
	for _, n := range d.fields {
		if len(fields) >= 24 {
			break
		}
		if val, ok := v.Field(n); ok {
			fields[n] = clip(val)
		}
	}
	return newFinding(d, v, e.Time, eventSource(e, f), fields)
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
	rm := w.meters
	rm.reset(size)
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
		buf = ev.match(e, j.file, rm, buf[:0])
		for _, f := range buf {
			j.col.add(f)
		}
		return nil
	})
	for _, p := range st.Corrupt {
		j.stats.Gaps = append(j.stats.Gaps, lineGap(p))
	}
	j.stats.Gaps = append(j.stats.Gaps, rm.gaps...)
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
