package remedy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
)

// maxListed bounds the findings named in one reason; the rest are counted.
const maxListed = 12

// Plan is the remediation plan for one finished server result: the
// guidance entries its evidence and build call for, in step order, each
// with the findings or facts it follows from. A nil table or guidance
// gives no plan.
func Plan(s *finding.Server, t *exchange.Table, g *Guidance) []finding.Action {
	if s == nil || g == nil {
		return []finding.Action{}
	}
	p := newPlanner(s, t)
	out := []finding.Action{}
	for _, e := range g.Entries {
		if a, ok := p.action(e, g); ok {
			out = append(out, a)
		}
	}
	return out
}

type planner struct {
	s      *finding.Server
	t      *exchange.Table
	active []*finding.Finding // findings that count for the verdict
	build  exchange.Build
	known  bool // the build parsed and the table has its CU
	rel    exchange.Release
	status map[string]finding.ChainStatus
}

func newPlanner(s *finding.Server, t *exchange.Table) *planner {
	p := &planner{s: s, t: t, status: map[string]finding.ChainStatus{}}
	for i := range s.Findings {
		if !s.Findings[i].Supporting {
			p.active = append(p.active, &s.Findings[i])
		}
	}
	if b, ok := exchange.ParseBuild(s.Build.Current); ok && t != nil {
		p.build = b
		p.rel, _, p.known = t.Lookup(b)
		for _, c := range exchange.Chains {
			st, note := t.Status(b, c.Name)
			p.status[c.Name] = finding.ChainStatus{Chain: c.Name, Status: st, Note: note}
		}
	} else {
		for _, c := range s.Build.Chains {
			p.status[c.Chain] = c
		}
	}
	return p
}

// open reports whether the build is, or may be, exposed to a chain.
func (p *planner) open(chain string) bool {
	c, ok := p.status[chain]
	return ok && (exchange.Exposed(c.Status) || c.Status == exchange.StatusUnknown)
}

func (p *planner) chainFact(chain string) string {
	c := p.status[chain]
	f := fmt.Sprintf("build %s: %s %s", p.s.Build.Current, chain, c.Status)
	if c.Note != "" {
		f += " (" + c.Note + ")"
	}
	return f
}

