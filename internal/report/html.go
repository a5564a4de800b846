package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/finding"
)

// The page is one template, one stylesheet and one script, embedded so the
// report is a single file that needs no network to be read.
//
//go:embed html
var htmlFiles embed.FS

var (
	htmlStyle  = htmlAsset("html/report.css")
	htmlScript = htmlAsset("html/report.js")
	// htmlCSP allows exactly the page's own inline style and script, by hash:
	// evidence is attacker-written, so even if something slipped past the
	// escaping it could neither run nor load anything. Trusted Types make any
	// string-to-HTML sink (innerHTML and the like) throw in browsers that
	// support them; the script uses none.
	htmlCSP = "default-src 'none'; script-src '" + htmlCSPHash(htmlScript) + "'; style-src '" + htmlCSPHash(htmlStyle) +
		"'; img-src data:; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
	htmlTmpl = template.Must(template.New("report.tmpl").Funcs(template.FuncMap{"n": htmlThousands}).
			ParseFS(htmlFiles, "html/report.tmpl"))
)

func htmlAsset(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// htmlCSPHash is the CSP source expression for an inline element whose text is s.
func htmlCSPHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// HTML writes a self-contained report: fleet summary, a timeline of findings
// per server, one card per server (worst first) and the evidence table.
// Every string taken from the result is treated as attacker-controlled.
func HTML(w io.Writer, r *finding.Result) error {
	return htmlTmpl.Execute(w, newHTMLPage(r))
}

// Limits that keep the page usable on a noisy fleet; the JSON output has
// everything.
const (
	htmlMaxText = 4096 // bytes of one evidence string
	htmlMaxGaps = 10   // gaps listed per server
)

// visText makes attacker-chosen text safe to read. html/template makes it
// safe to render, but control, format (bidi overrides, zero-width) and line-separator
// characters would still be invisible or reorder what the analyst sees, as
// in a file name spoofed with U+202E. They are shown as escapes instead.
func visText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	cut := 0
	if len(s) > htmlMaxText {
		i := htmlMaxText
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		cut, s = len(s)-i, s[:i]
	}
	if strings.ContainsFunc(s, htmlHiddenRune) {
		var b strings.Builder
		for _, c := range s {
			switch {
			case !htmlHiddenRune(c):
				b.WriteRune(c)
			case c < 0x80:
				fmt.Fprintf(&b, `\x%02x`, c)
			case c <= 0xffff:
				fmt.Fprintf(&b, `\u%04x`, c)
			default:
				fmt.Fprintf(&b, `\U%08x`, c)
			}
		}
		s = b.String()
	}
	if cut > 0 {
		s += fmt.Sprintf("… [%d more bytes]", cut)
	}
	return s
}

func htmlHiddenRune(c rune) bool {
	return unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp)
}

func visTexts(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, visText(s))
	}
	return out
}

func htmlTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// htmlTimeKey sorts like the time it stands for; undated rows sort last.
func htmlTimeKey(t time.Time) string {
	if t.IsZero() {
		return "~"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000")
}

// htmlThousands groups digits: record and request counts run into millions.
func htmlThousands(v any) string {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func htmlBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Class names come from fixed sets, never from the result: a saved JSON run
// may have been edited.
func htmlVerdictClass(v finding.Verdict) string {
	if v.Valid() {
		return "v-" + string(v)
	}
	return "v-unknown"
}

func htmlStageClass(s finding.Stage) string {
	if s.Valid() {
		return "s-" + string(s)
	}
	return "s-unknown"
}

func htmlSeverityClass(s finding.Severity) string {
	if s.Valid() {
		return "sev-" + string(s)
	}
	return "sev-unknown"
}

func htmlChainClass(status string) string {
	switch status {
	case "vulnerable":
		return "cs-bad"
	case "partial":
		return "cs-warn"
	case "patched", "not-affected":
		return "cs-ok"
	}
	return "cs-unknown"
}

var (
	htmlVerdictOrder = []finding.Verdict{finding.VerdictExploited, finding.VerdictCompromised,
		finding.VerdictAttempted, finding.VerdictProbed, finding.VerdictClean}
	htmlStageOrder = []finding.Stage{finding.StageReconnaissance, finding.StageAttempt, finding.StageExploitation,
		finding.StagePersistence, finding.StageCollection, finding.StageExecution}
)

// htmlExposed reports whether the server's current build is open to any chain.
func htmlExposed(s *finding.Server) bool {
	for _, c := range s.Build.Chains {
		if c.Status == "vulnerable" || c.Status == "partial" {
			return true
		}
	}
	return false
}

// The view model: everything the template shows, already made visible-safe
// and formatted, so the template only places strings.
type htmlPage struct {
	CSP    string
	Style  template.CSS // the embedded stylesheet, never data
	Script template.JS  // the embedded script, never data

	Tool, Version, Started, Duration string
	Roots                            []string
	Rules, Schema                    int

	Worst        string
	WorstClass   string
	Total        int
	Counts       []htmlVerdictCount
	Exposed      int
	Breached     int
	Inconclusive int
	Findings     int
	Undated      int

	Servers []htmlServer
	Stages  []htmlStageCount
	Chart   htmlChart
	Rows    []htmlRow
	Gaps    []string
}

type htmlVerdictCount struct {
	Verdict, Class string
	N              int
}

type htmlStageCount struct {
	Stage, Class string
	N            int
}

type htmlServer struct {
	Anchor, Name, Verdict, Class string
	Inconclusive, Exposed        bool
	ExposedTo                    []string
	LogsFrom, LogsTo             string
	Reasons                      []string
	Current                      string
	Seen                         []htmlBuild
	Changes                      []string
	Chains                       []htmlChain
	Coverage                     []htmlCoverage
	Gaps                         []string
	GapsTotal, GapsMore          int
	Attackers                    []htmlAttacker
	Mailboxes                    []htmlMailbox
	Suppressed                   []htmlSuppressed
	SuppressedTotal              int64
	Findings                     int
	Stages                       []htmlStageCount
	Plan                         []htmlAction
	Unusable                     int64
}

type htmlBuild struct{ Build, Release, First, Last, Source string }

type htmlChain struct{ Chain, Status, Class, Note string }

type htmlCoverage struct {
	Source, First, Last, Bytes string
	Files, Skipped             int
	Records                    int64
}

type htmlAttacker struct {
	IP, First, Last, Stage, Class string
	UserAgents, IOCs              []string
	Requests                      int64
}

type htmlMailbox struct {
	Mailbox, First, Last string
	Answered             bool
	Requests             int64
	Actions, Via         []string
}

type htmlSuppressed struct {
	Rule  string
	Count int64
}

type htmlRow struct {
	Time, TimeKey, Server      string
	Stage, StageClass          string
	StageKey                   int
	Severity, SeverityClass    string
	Rule, Chain, CVEs          string
	Title, Outcome             string
	Source, Kind, SourceKey    string
	IP, UserAgent, Mailbox     string
	Fields                     []htmlField
	IOCs                       []string
	sortTime                   time.Time
	sortServer, sortSourceFile string
	sortLine                   int64
}

type htmlField struct{ Key, Value string }

func newHTMLPage(r *finding.Result) *htmlPage {
	p := &htmlPage{
		CSP: htmlCSP, Style: template.CSS(htmlStyle), Script: template.JS(htmlScript),
		Tool: visText(r.Tool), Version: visText(r.Version), Started: htmlTime(r.StartedAt),
		Duration: htmlDuration(r.DurationMS), Roots: visTexts(r.Roots),
		Rules: r.Rules, Schema: r.SchemaVersion, Total: len(r.Servers),
	}
	if p.Tool == "" {
		p.Tool = "exhunt"
	}
	worst := r.Worst()
	p.Worst, p.WorstClass = string(worst), htmlVerdictClass(worst)

	servers := make([]*finding.Server, len(r.Servers))
	for i := range r.Servers {
		servers[i] = &r.Servers[i]
	}
	sort.SliceStable(servers, func(i, j int) bool {
		a, b := servers[i], servers[j]
		if a.Verdict.Rank() != b.Verdict.Rank() {
			return a.Verdict.Rank() > b.Verdict.Rank()
		}
		if len(a.Findings) != len(b.Findings) {
			return len(a.Findings) > len(b.Findings)
		}
		return a.Name < b.Name
	})

	counts := map[finding.Verdict]int{}
	stages := map[finding.Stage]int{}
	for i, s := range servers {
		counts[s.Verdict]++
		if s.Inconclusive {
			p.Inconclusive++
		}
		if htmlExposed(s) {
			p.Exposed++
		}
		if s.Verdict.Rank() >= finding.VerdictCompromised.Rank() {
			p.Breached++
		}
		p.Servers = append(p.Servers, newHTMLServer(i, s))
		for j := range s.Findings {
			f := &s.Findings[j]
			stages[f.Stage]++
			p.Rows = append(p.Rows, newHTMLRow(s.Name, f))
			if f.Time.IsZero() {
				p.Undated++
			}
		}
	}
	for _, v := range htmlVerdictOrder {
		p.Counts = append(p.Counts, htmlVerdictCount{Verdict: string(v), Class: htmlVerdictClass(v), N: counts[v]})
	}
	p.Stages = htmlStageCounts(stages)
	p.Findings = len(p.Rows)
	// Chronological, so the table reads as the attack unfolded.
	sort.SliceStable(p.Rows, func(i, j int) bool {
		a, b := &p.Rows[i], &p.Rows[j]
		switch {
		case a.sortTime.IsZero() != b.sortTime.IsZero():
			return b.sortTime.IsZero()
		case !a.sortTime.Equal(b.sortTime):
			return a.sortTime.Before(b.sortTime)
		case a.sortServer != b.sortServer:
			return a.sortServer < b.sortServer
		case a.sortSourceFile != b.sortSourceFile:
			return a.sortSourceFile < b.sortSourceFile
		}
		return a.sortLine < b.sortLine
	})
	for _, g := range r.Gaps {
		p.Gaps = append(p.Gaps, visText(g.String()))
	}
	p.Chart = newHTMLChart(servers)
	return p
}

func htmlStageCounts(m map[finding.Stage]int) []htmlStageCount {
	var out []htmlStageCount
	for _, st := range htmlStageOrder {
		if m[st] > 0 {
			out = append(out, htmlStageCount{Stage: string(st), Class: htmlStageClass(st), N: m[st]})
		}
	}
	// Stages a tampered or newer result may carry still get counted.
	var other []string
	for st := range m {
		if !st.Valid() {
			other = append(other, string(st))
		}
	}
	slices.Sort(other)
	for _, st := range other {
		out = append(out, htmlStageCount{Stage: visText(st), Class: "s-unknown", N: m[finding.Stage(st)]})
	}
	return out
}

func htmlDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	return d.String()
}

func newHTMLServer(i int, s *finding.Server) htmlServer {
	v := htmlServer{
		Anchor: "server-" + strconv.Itoa(i+1), Name: visText(s.Name), Verdict: visText(string(s.Verdict)),
		Class: htmlVerdictClass(s.Verdict), Inconclusive: s.Inconclusive, Exposed: htmlExposed(s),
		Reasons: visTexts(s.Reasons), Current: visText(s.Build.Current), Changes: visTexts(s.Build.Changes),
		Findings: len(s.Findings), GapsTotal: len(s.Gaps),
	}
	for _, b := range s.Build.Seen {
		v.Seen = append(v.Seen, htmlBuild{Build: visText(b.Build), Release: visText(strings.TrimSpace(b.Product + " " + b.Update)),
			First: htmlTime(b.First), Last: htmlTime(b.Last), Source: visText(b.Source)})
	}
	for _, c := range s.Build.Chains {
		if c.Status == "vulnerable" || c.Status == "partial" {
			v.ExposedTo = append(v.ExposedTo, visText(c.Chain))
		}
		v.Chains = append(v.Chains, htmlChain{Chain: visText(c.Chain), Status: visText(c.Status), Class: htmlChainClass(c.Status), Note: visText(c.Note)})
	}
	var from, to time.Time
	for _, c := range s.Coverage {
		if !c.First.IsZero() && (from.IsZero() || c.First.Before(from)) {
			from = c.First
		}
		to = htmlMaxTime(to, c.Last)
		v.Coverage = append(v.Coverage, htmlCoverage{Source: visText(c.Source), First: htmlTime(c.First), Last: htmlTime(c.Last),
			Bytes: htmlBytes(c.Bytes), Files: c.Files, Skipped: c.Skipped, Records: c.Lines})
	}
	v.LogsFrom, v.LogsTo = htmlTime(from), htmlTime(to)
	gaps := slices.Clone(s.Gaps)
	sort.SliceStable(gaps, func(i, j int) bool { return gaps[i].File < gaps[j].File })
	for _, g := range gaps[:min(len(gaps), htmlMaxGaps)] {
		v.Gaps = append(v.Gaps, visText(g.String()))
	}
	v.GapsMore = len(gaps) - len(v.Gaps)
	for _, a := range s.Attackers {
		v.Attackers = append(v.Attackers, htmlAttacker{IP: visText(a.IP), First: htmlTime(a.FirstSeen), Last: htmlTime(a.LastSeen),
			Stage: visText(string(a.MaxStage)), Class: htmlStageClass(a.MaxStage), UserAgents: visTexts(a.UserAgents),
			IOCs: visTexts(a.IOCs), Requests: a.Requests})
	}
	for _, m := range s.MailboxesAccessed {
		v.Mailboxes = append(v.Mailboxes, htmlMailbox{Mailbox: visText(m.Mailbox), First: htmlTime(m.FirstSeen), Last: htmlTime(m.LastSeen),
			Answered: m.Answered, Requests: m.Requests, Actions: visTexts(m.Actions), Via: visTexts(m.Via)})
	}
	for _, c := range s.Suppressed {
		v.Suppressed = append(v.Suppressed, htmlSuppressed{Rule: visText(c.Rule), Count: c.Count})
		v.SuppressedTotal += c.Count
	}
	stages := map[finding.Stage]int{}
	for _, f := range s.Findings {
		stages[f.Stage]++
	}
	v.Stages = htmlStageCounts(stages)
	v.Plan, v.Unusable = htmlPlan(s), s.UnusableClientAddresses
	return v
}

func newHTMLRow(server string, f *finding.Finding) htmlRow {
	rw := htmlRow{
		Time: htmlTime(f.Time), TimeKey: htmlTimeKey(f.Time), Server: visText(server),
		Stage: visText(string(f.Stage)), StageClass: htmlStageClass(f.Stage),
		// Sorts by stage, then severity; unknown values rank lowest.
		StageKey: (f.Stage.Rank()+1)*10 + f.Severity.Rank() + 1,
		Severity: visText(string(f.Severity)), SeverityClass: htmlSeverityClass(f.Severity),
		Rule: visText(f.Rule), Chain: visText(f.Chain), CVEs: visText(strings.Join(f.CVEs, ", ")),
		Title: visText(f.Title), Outcome: visText(f.Outcome),
		Source: visText(f.Source.String()), Kind: visText(f.Source.Kind),
		SourceKey: fmt.Sprintf("%s:%012d", visText(f.Source.File), f.Source.Line),
		IP:        visText(f.ClientIP), UserAgent: visText(f.UserAgent), Mailbox: visText(f.Mailbox), IOCs: visTexts(f.IOCs),
		sortTime: f.Time, sortServer: server, sortSourceFile: f.Source.File, sortLine: f.Source.Line,
	}
	keys := make([]string, 0, len(f.Fields))
	for k := range f.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rw.Fields = append(rw.Fields, htmlField{Key: visText(k), Value: visText(f.Fields[k])})
	}
	return rw
}

