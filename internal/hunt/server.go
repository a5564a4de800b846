package hunt

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/remedy"
)

// buildKinds are the Exchange logs whose #Version is the server's build.
// (The ECP logs write a fixed 15.0.0.0.)
var buildKinds = map[evidence.Kind]bool{
	evidence.HTTPProxy: true, evidence.RpsHTTP: true, evidence.RpsCmdlet: true, evidence.EWS: true,
}

type serverState struct {
	ev       *evidence.Server
	max      int
	coverage map[string]*finding.Coverage
	gaps     []finding.Gap
	col      *collector // findings: samples per rule, tally of all
	builds   map[string]*finding.BuildSeen
	hosts    map[string]int
	ews      []*evidence.File
	shells   []*evidence.File // web shells the file hunt found
}

func newServerState(s *evidence.Server, max int) *serverState {
	return &serverState{
		ev: s, max: max,
		coverage: map[string]*finding.Coverage{},
		col:      newCollector(max),
		builds:   map[string]*finding.BuildSeen{},
		hosts:    map[string]int{},
	}
}

func (s *serverState) add(r fileResult) {
	kind := string(r.file.Kind)
	if r.file.Kind == evidence.EVTX || r.file.Kind == evidence.HostFile {
		// one coverage line per event log (Security, Application...) and
		// per file location (file:inetpub-wwwroot...)
		kind += ":" + r.file.Sub
	}
	c := s.coverage[kind]
	if c == nil {
		c = &finding.Coverage{Source: kind}
		s.coverage[kind] = c
	}
	if r.file.Kind == evidence.EWS {
		s.ews = append(s.ews, r.file)
	}
	if r.shell {
		s.shells = append(s.shells, r.file)
	}
	c.Files++
	c.Bytes += r.stats.Bytes
	c.Lines += r.stats.Records
	if r.err != nil {
		c.Skipped++
		reason := r.err.Error()
		if errors.Is(r.err, evidence.ErrTooLarge) {
			reason = "read stopped at the size cap: " + reason
		}
		s.gaps = append(s.gaps, finding.Gap{File: r.file.Rel, Reason: reason})
	}
	for _, g := range r.stats.Gaps {
		s.gaps = append(s.gaps, finding.Gap{File: r.file.Rel, Line: g.Line, Reason: g.Reason})
	}
	if r.stats.MoreGaps > 0 {
		s.gaps = append(s.gaps, finding.Gap{File: r.file.Rel, Reason: fmt.Sprintf("%d more unreadable lines", r.stats.MoreGaps)})
	}
	if !r.stats.First.IsZero() && (c.First.IsZero() || r.stats.First.Before(c.First)) {
		c.First = r.stats.First
	}
	if r.stats.Last.After(c.Last) {
		c.Last = r.stats.Last
	}
	if r.stats.Host != "" {
		s.hosts[r.stats.Host]++
	}
	if buildKinds[r.file.Kind] && r.stats.Version != "" {
		if b, ok := exchange.ParseBuild(r.stats.Version); ok && !r.stats.First.IsZero() {
			key := b.String()
			bs := s.builds[key]
			if bs == nil {
				bs = &finding.BuildSeen{Build: key, First: r.stats.First, Last: r.stats.Last, Source: kind}
				s.builds[key] = bs
			}
			if r.stats.First.Before(bs.First) {
				bs.First = r.stats.First
			}
			if r.stats.Last.After(bs.Last) {
				bs.Last = r.stats.Last
			}
		}
	}
	if r.col != nil {
		s.col.merge(r.col)
	}
}

func (s *serverState) name() string {
	if s.ev.Name != "" {
		return s.ev.Name
	}
	best, n := "", 0
	for h, c := range s.hosts {
		if c > n || (c == n && h < best) {
			best, n = h, c
		}
	}
	if best != "" {
		return best
	}
	return "unnamed (" + s.ev.Root + ")"
}

// attackerIP reports whether an address in a finding is an outside client,
// not the server talking to itself (back-end IIS lines carry the front
// end's address). A value that is no address ("-", "[REDACTED]", garbage)
// names nobody: see clientAddr.
func attackerIP(ip, serverIP string) bool {
	a, ok := clientAddr(ip)
	if !ok || a.String() == serverIP || ip == serverIP {
		return false
	}
	return !a.IsLoopback() && !a.IsUnspecified()
}

