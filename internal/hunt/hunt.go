// Package hunt reads a server's evidence with the catalog's rules and turns
// the hits into per-server verdicts with evidence, coverage and a timeline.
//
// Files are independent, so they are read in parallel (one worker per CPU
// by default); each worker streams its file through a prefilter and parses
// only candidate lines. Results are merged per server afterwards, so the
// output does not depend on scheduling.
package hunt

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/progress"
	"github.com/exhunt/exhunt/internal/rule"
)

// Options tune a hunt. The zero value works.
type Options struct {
	// Workers reading files in parallel; 0 means one per CPU.
	Workers int
	// MaxFindingsPerRule keeps at most this many findings per rule and
	// server (the earliest); the rest are counted. 0 means 1000.
	MaxFindingsPerRule int
	// OnFinding, if set, is called for every finding as it is found (from
	// worker goroutines, serialised), for streaming output.
	OnFinding func(finding.Finding)
	// OnFile, if set, is called after each file with its size, for progress.
	OnFile func(f *evidence.File, bytes int64)
	// Progress, if set, is told which file each worker reads and how far.
	Progress *progress.Tracker
	// Now is the clock; tests set it.
	Now func() time.Time
	// Files tunes the file hunt (size caps).
	Files files.Options
	// RuleBudget bounds what each exhunt or Sigma rule may spend matching
	// one file; a rule past it is stopped on that file and is a gap.
	RuleBudget detect.Budget
}

// Hunter runs hunts with one catalog.
type Hunter struct {
	cat  *catalog.Catalog
	opt  Options
	kind map[string]*kindRules
	// events holds the rules for Windows event logs
	events *eventRules
	// detectors counts the detectors of every kind and of the events
	detectors int
}

// kindRules are the detectors for one log kind, whatever their dialect.
type kindRules struct {
	format    logs.Format
	detectors []*detector
	pf        *logs.Prefilter
	all       bool
	// always has the bits of detectors without literals, which see every line
	always uint64
}