// The timeline is inline SVG drawn here rather than by the script, so it
// shows without script and its text is escaped by html/template like the
// rest of the page. Geometry is in viewBox units.
const (
	chartW           = 1200
	chartLabelW      = 200 // server names
	chartRight       = 16
	chartTop         = 4
	chartStageStep   = 7 // one row per stage inside a lane, execution on top
	chartLaneH       = 6*chartStageStep + 10
	chartAxisH       = 30
	chartColW        = 3  // findings sharing a column, lane and stage are drawn as one mark
	chartBreakW      = 20 // room for an axis break
	chartTickSpacing = 90 // least room between tick labels
	chartMaxSegments = 6
)

type htmlChart struct {
	Width, Height, PlotX, PlotW, AxisY, LabelY int
	Lanes                                      []htmlLane
	Ticks                                      []htmlTick
	Axis                                       []htmlAxisPiece
	Breaks                                     []int
	Dated, Marks                               int
}

type htmlLane struct {
	Server, Label, Title, Class, Note string
	Y, MidY, TextY, H, CovY, CovH     int
	Odd                               bool
	Coverage                          []htmlBand
	Builds                            []htmlBuildMark
	Marks                             []htmlMark
}

type htmlBand struct {
	X, W  int
	Title string
}

type htmlBuildMark struct {
	X     int
	Title string
}

