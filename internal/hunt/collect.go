package hunt

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// Bounds on the per-server state a hunt keeps, whatever the logs hold: an
// attacker who fills a server's logs with exploit requests must not be able
// to exhaust the defender's memory.
const (
	// maxAttackers is how many client addresses are itemised per server;
	// findings from further addresses still count toward the verdict.
	maxAttackers = 10000
	// maxMailboxes is how many targeted mailboxes are itemised per server.
	maxMailboxes = 10000
	// maxUserAgentLen clips a user agent kept on an attacker.
	maxUserAgentLen = 1024
)

// collector takes every finding of a file or a server. It keeps the first
// max findings per rule in report order (evidence samples, timeline) and
// counts the rest, and folds every finding, kept or not, into the tally, so
// its memory does not grow with the number of matching lines.
type collector struct {
	max     int
	keep    map[string]*sample
	dropped map[string]int64
	tally   tally
}

func newCollector(max int) *collector {
	return &collector{max: max, keep: map[string]*sample{}, dropped: map[string]int64{}, tally: newTally()}
}

// add takes one new finding.
func (c *collector) add(f finding.Finding) {
	c.tally.add(&f)
	c.sample(f)
}

// sample offers f to its rule's samples without tallying it.
func (c *collector) sample(f finding.Finding) {
	s := c.keep[f.Rule]
	if s == nil {
		s = &sample{}
		c.keep[f.Rule] = s
	}
	if len(*s) < c.max {
		heap.Push(s, f)
		return
	}
	// s[0] is the latest kept: f replaces it if it comes earlier
	if findingLess(&f, &(*s)[0]) {
		(*s)[0] = f
		heap.Fix(s, 0)
	}
	c.dropped[f.Rule]++
}

// merge takes another collector's findings (a file's into its server's).
func (c *collector) merge(o *collector) {
	for _, s := range o.keep {
		for _, f := range *s {
			c.sample(f)
		}
	}
	for r, n := range o.dropped {
		c.dropped[r] += n
	}
	c.tally.merge(&o.tally)
}

// findings returns the kept findings of every rule in report order.
func (c *collector) findings() []finding.Finding {
	var out []finding.Finding
	for _, s := range c.keep {
		out = append(out, *s...)
	}
	sortFindings(out)
	return out
}

// each calls fn for every kept finding, which fn may change.
func (c *collector) each(fn func(*finding.Finding)) {
	for _, s := range c.keep {
		for i := range *s {
			fn(&(*s)[i])
		}
	}
}

// kept returns a copy of the kept findings of rule r, for a pass that
// revises them and hands them back with setKept.
func (c *collector) kept(r string) []finding.Finding {
	if s := c.keep[r]; s != nil {
		return slices.Clone(*s)
	}
	return nil
}

// setKept replaces the kept findings of rule r (revised, not new: the
// tally has them already).
func (c *collector) setKept(r string, fs []finding.Finding) {
	if len(fs) == 0 {
		delete(c.keep, r)
		return
	}
	s := sample(fs)
	heap.Init(&s)
	c.keep[r] = &s
}

// sample is a max-heap of one rule's kept findings: the latest in report
// order on top, the one a newer earlier finding displaces.
type sample []finding.Finding

func (s sample) Len() int           { return len(s) }
func (s sample) Less(i, j int) bool { return findingLess(&s[j], &s[i]) }
func (s sample) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *sample) Push(x any)        { *s = append(*s, x.(finding.Finding)) }
func (s *sample) Pop() any {
	old := *s
	f := old[len(old)-1]
	*s = old[:len(old)-1]
	return f
}

// findingLess is the report order: time, file, line, rule.
func findingLess(a, b *finding.Finding) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.Source.File != b.Source.File {
		return a.Source.File < b.Source.File
	}
	if a.Source.Line != b.Source.Line {
		return a.Source.Line < b.Source.Line
	}
	return a.Rule < b.Rule
}

func sortFindings(fs []finding.Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return findingLess(&fs[i], &fs[j]) })
}

// tally is what every finding contributes beyond its sample: the verdict's
// stage, the attackers and the mailboxes named, in state bounded by the
// number of distinct addresses and mailboxes kept.
type tally struct {
	// stage is the highest stage of a finding that is not only supporting;
	// supporting that of supporting ones (see finishFiles).
	stage, supporting finding.Stage
	attackers         map[string]*finding.Attacker
	// moreAttackers counts findings from addresses beyond maxAttackers.
	moreAttackers int64
	mail          map[string]*finding.MailboxAccess
	moreMail      int64
	// unusable counts findings whose client address is not an address
	unusable int64
}

func newTally() tally {
	return tally{attackers: map[string]*finding.Attacker{}, mail: map[string]*finding.MailboxAccess{}}
}