func (p *planner) action(e *Entry, g *Guidance) (finding.Action, bool) {
	var r finding.Reason
	w := e.When
	if len(w.Findings)+len(w.Stages) > 0 {
		hits := p.matching(w.Findings, w.Stages)
		if len(hits) == 0 {
			return finding.Action{}, false
		}
		r.Findings = ruleIDs(hits)
	}
	if e.Step == finding.StepCredentials && len(r.Findings) > 0 {
		r.Facts = append(r.Facts, p.ranAs(w.Findings, w.Stages)...)
	}
	if w.Chain != "" {
		if !p.open(w.Chain) {
			return finding.Action{}, false
		}
		r.Facts = append(r.Facts, p.chainFact(w.Chain))
	}
	if len(w.Verdicts) > 0 {
		if !slices.Contains(w.Verdicts, string(p.s.Verdict)) {
			return finding.Action{}, false
		}
		r.Facts = append(r.Facts, "verdict "+string(p.s.Verdict))
		if len(r.Findings) == 0 {
			r.Findings = ruleIDs(p.atLeast(p.s.Verdict))
		}
	}
	a := finding.Action{Step: e.Step, Urgency: e.Urgency, Title: e.Title, Detail: strings.TrimSpace(e.Text),
		Warning: strings.TrimSpace(e.Warning), Preserve: e.Preserve, Guidance: e.ID}
	for _, s := range e.Sources {
		a.Sources = append(a.Sources, s.String())
	}
	for _, c := range e.Corrections {
		a.Detail += "\n" + c.Date + ": " + c.Change
	}
	switch w.Condition {
	case "inconclusive":
		if !p.s.Inconclusive {
			return finding.Action{}, false
		}
		r.Facts = append(r.Facts, p.s.Reasons...)
		a.Warning = strings.TrimSpace(a.Warning + "\nThe logs do not reach back far enough: " + strings.Join(p.s.Reasons, "; ") + ".")
		if d, chain := p.fetchFrom(); d != "" {
			a.Items = append(a.Items, finding.ActionItem{Kind: "log", Name: "IIS, Exchange and Windows event logs",
				Value: "back to " + d + ", when exploitation of " + chain + " began"})
		}
	case "build-unknown":
		if p.known {
			return finding.Action{}, false
		}
		if p.s.Build.Current == "" {
			r.Facts = append(r.Facts, "no Exchange build in the logs read (no #Version in HttpProxy, Rps or EWS logs)")
		} else {
			r.Facts = append(r.Facts, "build "+p.s.Build.Current+" is not in the build table")
		}
	case "update-available":
		items, facts := p.update()
		if len(items) == 0 {
			return finding.Action{}, false
		}
		a.Items, r.Facts = append(a.Items, items...), append(r.Facts, facts...)
	case "mailboxes-read":
		mbs := p.mailboxesRead()
		if len(mbs) == 0 {
			return finding.Action{}, false
		}
	case "always":
		r.Facts = append(r.Facts, p.coverageFact())
	}
	switch e.Items {
	case "files":
		a.Items = append(a.Items, p.files(e, g)...)
		if len(a.Items) == 0 {
			return finding.Action{}, false
		}
		r.Findings = itemFindings(a.Items)
	case "vdirs":
		a.Items = append(a.Items, p.vdirs(e)...)
	case "export-requests":
		a.Items = append(a.Items, p.exportRequests(e)...)
	case "role-assignments":
		a.Items = append(a.Items, p.roleAssignments(e)...)
	case "mailboxes":
		for _, m := range p.mailboxesRead() {
			a.Items = append(a.Items, finding.ActionItem{Kind: "mailbox", Name: m.Mailbox,
				Value: mailboxValue(m), Findings: m.Via})
			for _, v := range m.Via {
				if v == "ews-log" {
					r.Facts = appendUniq(r.Facts, "mailbox "+m.Mailbox+" read: the back-end EWS log shows the attackers' requests answered")
				} else {
					r.Findings = appendUniq(r.Findings, v)
				}
			}
		}
	case "logs":
		for _, c := range p.s.Coverage {
			if c.First.IsZero() {
				continue
			}
			a.Items = append(a.Items, finding.ActionItem{Kind: "log", Name: c.Source,
				Value: fmt.Sprintf("%s to %s, %d files", day(c.First), day(c.Last), c.Files)})
		}
	}
	if len(r.Findings) > maxListed {
		r.Facts = append(r.Facts, fmt.Sprintf("and %d more finding kinds", len(r.Findings)-maxListed))
		r.Findings = r.Findings[:maxListed]
	}
	a.Reason = r
	if r.Empty() {
		// every action follows from something; guidance that names
		// nothing on this server does not apply
		return finding.Action{}, false
	}
	return a, true
}

// matching returns the active findings of the given rules or stages.
func (p *planner) matching(rules, stages []string) []*finding.Finding {
	var out []*finding.Finding
	for _, f := range p.active {
		if ok, _ := matches(rules, f.Rule); ok || slices.Contains(stages, string(f.Stage)) {
			out = append(out, f)
		}
	}
	return out
}

// ranAs names the accounts the matched process findings ran as.
func (p *planner) ranAs(rules, stages []string) []string {
	var users []string
	for _, f := range p.matching(rules, stages) {
		if u := f.Fields["User"]; u != "" && len(users) < 5 {
			users = appendUniq(users, u)
		}
	}
	if len(users) == 0 {
		return nil
	}
	return []string{"processes ran as " + strings.Join(users, ", ")}
}

