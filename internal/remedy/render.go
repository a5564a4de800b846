package remedy

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/visible"
)

var stepNames = map[string]string{
	finding.StepContain:     "Contain",
	finding.StepMitigate:    "Mitigate until patched",
	finding.StepPatch:       "Patch",
	finding.StepPreserve:    "Preserve, then clean",
	finding.StepCredentials: "Credentials",
	finding.StepPeople:      "People to tell",
	finding.StepRecheck:     "Re-check",
}

// Markdown writes the plans of every server of a run as a checklist for a
// change ticket. Hidden characters are shown as escapes (internal/visible),
// evidence values go into code spans and other text is escaped, so nothing
// an attacker wrote renders as markup or breaks a line.
func Markdown(w io.Writer, r *finding.Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Remediation plan\n\n")
	if len(r.Servers) == 0 {
		fmt.Fprintf(bw, "No servers in this run.\n")
	}
	for i := range r.Servers {
		s := &r.Servers[i]
		fmt.Fprintf(bw, "## %s: %s", mdText(s.Name), s.Verdict)
		if s.Inconclusive {
			bw.WriteString(" (inconclusive)")
		}
		bw.WriteString("\n\n")
		if s.Build.Current != "" {
			fmt.Fprintf(bw, "Build %s", mdCode(s.Build.Current))
			if len(s.Build.Seen) > 0 {
				if last := s.Build.Seen[len(s.Build.Seen)-1]; last.Product != "" {
					fmt.Fprintf(bw, " (%s %s)", mdText(last.Product), mdText(last.Update))
				}
			}
			bw.WriteString(".\n\n")
		}
		step := ""
		n := 0
		for _, a := range s.Remediation {
			if a.Step != step {
				step = a.Step
				n++
				fmt.Fprintf(bw, "### %d. %s\n\n", n, stepTitle(step))
			}
			mdAction(bw, &a)
		}
		if len(s.Remediation) == 0 {
			bw.WriteString("No plan in this result (saved by an older exhunt?).\n\n")
		}
	}
	return bw.Flush()
}

func stepTitle(step string) string {
	if t, ok := stepNames[step]; ok {
		return t
	}
	return mdText(step)
}

func mdAction(w *bufio.Writer, a *finding.Action) {
	fmt.Fprintf(w, "- [ ] **%s** (%s)\n", mdText(a.Title), mdText(a.Urgency))
	for _, l := range strings.Split(a.Detail, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintf(w, "  %s\n", mdText(l))
		}
	}
	if a.Warning != "" {
		fmt.Fprintf(w, "  - **Warning:** %s\n", mdText(oneLine(a.Warning)))
	}
	for _, it := range a.Items {
		fmt.Fprintf(w, "  - [ ] %s %s", mdText(it.Kind), mdCode(it.Name))
		if it.SHA256 != "" {
			fmt.Fprintf(w, " SHA-256 %s", mdCode(it.SHA256))
		}
		if it.Value != "" {
			fmt.Fprintf(w, ": %s", mdCode(it.Value))
		}
		if len(it.Findings) > 0 {
			fmt.Fprintf(w, " (found by %s)", mdCodes(it.Findings))
		}
		w.WriteString("\n")
	}
	if len(a.Preserve) > 0 {
		fmt.Fprintf(w, "  - Keep before acting: %s\n", mdText(strings.Join(a.Preserve, "; ")))
	}
	var why []string
	if len(a.Reason.Findings) > 0 {
		why = append(why, "findings "+mdCodes(a.Reason.Findings))
	}
	for _, f := range a.Reason.Facts {
		why = append(why, mdText(f))
	}
	fmt.Fprintf(w, "  - Why: %s\n", strings.Join(why, "; "))
	if len(a.Sources) > 0 {
		fmt.Fprintf(w, "  - Sources: %s\n", mdText(strings.Join(a.Sources, "; ")))
	}
	w.WriteString("\n")
}

// textItems is how many items of an action the text report lists unless
// verbose.
const textItems = 5

// Text writes one server's plan for the text report, each line prefixed
// with indent; hidden characters are shown as escapes (internal/visible)
// so evidence cannot drive the terminal.
func Text(w io.Writer, plan []finding.Action, indent string, verbose bool) error {
	bw := bufio.NewWriter(w)
	for i, a := range plan {
		fmt.Fprintf(bw, "%s%d. [%s, %s] %s\n", indent, i+1, stepTitle(a.Step), a.Urgency, termText(a.Title))
		items := a.Items
		if !verbose && len(items) > textItems {
			items = items[:textItems]
		}
		for _, it := range items {
			fmt.Fprintf(bw, "%s     %s %s", indent, it.Kind, termText(it.Name))
			if it.SHA256 != "" {
				fmt.Fprintf(bw, " sha256=%s", termText(it.SHA256))
			}
			if it.Value != "" {
				fmt.Fprintf(bw, ": %s", termText(clipText(it.Value, 160)))
			}
			bw.WriteString("\n")
		}
		if len(items) < len(a.Items) {
			fmt.Fprintf(bw, "%s     … %d more (--verbose)\n", indent, len(a.Items)-len(items))
		}
		if a.Warning != "" {
			fmt.Fprintf(bw, "%s     warning: %s\n", indent, termText(oneLine(a.Warning)))
		}
		var why []string
		why = append(why, a.Reason.Findings...)
		why = append(why, a.Reason.Facts...)
		fmt.Fprintf(bw, "%s     why: %s\n", indent, termText(strings.Join(why, "; ")))
	}
	return bw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// termText shows s on a terminal: hidden characters (escape sequences,
// line breaks, bidirectional overrides) as escapes.
func termText(s string) string { return visible.String(s) }

// mdText escapes Markdown and HTML syntax in plain text, hidden characters
// (line breaks included) shown as escapes, so it stays on one line.
func mdText(s string) string {
	s = visible.String(s)
	var b strings.Builder
	for i, r := range s {
		// inline syntax anywhere; block syntax only where a line starts
		if strings.ContainsRune("\\`*_[]<>|~&", r) || (i == 0 && strings.ContainsRune("#-+=", r)) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode puts a value in a code span whose fence is longer than any run
// of backticks inside it (CommonMark), on one line: hidden characters are
// shown as escapes.
func mdCode(s string) string {
	s = visible.String(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

func mdCodes(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = mdCode(x)
	}
	return strings.Join(out, ", ")
}