type htmlMark struct {
	X, Y, W, H          int
	Stage, Class, Title string
}

type htmlTick struct {
	X     int
	Label string
}

type htmlAxisPiece struct{ X, X2 int }

// timeSegment is a stretch of time drawn linearly. The axis is broken between
// segments when nothing happened for long: one run often holds servers whose
// logs are months apart, and a linear axis would squeeze each into a sliver.
type timeSegment struct {
	from, to time.Time
	x, w     int
}

type htmlTimeScale []timeSegment

// x places t; times outside every segment (not part of the domain) are not drawn.
func (sc htmlTimeScale) x(t time.Time) (int, bool) {
	for _, s := range sc {
		if t.Before(s.from) || t.After(s.to) {
			continue
		}
		f := float64(t.Sub(s.from)) / float64(s.to.Sub(s.from))
		return s.x + int(f*float64(s.w-1)), true
	}
	return 0, false
}

type timeInterval struct{ from, to time.Time }

func mergeTimeIntervals(iv []timeInterval) []timeInterval {
	slices.SortFunc(iv, func(a, b timeInterval) int { return a.from.Compare(b.from) })
	var out []timeInterval
	for _, i := range iv {
		if n := len(out); n > 0 && !i.from.After(out[n-1].to) {
			if i.to.After(out[n-1].to) {
				out[n-1].to = i.to
			}
			continue
		}
		out = append(out, i)
	}
	return out
}

