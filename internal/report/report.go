// Package report owns exhunt's outputs: every format is a handler of the
// result stream (internal/stream), so a run is rendered the same whether it
// is live or replayed from a saved stream or JSON document. Terminal text,
// JSON, JSON lines and CSV live here; HTML and SARIF in their own packages.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/remedy"
	"github.com/exhunt/exhunt/internal/stream"
	"github.com/exhunt/exhunt/internal/visible"
)

// JSON writes the result as one indented document.
func JSON(w io.Writer, r *finding.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a saved run: a document written by JSON or a stream of
// JSON lines (hunt or scan).
func ReadJSON(rd io.Reader) (*finding.Result, error) {
	r, err := stream.ReadResult(rd)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	return r, nil
}

// Text writes the terminal report: per server the verdict first, then why;
// for a scan, a row per Exchange server and the summary.
func Text(w io.Writer, r *finding.Result, verbose bool) error {
	if r.Kind == finding.KindScan {
		return scanText(w, r)
	}
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
			p.f("  %s\n", visible.String(g.String()))
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

// f prints with every string argument shown visibly: a saved run may have
// been edited, so no field is trusted to be free of control characters.
func (p *printer) f(format string, args ...any) {
	for i, a := range args {
		if v := reflect.ValueOf(a); v.Kind() == reflect.String {
			args[i] = visible.String(v.String())
		}
	}
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// clean shows control characters visibly: log fields are attacker-controlled
// and must not drive the terminal.
func clean(s string) string { return visible.String(s) }

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
		// The entries that set the verdict come first and are never cut:
		// they are the answer's grounds.
		decisive, rest := splitDecisive(s)
		if len(decisive) > 0 {
			p.f("  verdict    %s, set by %d finding(s):\n", s.Verdict, len(decisive))
			for _, t := range decisive {
				p.entry(t)
			}
		}
		if len(rest) > 0 {
			if len(decisive) > 0 {
				p.f("  other evidence\n")
			} else {
				p.f("  evidence\n")
			}
			limit := len(rest)
			if !verbose && limit > 40 {
				limit = 40
			}
			for _, t := range rest[:limit] {
				p.entry(t)
			}
			if limit < len(rest) {
				p.f("    … %d more (use --verbose or --format json)\n", len(rest)-limit)
			}
		}
	}
	if len(s.Suppressed) > 0 {
		var parts []string
		for _, c := range s.Suppressed {
			parts = append(parts, fmt.Sprintf("%s: %d", clean(c.Rule), c.Count))
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

func (p *printer) entry(t finding.TimelineEntry) {
	p.f("    %s  %-14s %s\n", ts(t.Time), clean(string(t.Stage)), clean(t.Summary))
	p.f("    %19s  %s  [%s]\n", "", clean(t.Source.String()), clean(t.Rule))
}

// splitDecisive splits a server's timeline into the entries whose stage
// implies the server's verdict (supporting findings left out, as they do
// not raise it) and the rest, each in timeline order.
func splitDecisive(s *finding.Server) (decisive, rest []finding.TimelineEntry) {
	type key struct {
		rule string
		src  finding.Source
		t    time.Time
	}
	supporting := map[key]bool{}
	for _, f := range s.Findings {
		if f.Supporting {
			supporting[key{f.Rule, f.Source, f.Time}] = true
		}
	}
	for _, t := range s.Timeline {
		if s.Verdict != finding.VerdictClean && t.Stage.Verdict() == s.Verdict && !supporting[key{t.Rule, t.Source, t.Time}] {
			decisive = append(decisive, t)
		} else {
			rest = append(rest, t)
		}
	}
	return decisive, rest
}