// atLeast returns the findings whose stage alone implies verdict v or more.
func (p *planner) atLeast(v finding.Verdict) []*finding.Finding {
	var out []*finding.Finding
	for _, f := range p.active {
		if f.Stage.Verdict().Rank() >= v.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func ruleIDs(fs []*finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = appendUniq(out, f.Rule)
	}
	sort.Strings(out)
	return out
}

func appendUniq(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func (p *planner) coverageFact() string {
	var first, last time.Time
	n := 0
	for _, c := range p.s.Coverage {
		if c.First.IsZero() {
			continue
		}
		n++
		if first.IsZero() || c.First.Before(first) {
			first = c.First
		}
		if c.Last.After(last) {
			last = c.Last
		}
	}
	if n == 0 {
		return "no log records with timestamps were read"
	}
	return fmt.Sprintf("evidence covers %s to %s (%d sources)", day(first), day(last), n)
}

// fetchFrom is the day older logs must reach back to: the start of
// exploitation of the earliest chain the first build seen was open to.
func (p *planner) fetchFrom() (string, string) {
	b, ok := exchange.ParseBuild(firstBuild(p.s))
	var from time.Time
	chain := ""
	for _, c := range exchange.Chains {
		exposed := !ok
		if ok && p.t != nil {
			st, _ := p.t.Status(b, c.Name)
			exposed = exchange.Exposed(st) || st == exchange.StatusUnknown
		}
		if exposed && (from.IsZero() || c.Start.Before(from)) {
			from, chain = c.Start, c.Name
		}
	}
	if from.IsZero() {
		return "", ""
	}
	return day(from), chain
}

func firstBuild(s *finding.Server) string {
	if len(s.Build.Seen) > 0 {
		return s.Build.Seen[0].Build
	}
	return s.Build.Current
}

func (p *planner) mailboxesRead() []finding.MailboxAccess {
	var out []finding.MailboxAccess
	for _, m := range p.s.MailboxesAccessed {
		if m.Answered {
			out = append(out, m)
		}
	}
	return out
}

func mailboxValue(m finding.MailboxAccess) string {
	v := fmt.Sprintf("%d requests", m.Requests)
	if !m.FirstSeen.IsZero() {
		v += ", " + m.FirstSeen.UTC().Format(time.RFC3339) + " to " + m.LastSeen.UTC().Format(time.RFC3339)
	}
	if len(m.Actions) > 0 {
		v += ", " + strings.Join(m.Actions, ", ")
	}
	return v
}

// files lists, once each, the files the entry's findings name, leaving
// out those an earlier entry of the plan claims (a dump is listed as a
// dump, not again as a web shell).
func (p *planner) files(e *Entry, g *Guidance) []finding.ActionItem {
	type file struct {
		item  finding.ActionItem
		rules []string
	}
	byPath := map[string]*file{}
	var order []string
	add := func(path, sha, rule, value string) {
		key := strings.ToLower(path)
		f := byPath[key]
		if f == nil {
			f = &file{item: finding.ActionItem{Kind: "file", Name: path}}
			byPath[key] = f
			order = append(order, key)
		}
		if f.item.SHA256 == "" {
			f.item.SHA256 = sha
		}
		if value != "" && f.item.Value == "" {
			f.item.Value = value
		}
		f.rules = appendUniq(f.rules, rule)
	}
	for _, f := range p.active {
		if f.File == nil || f.File.Path == "" {
			continue
		}
		value := ""
		if res := f.Fields["resources"]; res != "" {
			// a scanner log: what it found, where, and what it did
			value = strings.TrimSpace(f.Outcome + " in " + res + ", " + f.Fields["status"])
		}
		add(f.File.Path, f.File.SHA256, f.Rule, value)
		continue
	}
	var out []finding.ActionItem
	for _, key := range order {
		f := byPath[key]
		if p.owner(f.rules, g) != e {
			continue
		}
		var mine []string
		for _, r := range f.rules {
			if ok, _ := matches(e.When.Findings, r); ok {
				mine = append(mine, r)
			}
		}
		f.item.Findings = mine
		out = append(out, f.item)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// owner is the file-listing entry a file belongs to: among those whose
// findings name one of its rules, exact ids before prefixes, then the
// lowest order.
func (p *planner) owner(rules []string, g *Guidance) *Entry {
	var best *Entry
	bestExact := false
	for _, e := range g.Entries {
		if e.Items != "files" {
			continue
		}
		hit, exact := false, false
		for _, r := range rules {
			ok, ex := matches(e.When.Findings, r)
			hit = hit || ok
			exact = exact || ex
		}
		if !hit {
			continue
		}
		if best == nil || (exact && !bestExact) || (exact == bestExact && entryLess(e, best)) {
			best, bestExact = e, exact
		}
	}
	return best
}

var (
	reIdentity    = regexp.MustCompile(`(?i)(?:\.Identity='([^']*)'|-Identity\s+"([^"]*)"|-Identity\s+'([^']*)')`)
	reExternalURL = regexp.MustCompile(`(?is)(?:(\w+VirtualDirectory)\.(\w*Url)='(.*?)'(?:\.\w+=|;S:|$)|-(\w*Url)\s+"(.*)"\s*$)`)
	reCmdletVdir  = regexp.MustCompile(`(?i)Set-(\w+VirtualDirectory)`)
	reParam       = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?i)-` + name + `\s+(?:'([^']*)'|"([^"]*)"|(\S+))`)
	}
	reMailboxParam = reParam("Mailbox")
	reFilePath     = reParam("FilePath")
	reUserParam    = reParam("User")
	reIdentParam   = reParam("Identity")
)

func firstGroup(m []string) string {
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

// fieldText joins a finding's evidence fields in a fixed order.
func fieldText(f *finding.Finding) string {
	keys := make([]string, 0, len(f.Fields))
	for k := range f.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(f.Fields[k])
		b.WriteByte('\n')
	}
	return b.String()
}

// vdirs lists each rewritten virtual directory once, with the URL value
// the evidence shows.
func (p *planner) vdirs(e *Entry) []finding.ActionItem {
	var out []finding.ActionItem
	var unnamed []string // findings that show a reset but not which directory
	idx := map[string]int{}
	for _, f := range p.matching(e.When.Findings, nil) {
		text := fieldText(f)
		name := ""
		if m := reIdentity.FindStringSubmatch(text); m != nil {
			name = firstGroup(m)
		}
		kind, value := "", ""
		for _, line := range strings.Split(text, "\n") {
			if m := reExternalURL.FindStringSubmatch(line); m != nil {
				if m[1] != "" {
					kind, value = m[1]+" "+m[2], m[3]
				} else {
					value = m[5]
					kind = m[4]
					if c := reCmdletVdir.FindStringSubmatch(text); c != nil {
						kind = c[1] + " " + m[4]
					}
				}
				break
			}
		}
		if name == "" {
			unnamed = appendUniq(unnamed, f.Rule)
			continue
		}
		key := strings.ToLower(name)
		i, seen := idx[key]
		if !seen {
			idx[key] = len(out)
			out = append(out, finding.ActionItem{Kind: "vdir", Name: name})
			i = len(out) - 1
		}
		it := &out[i]
		if value != "" && it.Value == "" {
			it.Value = strings.TrimSpace(kind + " = " + value)
		}
		it.Findings = appendUniq(it.Findings, f.Rule)
	}
	if len(unnamed) > 0 && len(out) == 0 {
		out = append(out, finding.ActionItem{Kind: "vdir", Name: "OAB virtual directory (identity not in the evidence)"})
	}
	for _, r := range unnamed {
		out[0].Findings = appendUniq(out[0].Findings, r)
	}
	return out
}

func (p *planner) exportRequests(e *Entry) []finding.ActionItem {
	var out []finding.ActionItem
	for _, f := range p.matching(e.When.Findings, nil) {
		text := f.Fields["Parameters"]
		if text == "" {
			text = fieldText(f)
		}
		if f.Rule == "remove-mailbox-export" {
			name := ""
			if m := reIdentParam.FindStringSubmatch(text); m != nil {
				name = firstGroup(m)
			}
			out = append(out, finding.ActionItem{Kind: "export-request", Name: name,
				Value: "removed by the attacker; check that no other export request remains", Findings: []string{f.Rule}})
			continue
		}
		name, v := "", "exported"
		if m := reMailboxParam.FindStringSubmatch(text); m != nil {
			name = firstGroup(m)
		}
		if m := reFilePath.FindStringSubmatch(text); m != nil {
			v += " to " + firstGroup(m)
		}
		out = append(out, finding.ActionItem{Kind: "export-request", Name: name, Value: v, Findings: []string{f.Rule}})
	}
	return dedupeItems(out)
}

func (p *planner) roleAssignments(e *Entry) []finding.ActionItem {
	var out []finding.ActionItem
	for _, f := range p.matching(e.When.Findings, nil) {
		text := f.Fields["Parameters"]
		if text == "" {
			text = fieldText(f)
		}
		user := ""
		if m := reUserParam.FindStringSubmatch(text); m != nil {
			user = firstGroup(m)
		}
		if user == "" {
			user = "(assignee not in the evidence)"
		}
		out = append(out, finding.ActionItem{Kind: "role-assignment", Name: user, Value: "Mailbox Import Export", Findings: []string{f.Rule}})
	}
	return dedupeItems(out)
}

// dedupeItems merges items with the same kind, name and value (a cmdlet in
// both the Rps log and the event log).
func dedupeItems(items []finding.ActionItem) []finding.ActionItem {
	var out []finding.ActionItem
	idx := map[string]int{}
	for _, it := range items {
		key := it.Kind + "\x00" + strings.ToLower(it.Name) + "\x00" + strings.ToLower(it.Value)
		if i, ok := idx[key]; ok {
			for _, r := range it.Findings {
				out[i].Findings = appendUniq(out[i].Findings, r)
			}
			continue
		}
		idx[key] = len(out)
		out = append(out, it)
	}
	return out
}

func itemFindings(items []finding.ActionItem) []string {
	var out []string
	for _, it := range items {
		for _, r := range it.Findings {
			out = appendUniq(out, r)
		}
	}
	sort.Strings(out)
	return out
}
