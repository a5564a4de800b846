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
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/progress"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/sigma"
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
}

// Hunter runs hunts with one catalog.
type Hunter struct {
	cat  *catalog.Catalog
	opt  Options
	kind map[string]*kindRules
	// events holds the rules for Windows event logs
	events *eventRules
}

type kindRules struct {
	format logs.Format
	rules  []*rule.Compiled
	pf     *logs.Prefilter
	all    bool
	// always has the bits of rules without literals, which see every line
	always uint64
	// sigma are the Sigma rules for this kind (webserver rules on IIS);
	// their bits follow the rules'
	sigma []*sigma.Rule
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
	h := &Hunter{cat: cat, opt: opt, kind: map[string]*kindRules{}, events: newEventRules(cat)}
	for _, k := range rule.KnownLogsources {
		f, ok := logs.FormatFor(k)
		if !ok {
			continue
		}
		kr := &kindRules{format: f, rules: cat.ForKind(k)}
		// one literal group per rule: a candidate line is evaluated only
		// by the rules whose own literals it holds
		groups := make([][]string, len(kr.rules))
		for i, cr := range kr.rules {
			groups[i] = cat.CompactLiterals(cr)
			if len(groups[i]) == 0 {
				kr.all = true
				kr.always |= ruleBit(i)
			}
		}
		for _, sr := range cat.Sigma.Rules {
			if !sr.AppliesToLog(k) {
				continue
			}
			kr.sigma = append(kr.sigma, sr)
			lits, ok := sr.Literals()
			if !ok {
				lits = nil
				kr.all = true
				kr.always |= ruleBit(len(groups))
			}
			groups = append(groups, lits)
		}
		kr.pf = logs.NewPrefilterGroups(groups)
		h.kind[k] = kr
	}
	return h
}

// fileResult is what one worker learned from one file.
type fileResult struct {
	srv   int
	file  *evidence.File
	stats logs.Stats
	// col holds the file's findings, capped per rule like a server's
	col   *collector
	err   error
	shell bool // the file hunt found a web shell in a web root
}

// Run hunts every server of the set.
func (h *Hunter) Run(ctx context.Context, set *evidence.Set, roots []string) (*finding.Result, error) {
	start := h.opt.Now()
	res := &finding.Result{
		SchemaVersion: finding.SchemaVersion,
		Tool:          "exhunt",
		StartedAt:     start.UTC(),
		Roots:         roots,
		Rules:         len(h.cat.Rules),
		Gaps:          append([]finding.Gap(nil), set.Gaps...),
	}
	states := make([]*serverState, len(set.Servers))
	for i, s := range set.Servers {
		states[i] = newServerState(s, h.opt.MaxFindingsPerRule)
	}
	jobs := make(chan fileResult)
	results := make(chan fileResult)
	var wg sync.WaitGroup
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
	go func() {
		defer close(jobs)
		for i, s := range set.Servers {
			for _, f := range s.Files {
				select {
				case jobs <- fileResult{srv: i, file: f}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		states[r.srv].add(r)
		if h.opt.OnFinding != nil && r.col != nil {
			for _, f := range r.col.findings() {
				h.opt.OnFinding(f)
			}
		}
		if h.opt.OnFile != nil {
			h.opt.OnFile(r.file, r.stats.Bytes)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Web shells found on disk: their answers in the IIS logs; then the
	// supporting evidence that another finding now backs.
	for _, st := range states {
		if err := h.finishFiles(ctx, st); err != nil {
			return nil, err
		}
		if err := h.nameDumpTargets(ctx, st); err != nil {
			return nil, err
		}
	}
	res.Gaps = append(res.Gaps, h.ruleGaps()...)
	// Second pass: EWS rows from the attackers of each server name the
	// mailboxes they read.
	for _, st := range states {
		if err := h.correlateEWS(ctx, st); err != nil {
			return nil, err
		}
	}
	for _, st := range states {
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
}

func (h *Hunter) newWorker(id int) *worker {
	return &worker{h: h, id: id, scanner: map[logs.Format]*logs.Scanner{}}
}

func (w *worker) read(ctx context.Context, j fileResult) fileResult {
	j.col = newCollector(w.h.opt.MaxFindingsPerRule)
	if j.file.Kind == evidence.EVTX {
		return w.readEVTX(ctx, j)
	}
	if j.file.Kind == evidence.HostFile || j.file.Kind == evidence.Msert {
		return w.readHostFile(ctx, j)
	}
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
	j.stats, j.err = sc.Scan(ctx, w.h.opt.Progress.Reader(w.id, rc), func(rec *logs.Record) error {
		mask := kr.always | kr.pf.Mask(rec.Raw())
		for i, cr := range kr.rules {
			if mask&ruleBit(i) == 0 || !cr.Match(rec) {
				continue
			}
			j.col.add(w.h.newFinding(cr, rec, j.file))
		}
		for i, sr := range kr.sigma {
			if mask&ruleBit(len(kr.rules)+i) == 0 || !sr.MatchLog(string(j.file.Kind), rec) {
				continue
			}
			j.col.add(w.h.sigmaLogFinding(sr, rec, j.file))
		}
		return nil
	})
	return j
}

// webFields are the IIS fields kept as evidence of a Sigma hit.
var webFields = []string{"date", "time", "s-ip", "cs-method", "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip", "cs(User-Agent)", "sc-status", "sc-substatus", "sc-win32-status"}

// sigmaLogFinding is the evidence of a Sigma webserver rule's hit on a
// web log line: the line's fields, its client and user agent.
func (h *Hunter) sigmaLogFinding(sr *sigma.Rule, rec *logs.Record, f *evidence.File) finding.Finding {
	fd := sigmaHit(sr)
	fd.Time = rec.Time
	fd.Source = finding.Source{File: f.Rel, Line: rec.Line, Kind: string(f.Kind)}
	fd.Fields = rec.Fields(webFields)
	h.addClient(&fd, rec, f.Kind)
	return fd
}

// newFinding builds the evidence for one hit; the server name is filled in
// when the server's results are merged, since it may come from the logs.
func (h *Hunter) newFinding(cr *rule.Compiled, rec *logs.Record, f *evidence.File) finding.Finding {
	fd := ruleHit(cr, rec)
	fd.Time = rec.Time
	fd.Source = finding.Source{File: f.Rel, Line: rec.Line, Kind: string(f.Kind)}
	fd.Fields = rec.Fields(cr.Rule.Fields)
	h.addClient(&fd, rec, f.Kind)
	return fd
}

// ruleHit is what a hit of one of exhunt's rules says whatever the
// source: the rule, the stage and severity its outcomes give, the mailbox.
func ruleHit(cr *rule.Compiled, rec rule.Record) finding.Finding {
	stage, sev, outcome := cr.Classify(rec)
	r := cr.Rule
	return finding.Finding{
		Rule:     r.ID,
		Title:    r.Title,
		Stage:    stage,
		Outcome:  outcome,
		CVEs:     append([]string{}, r.CVEs...),
		Chain:    r.Chain,
		Severity: sev,
		Mailbox:  cr.Extracted(rec, "mailbox"),
	}
}

// sigmaHit is what a Sigma rule's hit says: stage from its ATT&CK tags,
// severity from its level.
func sigmaHit(sr *sigma.Rule) finding.Finding {
	return finding.Finding{
		Rule:     "sigma:" + sr.ID,
		Title:    sr.Title,
		Stage:    sigma.StageOf(sr.Tags),
		Severity: sigma.SeverityOf(sr.Level),
		CVEs:     sigma.CVEs(sr.Tags),
	}
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