func higher(a, b finding.Stage) finding.Stage {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

func (t *tally) add(f *finding.Finding) {
	if f.Supporting {
		t.supporting = higher(t.supporting, f.Stage)
	} else {
		t.stage = higher(t.stage, f.Stage)
	}
	if unusableClient(f.ClientIP) {
		t.unusable++
	}
	if attackerIP(f.ClientIP, f.Fields["s-ip"]) {
		ip := f.ClientIP
		if a, _ := clientAddr(ip); a.String() != ip {
			ip = a.String() // "192.0.2.1:52113" is 192.0.2.1
		}
		a := t.attacker(ip, f.Stage, f.Time)
		if a == nil {
			t.moreAttackers++
		} else {
			a.Requests++
			seen(&a.FirstSeen, &a.LastSeen, f.Time)
			a.MaxStage = higher(a.MaxStage, f.Stage)
			if ua := clipUA(f.UserAgent); ua != "" && !contains(a.UserAgents, ua) && len(a.UserAgents) < 20 {
				a.UserAgents = append(a.UserAgents, ua)
			}
			for _, ioc := range f.IOCs {
				if !contains(a.IOCs, ioc) && len(a.IOCs) < 20 {
					a.IOCs = append(a.IOCs, ioc)
				}
			}
		}
	}
	if f.Mailbox != "" {
		mb := strings.ToLower(strings.ReplaceAll(f.Mailbox, "%40", "@"))
		m := t.mailbox(mb, f.Time)
		if m == nil {
			return
		}
		m.Requests++
		if f.Stage.Rank() >= finding.StageExploitation.Rank() {
			m.Answered = true
		}
		if !contains(m.Via, f.Rule) && len(m.Via) < 20 {
			m.Via = append(m.Via, f.Rule)
		}
	}
}

// attacker returns the entry for ip, nil when the table is full.
func (t *tally) attacker(ip string, st finding.Stage, at time.Time) *finding.Attacker {
	a := t.attackers[ip]
	if a == nil {
		if len(t.attackers) >= maxAttackers {
			return nil
		}
		a = &finding.Attacker{IP: ip, UserAgents: []string{}, MaxStage: st, FirstSeen: at, LastSeen: at}
		t.attackers[ip] = a
	}
	return a
}

// mailbox returns the entry for mb, seen at t; nil when the table is full.
func (t *tally) mailbox(mb string, at time.Time) *finding.MailboxAccess {
	m := t.mail[mb]
	if m == nil {
		if len(t.mail) >= maxMailboxes {
			t.moreMail++
			return nil
		}
		m = &finding.MailboxAccess{Mailbox: mb, FirstSeen: at, LastSeen: at, Via: []string{}}
		t.mail[mb] = m
	}
	seen(&m.FirstSeen, &m.LastSeen, at)
	return m
}

func (t *tally) merge(o *tally) {
	t.stage = higher(t.stage, o.stage)
	t.supporting = higher(t.supporting, o.supporting)
	for ip, oa := range o.attackers {
		a := t.attacker(ip, oa.MaxStage, oa.FirstSeen)
		if a == nil {
			t.moreAttackers += oa.Requests
			continue
		}
		a.Requests += oa.Requests
		seen(&a.FirstSeen, &a.LastSeen, oa.FirstSeen)
		seen(&a.FirstSeen, &a.LastSeen, oa.LastSeen)
		a.MaxStage = higher(a.MaxStage, oa.MaxStage)
		for _, ua := range oa.UserAgents {
			if !contains(a.UserAgents, ua) && len(a.UserAgents) < 20 {
				a.UserAgents = append(a.UserAgents, ua)
			}
		}
		for _, ioc := range oa.IOCs {
			if !contains(a.IOCs, ioc) && len(a.IOCs) < 20 {
				a.IOCs = append(a.IOCs, ioc)
			}
		}
	}
	t.moreAttackers += o.moreAttackers
	for mb, om := range o.mail {
		m := t.mailbox(mb, om.FirstSeen)
		if m == nil {
			t.moreMail += om.Requests
			continue
		}
		seen(&m.FirstSeen, &m.LastSeen, om.LastSeen)
		m.Requests += om.Requests
		m.Answered = m.Answered || om.Answered
		for _, v := range om.Via {
			if !contains(m.Via, v) && len(m.Via) < 20 {
				m.Via = append(m.Via, v)
			}
		}
		for _, a := range om.Actions {
			if !contains(m.Actions, a) && len(m.Actions) < 20 {
				m.Actions = append(m.Actions, a)
			}
		}
	}
	t.moreMail += o.moreMail
	t.unusable += o.unusable
}

// gaps declares what the tally could not itemise.
func (t *tally) gaps() []finding.Gap {
	var out []finding.Gap
	if t.moreAttackers > 0 {
		out = append(out, finding.Gap{Reason: fmt.Sprintf("%d findings came from client addresses beyond the first %d, which are not listed as attackers (they count toward the verdict)", t.moreAttackers, maxAttackers)})
	}
	if t.moreMail > 0 {
		out = append(out, finding.Gap{Reason: fmt.Sprintf("%d requests named mailboxes beyond the first %d, which are not listed", t.moreMail, maxMailboxes)})
	}
	return out
}

// seen widens [first, last] to hold t; a zero t changes nothing.
func seen(first, last *time.Time, t time.Time) {
	if t.IsZero() {
		return
	}
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

func clipUA(ua string) string {
	if len(ua) <= maxUserAgentLen {
		return ua
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(ua[:maxUserAgentLen], ""), len(ua))
}
