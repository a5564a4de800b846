package html

import (
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

var scanTmpl = template.Must(template.New("scan.tmpl").Funcs(template.FuncMap{"n": thousands}).
	ParseFS(assets, "scan.tmpl"))

// maxTargetRows bounds the target table: a scan may cover millions.
const maxTargetRows = 20000

var scanChains = []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"}

type scanPage struct {
	CSP                    string
	Style                  template.CSS
	Tool, Version, Started string
	Total, Exchange        int
	Vulnerable, More       int
	Statuses               []statusCount
	Chains                 []scanChainCount
	Rows                   []targetRow
}

type statusCount struct {
	Name string
	N    int
}

type scanChainCount struct {
	Chain                                                      string
	Vulnerable, Indeterminate, Patched, NotAffected, Mitigated int
}

type targetRow struct {
	Target, IP, Status, Build, Update, Note string
	Chains                                  []string
	Vulnerable                              bool
}

// writeScan renders a scan's targets: counts per status and chain, then a
// row per target, vulnerable ones first.
func writeScan(w io.Writer, r *finding.Result) error {
	p := &scanPage{CSP: csp, Style: template.CSS(style), Tool: visText(r.Tool), Version: visText(r.Version),
		Started: fmtTime(r.StartedAt), Total: len(r.Targets)}
	statuses := map[string]int{}
	chains := map[string]*scanChainCount{}
	for _, c := range scanChains {
		chains[c] = &scanChainCount{Chain: c}
	}
	idx := make([]int, len(r.Targets))
	for i := range r.Targets {
		idx[i] = i
		t := &r.Targets[i]
		statuses[t.Status]++
		if t.Status == finding.StatusExchange {
			p.Exchange++
		}
		if t.Vulnerable() {
			p.Vulnerable++
		}
		for _, c := range t.Chains {
			cc := chains[c.Chain]
			if cc == nil {
				continue
			}
			switch c.Verdict {
			case finding.ChainVulnerable:
				cc.Vulnerable++
			case finding.ChainIndeterminate:
				cc.Indeterminate++
			case finding.ChainPatched:
				cc.Patched++
			case finding.ChainNotAffected:
				cc.NotAffected++
			}
			if c.Mitigated {
				cc.Mitigated++
			}
		}
	}
	for name, n := range statuses {
		p.Statuses = append(p.Statuses, statusCount{visText(name), n})
	}
	sort.Slice(p.Statuses, func(i, j int) bool { return p.Statuses[i].Name < p.Statuses[j].Name })
	if p.Exchange > 0 {
		for _, c := range scanChains {
			p.Chains = append(p.Chains, *chains[c])
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return r.Targets[idx[a]].Vulnerable() && !r.Targets[idx[b]].Vulnerable()
	})
	if len(idx) > maxTargetRows {
		p.More = len(idx) - maxTargetRows
		idx = idx[:maxTargetRows]
	}
	for _, i := range idx {
		p.Rows = append(p.Rows, newTargetRow(&r.Targets[i]))
	}
	return scanTmpl.Execute(w, p)
}

func newTargetRow(t *finding.Target) targetRow {
	row := targetRow{Target: visText(t.Target), IP: visText(t.IP), Status: visText(t.Status), Vulnerable: t.Vulnerable()}
	if row.Target == "" {
		row.Target = visText(t.Input)
	}
	if t.Exchange != nil {
		row.Build = visText(t.Exchange.Build)
		row.Update = visText(strings.TrimSpace(t.Exchange.Product + " " + t.Exchange.Update))
	}
	verdict := map[string]string{}
	for _, c := range t.Chains {
		v := c.Verdict
		if c.Mitigated {
			v += "+mitigated"
		}
		verdict[c.Chain] = v
	}
	for _, c := range scanChains {
		row.Chains = append(row.Chains, visText(verdict[c]))
	}
	var notes []string
	if t.Error != "" {
		notes = append(notes, t.Error)
	}
	for _, ws := range t.Webshells {
		notes = append(notes, "web shell answers: "+ws.Path)
	}
	row.Note = visText(strings.Join(notes, "; "))
	return row
}
