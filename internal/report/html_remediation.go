package report

import (
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// htmlAction is one action of a server's remediation plan, made
// visible-safe for the template.
type htmlAction struct {
	Step, Urgency, Title, Warning, Guidance string
	Detail, Preserve, Sources, Why          []string
	Items                                   []htmlActionItem
}

type htmlActionItem struct{ Kind, Name, SHA256, Value, Findings string }

var htmlStepNames = map[string]string{
	finding.StepContain: "Contain", finding.StepMitigate: "Mitigate until patched", finding.StepPatch: "Patch",
	finding.StepPreserve: "Preserve, then clean", finding.StepCredentials: "Credentials",
	finding.StepPeople: "People to tell", finding.StepRecheck: "Re-check",
}

func htmlPlan(s *finding.Server) []htmlAction {
	var out []htmlAction
	for _, a := range s.Remediation {
		step := htmlStepNames[a.Step]
		if step == "" {
			step = a.Step
		}
		h := htmlAction{Step: visText(step), Urgency: visText(a.Urgency), Title: visText(a.Title),
			Warning: visText(strings.Join(strings.Fields(a.Warning), " ")), Guidance: visText(a.Guidance),
			Preserve: visTexts(a.Preserve), Sources: visTexts(a.Sources)}
		for _, l := range strings.Split(a.Detail, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				h.Detail = append(h.Detail, visText(l))
			}
		}
		for _, r := range a.Reason.Findings {
			h.Why = append(h.Why, visText(r))
		}
		h.Why = append(h.Why, visTexts(a.Reason.Facts)...)
		for _, it := range a.Items {
			h.Items = append(h.Items, htmlActionItem{Kind: visText(it.Kind), Name: visText(it.Name), SHA256: visText(it.SHA256),
				Value: visText(it.Value), Findings: visText(strings.Join(it.Findings, ", "))})
		}
		out = append(out, h)
	}
	return out
}