// New prepares per-kind prefilters once.
func New(cat *catalog.Catalog, opt Options) *Hunter {
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxFindingsPerRule <= 0 {
		opt.MaxFindingsPerRule = 1000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &Hunter{cat: cat, opt: opt, kind: map[string]*kindRules{}}
	h.events = newEventRules(cat, h.number)
	for _, k := range rule.KnownLogsources {
		f, ok := logs.FormatFor(k)
		if !ok {
			continue
		}
		kr := &kindRules{format: f}
		// one literal group per detector: a candidate line is evaluated
		// only by the detectors whose own literals it holds
		var groups [][]string
		add := func(d *detector, lits []string) {
			h.number(d)
			if len(lits) == 0 {
				kr.all = true
				kr.always |= ruleBit(len(groups))
			}
			kr.detectors = append(kr.detectors, d)
			groups = append(groups, lits)
		}
		for _, cr := range cat.ForKind(k) {
			// exhunt rules name their prefilter literals themselves
			add(ruleDetector(cr), cat.CompactLiterals(cr))
		}
		for _, sr := range cat.Sigma.Rules {
			if !sr.AppliesToLog(k) {
				continue
			}
			lits, ok := sr.Literals()
			if !ok {
				lits = nil
			}
			add(sigmaDetector(sr, webFields), lits)
		}
		kr.pf = logs.NewPrefilterGroups(groups)
		h.kind[k] = kr
	}
	return h
}

// number gives d its index among the hunter's detectors.
func (h *Hunter) number(d *detector) *detector {
	d.n = h.detectors
	h.detectors++
	return d
}

// fileResult is what one worker learned from one file.
type fileResult struct {
	st    *serverState
	file  *evidence.File
	stats logs.Stats
	// col holds the file's findings, capped per rule like a server's
	col   *collector
	err   error
	shell bool // the file hunt found a web shell in a web root
}

// Run hunts every server of the set.
func (h *Hunter) Run(ctx context.Context, set *evidence.Set, roots []string) (*finding.Result, error) {
	if h.opt.Progress != nil {
		files, size := 0, int64(0)
		for _, s := range set.Servers {
			for _, f := range s.Files {
				files++
				size += f.Size
			}
		}
		h.opt.Progress.SetTotal(files, size)
	}
	return h.run(ctx, roots, Listed(set))
}

// Discover finds a hunt's evidence, handing the host files it streams to
// host as it walks (see evidence.Stream), and returns the rest as a set.
type Discover func(host func(*evidence.Server, *evidence.File)) (*evidence.Set, error)

// Listed is the Discover of an already discovered set: it streams nothing.
func Listed(set *evidence.Set) Discover {
	return func(func(*evidence.Server, *evidence.File)) (*evidence.Set, error) { return set, nil }
}

// RunStream hunts what discover finds, reading the files it hands over
// while it walks and then those of the set it returns: memory does not
// grow with the number of files streamed. discover's error ends the run.
func (h *Hunter) RunStream(ctx context.Context, roots []string, discover Discover) (*finding.Result, error) {
	return h.run(ctx, roots, discover)
}

func (h *Hunter) run(ctx context.Context, roots []string, discover Discover) (*finding.Result, error) {
	start := h.opt.Now()
	res := &finding.Result{
		SchemaVersion: finding.SchemaVersion,
		Tool:          "exhunt",
		StartedAt:     start.UTC(),
		Roots:         roots,
		Rules:         len(h.cat.Rules),
	}
	// bounded: a walk that finds files faster than they are read waits
	jobs := make(chan fileResult, h.opt.Workers)
	results := make(chan fileResult, h.opt.Workers)
	var wg sync.WaitGroup
	// the workers share nothing but the read-only hunter
	for i := range h.opt.Workers {
		wg.Go(func() {
			w := h.newWorker(i)
			pr := h.opt.Progress
			for j := range jobs {
				pr.Begin(w.id, j.file.Rel, j.file.Size)
				r := w.read(ctx, j)
				pr.End(w.id)
				results <- r
			}
		})
	}
	// states are made by the feeding goroutine only, and read by this one
	// once it is done
	states := map[*evidence.Server]*serverState{}
	stateOf := func(s *evidence.Server) *serverState {
		st := states[s]
		if st == nil {
			st = newServerState(s, h.opt.MaxFindingsPerRule)
			states[s] = st
		}
		return st
	}
	var set *evidence.Set
	var discoverErr error
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(jobs)
		send := func(s *evidence.Server, f *evidence.File) bool {
			select {
			case jobs <- fileResult{st: stateOf(s), file: f}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		streamed, size := 0, int64(0)
		set, discoverErr = discover(func(s *evidence.Server, f *evidence.File) {
			if h.opt.Progress != nil {
				streamed++
				size += f.Size
				h.opt.Progress.SetTotal(streamed, size)
			}
			send(s, f)
		})
		if discoverErr != nil {
			return
		}
		if h.opt.Progress != nil && streamed > 0 {
			for _, s := range set.Servers {
				for _, f := range s.Files {
					streamed++
					size += f.Size
				}
			}
			h.opt.Progress.SetTotal(streamed, size)
		}
		for _, s := range set.Servers {
			stateOf(s) // a server has a result even with no file left to read
			for _, f := range s.Files {
				if !send(s, f) {
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		r.st.add(r)
		if h.opt.OnFinding != nil && r.col != nil {
			for _, f := range r.col.findings() {
				h.opt.OnFinding(f)
			}
		}
		if h.opt.OnFile != nil {
			h.opt.OnFile(r.file, r.stats.Bytes)
		}
	}
	<-fed
	if discoverErr != nil {
		return nil, discoverErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Gaps = append([]finding.Gap(nil), set.Gaps...)
	// the set's order (name, root, root argument); servers the file hunt
	// alone found come in that order too
	ordered := make([]*serverState, 0, len(states))
	for _, s := range set.Servers {
		ordered = append(ordered, states[s])
		delete(states, s)
	}
	for _, st := range states {
		ordered = append(ordered, st)
	}
	sort.SliceStable(ordered, func(i, j int) bool {
		a, b := ordered[i].ev, ordered[j].ev
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Root != b.Root {
			return a.Root < b.Root
		}
		return a.Source < b.Source
	})
	// Web shells found on disk: their answers in the IIS logs; then the
	// supporting evidence that another finding now backs.
	for _, st := range ordered {
		if err := h.finishFiles(ctx, st); err != nil {
			return nil, err
		}
		if err := h.nameDumpTargets(ctx, st); err != nil {
			return nil, err
		}
	}
	res.Gaps = append(res.Gaps, h.ruleGaps()...)
	res.SkippedRules = h.skippedRules()
	// Second pass: EWS rows from the attackers of each server name the
	// mailboxes they read.
	for _, st := range ordered {
		if err := h.correlateEWS(ctx, st); err != nil {
			return nil, err
		}
	}
	for _, st := range ordered {
		res.Servers = append(res.Servers, st.result(h.cat))
	}
	sort.SliceStable(res.Servers, func(i, j int) bool { return res.Servers[i].Name < res.Servers[j].Name })
	res.DurationMS = h.opt.Now().Sub(start).Milliseconds()
	return res, nil
}

type worker struct {
	h       *Hunter
	id      int
	scanner map[logs.Format]*logs.Scanner
	files   *files.Scanner // made on the worker's first host file
	meters  *ruleMeters
}

func (h *Hunter) newWorker(id int) *worker {
	return &worker{h: h, id: id, scanner: map[logs.Format]*logs.Scanner{}, meters: newRuleMeters(h.detectors, h.opt.RuleBudget)}
}

// read hands a file to the reader of its kind.
func (w *worker) read(ctx context.Context, j fileResult) fileResult {
	j.col = newCollector(w.h.opt.MaxFindingsPerRule)
	for _, r := range readers {
		if r.reads(j.file.Kind) {
			return r.read(ctx, w, j)
		}
	}
	j.err = fmt.Errorf("no reader for evidence kind %q", j.file.Kind)
	return j
}

// readLog streams a text log through the detectors of its kind.
func (w *worker) readLog(ctx context.Context, j fileResult) fileResult {
	kr := w.h.kind[string(j.file.Kind)]
	if kr == nil {
		j.err = fmt.Errorf("no reader for log kind %q", j.file.Kind)
		return j
	}
	sc := w.scanner[kr.format]
	if sc == nil {
		sc = &logs.Scanner{Format: kr.format}
		w.scanner[kr.format] = sc
	}
	sc.Prefilter, sc.All, sc.Kind = kr.pf, kr.all, string(j.file.Kind)
	rc, err := j.file.Open()
	if err != nil {
		j.err = err
		return j
	}
	defer rc.Close()
	rm := w.meters
	rm.reset(0)
	j.stats, j.err = sc.Scan(ctx, counter{w.h.opt.Progress.Reader(w.id, rc), &rm.bytes}, func(rec *logs.Record) error {
		mask := kr.always | kr.pf.Mask(rec.Raw())
		for i, d := range kr.detectors {
			if mask&ruleBit(i) == 0 || !rm.match(d, rec, rec.Line) {
				continue
			}
			j.col.add(w.h.logFinding(d, rec, j.file))
		}
		return nil
	})
	j.stats.Gaps = append(j.stats.Gaps, rm.gaps...)
	return j
}

// webFields are the IIS fields kept as evidence of a Sigma hit.
var webFields = []string{"date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip", "cs(User-Agent)", "sc-status", "sc-substatus", "sc-win32-status"}

// logFinding is the evidence of a hit on a log line: the detector's
// fields, the client and its user agent.
func (h *Hunter) logFinding(d *detector, rec *logs.Record, f *evidence.File) finding.Finding {
	fd := newFinding(d, rec, rec.Time, finding.Source{File: f.Rel, Line: rec.Line, Kind: string(f.Kind)}, rec.Fields(d.fields))
	h.addClient(&fd, rec, f.Kind)
	return fd
}

// addClient records who sent a web request: client address, user agent as
// the client sent it, the server's address (so back-end lines from the
// server itself are not taken for an attacker) and known attacker IPs.
func (h *Hunter) addClient(fd *finding.Finding, rec *logs.Record, kind evidence.Kind) {
	ip, has := rec.Field("c-ip")
	if has && ip == "" {
		// the log's "-": the request's client is not known, which the
		// server result counts as an unusable address
		ip = "-"
	}
	fd.ClientIP = ip
	if sip, ok := rec.Field("s-ip"); ok && sip != "" {
		// kept so back-end lines from the server's own address are not
		// taken for an attacker
		fd.Fields["s-ip"] = sip
	}
	ua, _ := rec.Field("cs-user-agent")
	switch kind {
	case evidence.IIS:
		// IIS writes spaces in the user agent as '+'
		ua = strings.ReplaceAll(ua, "+", " ")
	case evidence.HTTPProxy, evidence.EWS, evidence.RpsHTTP:
		// Exchange's CSV logs turn ", " into two spaces; undo it so one
		// client's user agent reads the same in every log
		ua = strings.ReplaceAll(ua, "  ", ", ")
	}
	fd.UserAgent = ua
	if fd.ClientIP != "" && fd.ClientIP != "-" && h.inList("attacker-ips", fd.ClientIP) {
		fd.IOCs = append(fd.IOCs, "attacker-ips (Volexity, CISA AA21-062A)")
	}
}

func (h *Hunter) inList(name, v string) bool {
	for _, x := range h.cat.Env.Lists[name] {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func ruleBit(i int) uint64 { return 1 << min(i, 63) }

// skippedRules lists the Sigma rules that were not loaded, with why: a
// rule skipped for a feature the engine lacks is coverage lost.
func (h *Hunter) skippedRules() []finding.SkippedRule {
	var out []finding.SkippedRule
	for _, sk := range h.cat.Sigma.Skipped {
		sr := finding.SkippedRule{Title: sk.Title, File: sk.Path, Line: int64(sk.Line), Reason: sk.Reason}
		if sk.ID != "" {
			sr.Rule = "sigma:" + sk.ID
		}
		out = append(out, sr)
	}
	return out
}