// htmlEventTimes are what the timeline is about: findings and build changes.
func htmlEventTimes(s *finding.Server) []timeInterval {
	var iv []timeInterval
	for _, f := range s.Findings {
		if !f.Time.IsZero() {
			iv = append(iv, timeInterval{f.Time, f.Time})
		}
	}
	for i, b := range s.Build.Seen {
		if i > 0 && !b.First.IsZero() {
			iv = append(iv, timeInterval{b.First, b.First})
		}
	}
	return iv
}

func htmlCoverageIntervals(s *finding.Server) []timeInterval {
	var iv []timeInterval
	for _, c := range s.Coverage {
		from, to := c.First, c.Last
		if from.IsZero() || to.Before(from) {
			from = to
		}
		if to.IsZero() {
			to = from
		}
		if !from.IsZero() {
			iv = append(iv, timeInterval{from, to})
		}
	}
	return mergeTimeIntervals(iv)
}

// newHTMLTimeScale splits the domain where nothing happens for a tenth of
// the whole span and at least a week, keeping at most chartMaxSegments pieces.
func newHTMLTimeScale(iv []timeInterval, x, w int) htmlTimeScale {
	merged := mergeTimeIntervals(iv)
	if len(merged) == 0 {
		return nil
	}
	minGap := max(merged[len(merged)-1].to.Sub(merged[0].from)/10, 7*24*time.Hour)
	segs := []timeInterval{merged[0]}
	for _, m := range merged[1:] {
		if last := &segs[len(segs)-1]; m.from.Sub(last.to) <= minGap {
			last.to = m.to
		} else {
			segs = append(segs, m)
		}
	}
	for len(segs) > chartMaxSegments {
		best := 0
		for i := 1; i < len(segs)-1; i++ {
			if segs[i+1].from.Sub(segs[i].to) < segs[best+1].from.Sub(segs[best].to) {
				best = i
			}
		}
		segs[best].to = segs[best+1].to
		segs = slices.Delete(segs, best+1, best+2)
	}
	var total time.Duration
	for i := range segs {
		pad := max(segs[i].to.Sub(segs[i].from)/25, time.Hour)
		segs[i].from, segs[i].to = segs[i].from.Add(-pad), segs[i].to.Add(pad)
		total += segs[i].to.Sub(segs[i].from)
	}
	// Half the width is shared equally, half by duration: short bursts stay
	// legible next to a long stretch.
	n := len(segs)
	avail := float64(w - (n-1)*chartBreakW)
	sc := make(htmlTimeScale, n)
	pos := x
	for i, s := range segs {
		sw := int(avail * (0.5/float64(n) + 0.5*float64(s.to.Sub(s.from))/float64(total)))
		if i == n-1 {
			sw = x + w - pos
		}
		sc[i] = timeSegment{from: s.from, to: s.to, x: pos, w: sw}
		pos += sw + chartBreakW
	}
	return sc
}

var htmlTickSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour}

// ticks gives calendar-aligned UTC tick times for one segment.
func (s timeSegment) ticks() ([]time.Time, string) {
	most := max(1, s.w/chartTickSpacing)
	span := s.to.Sub(s.from)
	for _, st := range htmlTickSteps {
		if span/st > time.Duration(most) {
			continue
		}
		layout := "2006-01-02"
		if st < 24*time.Hour {
			layout = "01-02 15:04"
		}
		var ts []time.Time
		// Truncate counts from the zero time, a UTC midnight and a Monday.
		for t := s.from.Truncate(st); !t.After(s.to); t = t.Add(st) {
			if !t.Before(s.from) {
				ts = append(ts, t)
			}
		}
		return ts, layout
	}
	y0, y1 := s.from.Year(), s.to.Year()
	for _, months := range []int{1, 3, 6} {
		if ((y1-y0)*12+int(s.to.Month())-int(s.from.Month()))/months > most {
			continue
		}
		var ts []time.Time
		for t := time.Date(y0, 1, 1, 0, 0, 0, 0, time.UTC); !t.After(s.to); t = t.AddDate(0, months, 0) {
			if !t.Before(s.from) {
				ts = append(ts, t)
			}
		}
		return ts, "2006-01"
	}
	years := max(1, (y1-y0+most-1)/most)
	var ts []time.Time
	for y := y0 - y0%years; y <= y1; y += years {
		if t := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); !t.Before(s.from) && !t.After(s.to) {
			ts = append(ts, t)
		}
	}
	return ts, "2006"
}

func newHTMLChart(servers []*finding.Server) htmlChart {
	c := htmlChart{Width: chartW, PlotX: chartLabelW, PlotW: chartW - chartLabelW - chartRight}
	c.AxisY = chartTop + len(servers)*chartLaneH + 4
	c.LabelY = c.AxisY + 16
	c.Height = c.AxisY + chartAxisH
	// The axis spans the findings; coverage is drawn as context within it.
	// Only a fleet without dated findings is drawn over its coverage, so
	// that a clean run still shows which days its logs covered.
	var iv []timeInterval
	for _, s := range servers {
		iv = append(iv, htmlEventTimes(s)...)
	}
	if len(iv) == 0 {
		for _, s := range servers {
			iv = append(iv, htmlCoverageIntervals(s)...)
		}
	}
	sc := newHTMLTimeScale(iv, c.PlotX, c.PlotW)
	lastLabel := -chartTickSpacing
	for i, seg := range sc {
		c.Axis = append(c.Axis, htmlAxisPiece{seg.x, seg.x + seg.w})
		if i > 0 {
			c.Breaks = append(c.Breaks, seg.x-chartBreakW/2)
		}
		ts, layout := seg.ticks()
		if len(ts) == 0 { // a segment narrower than one step still gets a date
			mid := seg.from.Add(seg.to.Sub(seg.from) / 2)
			ts, layout = []time.Time{mid}, "2006-01-02"
		}
		first := true
		for _, t := range ts {
			x, _ := sc.x(t)
			if x-lastLabel < chartTickSpacing*3/4 || x > chartW-36 {
				continue
			}
			lastLabel = x
			l := layout
			if first && l == "01-02 15:04" { // the year matters after a break
				l = "2006-01-02 15:04"
			}
			first = false
			c.Ticks = append(c.Ticks, htmlTick{X: x, Label: t.UTC().Format(l)})
		}
	}
	for i, s := range servers {
		c.Lanes = append(c.Lanes, c.newLane(i, s, sc))
	}
	return c
}

