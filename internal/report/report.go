// Package report renders a hunt result: terminal text, one JSON document, or
// JSON lines. Every format is rendered from the same finding.Result, so a
// saved JSON run can be rendered again in any format.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/remedy"
)

// JSON writes the result as one indented document.
func JSON(w io.Writer, r *finding.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a document written by JSON.
func ReadJSON(rd io.Reader) (*finding.Result, error) {
	var r finding.Result
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	if r.SchemaVersion != finding.SchemaVersion {
		return nil, fmt.Errorf("read result: schema version %d, this exhunt reads %d", r.SchemaVersion, finding.SchemaVersion)
	}
	return &r, nil
}

// Message is one JSON line: exactly one field is set.
type Message struct {
	Finding *finding.Finding `json:"finding,omitempty"`
	Server  *finding.Server  `json:"server,omitempty"`
	Run     *finding.Result  `json:"run,omitempty"`
}

// JSONLines streams findings as they are found, then one line per server
// (its findings omitted, they were streamed) and a closing run line.
type JSONLines struct {
	enc *json.Encoder
}

// NewJSONLines writes to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{enc: json.NewEncoder(w)} }

// Finding writes one finding line.
func (j *JSONLines) Finding(f finding.Finding) error { return j.enc.Encode(Message{Finding: &f}) }

// Close writes the server and run lines.
func (j *JSONLines) Close(r *finding.Result) error {
	for _, s := range r.Servers {
		s.Findings = nil
		if err := j.enc.Encode(Message{Server: &s}); err != nil {
			return err
		}
	}
	run := *r
	run.Servers = nil
	return j.enc.Encode(Message{Run: &run})
}

// Text writes the terminal report: per server the verdict first, then why.
func Text(w io.Writer, r *finding.Result, verbose bool) error {
	p := &printer{w: w}
	counts := map[finding.Verdict]int{}
	for _, s := range r.Servers {
		counts[s.Verdict]++
	}
	for _, s := range r.Servers {
		p.server(&s, verbose)
	}
	if len(r.Gaps) > 0 {
		p.f("input not read:\n")
		for _, g := range r.Gaps {
			p.f("  %s\n", g)
		}
		p.f("\n")
	}
	var parts []string
	for _, v := range []finding.Verdict{finding.VerdictExploited, finding.VerdictCompromised, finding.VerdictAttempted, finding.VerdictProbed, finding.VerdictClean} {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	inc := 0
	for _, s := range r.Servers {
		if s.Inconclusive {
			inc++
		}
	}
	p.f("%d server(s): %s", len(r.Servers), strings.Join(parts, ", "))
	if inc > 0 {
		p.f("; %d inconclusive (logs do not reach back far enough)", inc)
	}
	p.f(" — %d rules, %s\n", r.Rules, time.Duration(r.DurationMS)*time.Millisecond)
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// clean strips control characters: log fields are attacker-controlled and
// must not drive the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func (p *printer) server(s *finding.Server, verbose bool) {
	p.f("%s  %s", clean(s.Name), strings.ToUpper(string(s.Verdict)))
	if s.Inconclusive {
		p.f("  (inconclusive)")
	}
	p.f("\n")
	for _, r := range s.Reasons {
		p.f("  inconclusive: %s\n", r)
	}
	if s.Build.Current != "" {
		var seen []string
		for _, b := range s.Build.Seen {
			seen = append(seen, strings.TrimSpace(b.Build+" "+strings.TrimSpace(b.Product+" "+b.Update)))
		}
		p.f("  build      %s\n", strings.Join(seen, " -> "))
		for _, c := range s.Build.Changes {
			p.f("             changed %s\n", c)
		}
		var st []string
		for _, c := range s.Build.Chains {
			st = append(st, c.Chain+" "+c.Status)
		}
		p.f("  exposure   %s\n", strings.Join(st, ", "))
	} else {
		p.f("  build      not found in the logs\n")
	}
	for i, c := range s.Coverage {
		label := "coverage  "
		if i > 0 {
			label = "          "
		}
		skipped := ""
		if c.Skipped > 0 {
			skipped = fmt.Sprintf(", %d skipped", c.Skipped)
		}
		p.f("  %s %-13s %s -> %s  (%d files, %d records%s)\n", label, c.Source, ts(c.First), ts(c.Last), c.Files, c.Lines, skipped)
	}
	for i, a := range s.Attackers {
		label := "attackers "
		if i > 0 {
			label = "          "
		}
		ioc := ""
		if len(a.IOCs) > 0 {
			ioc = "  [" + strings.Join(a.IOCs, "; ") + "]"
		}
		p.f("  %s %-15s %s -> %s  %d requests, up to %s  %s%s\n", label, clean(a.IP), ts(a.FirstSeen), ts(a.LastSeen), a.Requests, a.MaxStage, clean(strings.Join(a.UserAgents, " | ")), ioc)
	}
	if s.UnusableClientAddresses > 0 {
		p.f("  unusable   %d findings had a client address that is not an address (\"-\", redacted or garbage)\n", s.UnusableClientAddresses)
	}
	for i, m := range s.MailboxesAccessed {
		label := "mailboxes "
		if i > 0 {
			label = "          "
		}
		ans := "not answered"
		if m.Answered {
			ans = "answered"
		}
		acts := ""
		if len(m.Actions) > 0 {
			acts = " (" + strings.Join(m.Actions, ", ") + ")"
		}
		p.f("  %s %s  %d requests, %s%s\n", label, clean(m.Mailbox), m.Requests, ans, clean(acts))
	}
	if len(s.Findings) > 0 {
		p.f("  evidence\n")
		limit := len(s.Timeline)
		if !verbose && limit > 40 {
			limit = 40
		}
		for _, t := range s.Timeline[:limit] {
			p.f("    %s  %-14s %s\n", ts(t.Time), t.Stage, clean(t.Summary))
			p.f("    %19s  %s  [%s]\n", "", clean(t.Source.String()), t.Rule)
		}
		if limit < len(s.Timeline) {
			p.f("    … %d more (use --verbose or --format json)\n", len(s.Timeline)-limit)
		}
	}
	if len(s.Suppressed) > 0 {
		var parts []string
		for _, c := range s.Suppressed {
			parts = append(parts, fmt.Sprintf("%s: %d", c.Rule, c.Count))
		}
		p.f("  not listed (over the per-rule cap): %s\n", strings.Join(parts, ", "))
	}
	if len(s.Gaps) > 0 {
		p.f("  gaps       %d (input not read or not read fully)\n", len(s.Gaps))
		gaps := append([]finding.Gap(nil), s.Gaps...)
		sort.Slice(gaps, func(i, j int) bool { return gaps[i].File < gaps[j].File })
		n := len(gaps)
		if !verbose && n > 5 {
			n = 5
		}
		for _, g := range gaps[:n] {
			p.f("             %s\n", clean(g.String()))
		}
		if n < len(gaps) {
			p.f("             … %d more\n", len(gaps)-n)
		}
	}
	if len(s.Remediation) > 0 && p.err == nil {
		p.f("  what to do (exhunt report --format remediation for the checklist)\n")
		if p.err == nil {
			p.err = remedy.Text(p.w, s.Remediation, "    ", verbose)
		}
	}
	p.f("\n")
}

// hit is a finding with its server, for the flat formats (CSV, SARIF).
type hit struct {
	s *finding.Server
	f *finding.Finding
}

func serverFindings(r *finding.Result) []hit {
	var hits []hit
	for i := range r.Servers {
		s := &r.Servers[i]
		for j := range s.Findings {
			hits = append(hits, hit{s, &s.Findings[j]})
		}
	}
	return hits
}