// clientAddr reads a client-address field: an IPv4 or IPv6 address, with
// a port where a log writes one.
func clientAddr(ip string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(ip); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(ip); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// unusableClient reports a client-address field that holds something
// other than an address: it makes no attacker entry and is counted.
func unusableClient(ip string) bool {
	if ip == "" {
		return false
	}
	_, ok := clientAddr(ip)
	return !ok
}

func (s *serverState) result(cat *catalog.Catalog) finding.Server {
	name := s.name()
	fs := s.col.findings()
	t := &s.col.tally
	out := finding.Server{Name: name, Verdict: finding.VerdictClean, Gaps: append(s.gaps, t.gaps()...), Findings: fs,
		Attackers: []finding.Attacker{}, MailboxesAccessed: []finding.MailboxAccess{}, Timeline: []finding.TimelineEntry{}}
	// the verdict, attackers and mailboxes come from every finding, kept
	// or not; the findings and the timeline are the samples
	if t.stage.Valid() {
		out.Verdict = t.stage.Verdict()
	}
	out.UnusableClientAddresses = t.unusable
	for i := range fs {
		f := &fs[i]
		f.Server = name
		out.Timeline = append(out.Timeline, finding.TimelineEntry{
			Time: f.Time, Rule: f.Rule, Stage: f.Stage, Severity: f.Severity, Source: f.Source,
			Summary: summary(f),
		})
	}
	for _, a := range t.attackers {
		sort.Strings(a.UserAgents)
		out.Attackers = append(out.Attackers, *a)
	}
	sort.Slice(out.Attackers, func(i, j int) bool { return out.Attackers[i].IP < out.Attackers[j].IP })
	for _, m := range t.mail {
		sort.Strings(m.Actions)
		sort.Strings(m.Via)
		out.MailboxesAccessed = append(out.MailboxesAccessed, *m)
	}
	sort.Slice(out.MailboxesAccessed, func(i, j int) bool { return out.MailboxesAccessed[i].Mailbox < out.MailboxesAccessed[j].Mailbox })
	for rule, n := range s.col.dropped {
		if n > 0 {
			out.Suppressed = append(out.Suppressed, finding.RuleCount{Rule: rule, Count: n})
		}
	}
	sort.Slice(out.Suppressed, func(i, j int) bool { return out.Suppressed[i].Rule < out.Suppressed[j].Rule })
	for _, c := range s.coverage {
		out.Coverage = append(out.Coverage, *c)
	}
	sort.Slice(out.Coverage, func(i, j int) bool { return out.Coverage[i].Source < out.Coverage[j].Source })
	out.Build = s.buildHistory(cat.Builds)
	out.Inconclusive, out.Reasons = s.inconclusive(cat.Builds, out.Coverage, out.Build)
	out.Remediation = remedy.Plan(&out, cat.Builds, cat.Remediation)
	return out
}

func summary(f *finding.Finding) string {
	s := f.Title
	if f.Outcome != "" {
		s += ": " + f.Outcome
	}
	if f.Supporting {
		s += " (supporting evidence only)"
	}
	return s
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *serverState) buildHistory(t *exchange.Table) finding.BuildHistory {
	var bh finding.BuildHistory
	bh.Seen = []finding.BuildSeen{}
	bh.Chains = []finding.ChainStatus{}
	for _, b := range s.builds {
		if pb, ok := exchange.ParseBuild(b.Build); ok {
			if rel, exact, ok := t.Lookup(pb); ok {
				b.Product = rel.Product
				if exact {
					b.Update = rel.Update
				} else {
					b.Update = strings.Fields(rel.Update)[0] + " (later update)"
				}
			}
		}
		bh.Seen = append(bh.Seen, *b)
	}
	sort.Slice(bh.Seen, func(i, j int) bool { return bh.Seen[i].First.Before(bh.Seen[j].First) })
	for i := 1; i < len(bh.Seen); i++ {
		bh.Changes = append(bh.Changes, fmt.Sprintf("%s: %s -> %s", bh.Seen[i].First.Format(time.RFC3339), bh.Seen[i-1].Build, bh.Seen[i].Build))
	}
	if len(bh.Seen) == 0 {
		return bh
	}
	bh.Current = bh.Seen[len(bh.Seen)-1].Build
	cur, _ := exchange.ParseBuild(bh.Current)
	for _, c := range exchange.Chains {
		st, note := t.Status(cur, c.Name)
		bh.Chains = append(bh.Chains, finding.ChainStatus{Chain: c.Name, Status: st, Note: note})
	}
	return bh
}

// inconclusive says whether the logs reach back far enough: a server that
// was exposed to a chain before its logs begin may have been exploited in a
// window the evidence no longer shows.
func (s *serverState) inconclusive(t *exchange.Table, cov []finding.Coverage, bh finding.BuildHistory) (bool, []string) {
	var first time.Time
	for _, c := range cov {
		if !c.First.IsZero() && (first.IsZero() || c.First.Before(first)) {
			first = c.First
		}
	}
	if first.IsZero() {
		return true, []string{"no log records with timestamps were found"}
	}
	var reasons []string
	if len(bh.Seen) == 0 {
		var missed []string
		for _, c := range exchange.Chains {
			if c.Start.Before(first) {
				missed = append(missed, c.Name)
			}
		}
		if len(missed) > 0 {
			reasons = append(reasons, fmt.Sprintf("the Exchange build is not in the logs and they begin %s, after exploitation of %s began",
				first.Format("2006-01-02"), strings.Join(missed, ", ")))
		}
		return len(reasons) > 0, reasons
	}
	b, _ := exchange.ParseBuild(bh.Seen[0].Build)
	for _, c := range exchange.Chains {
		if !c.Start.Before(first) {
			continue
		}
		st, _ := t.Status(b, c.Name)
		switch {
		case exchange.Exposed(st):
			reasons = append(reasons, fmt.Sprintf("build %s was exposed to %s (exploited since %s) before the logs begin on %s",
				b, c.Name, c.Start.Format("2006-01-02"), first.Format("2006-01-02")))
		case st == exchange.StatusUnknown:
			reasons = append(reasons, fmt.Sprintf("exposure of build %s to %s is unknown and the logs begin %s, after exploitation began",
				b, c.Name, first.Format("2006-01-02")))
		}
	}
	return len(reasons) > 0, reasons
}

// correlateEWS reads the server's EWS logs for rows from its attackers: the
// back end records the mailbox (AuthenticatedUser) an SSRF request read.
func (h *Hunter) correlateEWS(ctx context.Context, s *serverState) error {
	if len(s.ews) == 0 {
		return nil
	}
	ips := map[string]bool{}
	for ip, a := range s.col.tally.attackers {
		if a.MaxStage.Rank() >= finding.StageExploitation.Rank() {
			ips[ip] = true
		}
	}
	if len(ips) == 0 {
		return nil
	}
	var lits []string
	for ip := range ips {
		lits = append(lits, ip)
	}
	sc := &logs.Scanner{Format: logs.CSV, Prefilter: logs.NewPrefilter(lits), Kind: string(evidence.EWS)}
	for _, f := range s.ews {
		rc, err := f.Open()
		if err != nil {
			continue // already reported as a gap in the first pass
		}
		_, err = sc.Scan(ctx, rc, func(rec *logs.Record) error {
			ip, _ := rec.Field("c-ip")
			user, _ := rec.Field("cs-username")
			if !ips[ip] || user == "" {
				return nil
			}
			m := s.col.tally.mailbox(strings.ToLower(user), rec.Time)
			if m == nil {
				return nil
			}
			m.Requests++
			if st, _ := rec.Field("sc-status"); st == "200" {
				m.Answered = true
			}
			if a, _ := rec.Field("SoapAction"); a != "" && !contains(m.Actions, a) && len(m.Actions) < 20 {
				m.Actions = append(m.Actions, a)
			}
			if !contains(m.Via, "ews-log") {
				m.Via = append(m.Via, "ews-log")
			}
			return nil
		})
		rc.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err
	}
	return nil
}