func (c *htmlChart) newLane(i int, s *finding.Server, sc htmlTimeScale) htmlLane {
	name := visText(s.Name)
	label := name
	if r := []rune(label); len(r) > 22 {
		label = string(r[:21]) + "…"
	}
	y := chartTop + i*chartLaneH
	l := htmlLane{Server: name, Label: label, Class: htmlVerdictClass(s.Verdict), Y: y, H: chartLaneH - 2, CovY: y + 2, CovH: chartLaneH - 6,
		MidY: y + chartLaneH/2 - 1, TextY: y + chartLaneH/2 + 3, Odd: i%2 == 1}
	l.Title = fmt.Sprintf("%s: %s, %d findings — click to filter the evidence", name, visText(string(s.Verdict)), len(s.Findings))

	cov := htmlCoverageIntervals(s)
	for _, v := range cov {
		title := fmt.Sprintf("%s has logs from %s to %s UTC", name, htmlTime(v.from), htmlTime(v.to))
		for _, seg := range sc {
			from, to := htmlMaxTime(v.from, seg.from), htmlMinTime(v.to, seg.to)
			if to.Before(from) {
				continue
			}
			x0, _ := sc.x(from)
			x1, _ := sc.x(to)
			l.Coverage = append(l.Coverage, htmlBand{X: x0, W: max(x1-x0, 2), Title: title})
		}
	}
	for j, b := range s.Build.Seen {
		if x, ok := sc.x(b.First); ok && j > 0 {
			l.Builds = append(l.Builds, htmlBuildMark{X: x, Title: fmt.Sprintf("build %s (%s) first seen %s UTC",
				visText(b.Build), visText(strings.TrimSpace(b.Product+" "+b.Update)), htmlTime(b.First))})
		}
	}

	// One mark per column and stage: a thousand findings on one server stay
	// a readable band, and every mark still has one colour and one stage.
	type key struct {
		col   int
		stage finding.Stage
	}
	groups := map[key][]*finding.Finding{}
	var keys []key
	for j := range s.Findings {
		f := &s.Findings[j]
		x, ok := sc.x(f.Time)
		if !ok || f.Time.IsZero() {
			continue
		}
		c.Dated++
		k := key{(x - c.PlotX) / chartColW, f.Stage}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if d := a.stage.Rank() - b.stage.Rank(); d != 0 {
			return d
		}
		return a.col - b.col
	})
	for _, k := range keys {
		level := max(k.stage.Rank(), 0)
		l.Marks = append(l.Marks, htmlMark{X: c.PlotX + k.col*chartColW, Y: y + 5 + (5-level)*chartStageStep, W: chartColW, H: chartStageStep - 1,
			Stage: visText(string(k.stage)), Class: htmlStageClass(k.stage), Title: htmlMarkTitle(name, groups[k])})
	}
	c.Marks += len(l.Marks)
	if len(l.Marks) == 0 {
		l.Note = "no dated findings"
		if len(cov) > 0 {
			l.Note += fmt.Sprintf(" · logs %s → %s UTC", htmlTime(cov[0].from), htmlTime(cov[len(cov)-1].to))
		}
	}
	return l
}

func htmlMarkTitle(server string, fs []*finding.Finding) string {
	f := fs[0]
	if len(fs) == 1 {
		what := visText(f.Title)
		if f.Outcome != "" {
			what += ": " + visText(f.Outcome)
		}
		return fmt.Sprintf("%s UTC — %s\nstage: %s, severity: %s\nrule: %s\n%s\nsource: %s",
			htmlTime(f.Time), server, visText(string(f.Stage)), visText(string(f.Severity)), visText(f.Rule), what, visText(f.Source.String()))
	}
	last := f.Time
	rules := map[string]int{}
	for _, g := range fs {
		if g.Time.Before(f.Time) {
			f = g
		}
		last = htmlMaxTime(last, g.Time)
		rules[g.Rule]++
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(rules)) {
		parts = append(parts, fmt.Sprintf("%s ×%d", visText(r), rules[r]))
	}
	return fmt.Sprintf("%d findings — %s\n%s – %s UTC\nstage: %s\nrules: %s\nfirst source: %s",
		len(fs), server, htmlTime(f.Time), htmlTime(last), visText(string(f.Stage)), strings.Join(parts, ", "), visText(f.Source.String()))
}

func htmlMinTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func htmlMaxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
