package cli

import (
	"fmt"
	"io"
	"slices"

	"exhunt/internal/catalog"
	"exhunt/internal/finding"
	"exhunt/internal/report"
)

// formats every command that writes a result accepts; jsonl streams and is
// only for hunt.
var formats = []string{"text", "json", "jsonl", "html", "sarif", "csv"}

func checkFormat(f string, allowJSONL bool) error {
	if !slices.Contains(formats, f) || (f == "jsonl" && !allowJSONL) {
		ok := formats
		if !allowJSONL {
			ok = slices.DeleteFunc(slices.Clone(formats), func(s string) bool { return s == "jsonl" })
		}
		return usageError(fmt.Sprintf("unknown format %q", f), fmt.Sprintf("use one of %v", ok))
	}
	return nil
}

// render writes a finished result in one of the document formats.
func render(w io.Writer, res *finding.Result, format string, cat *catalog.Catalog, verbose bool) error {
	switch format {
	case "json":
		return report.JSON(w, res)
	case "html":
		return report.HTML(w, res)
	case "sarif":
		return report.SARIF(w, res, ruleInfo(cat))
	case "csv":
		return report.CSV(w, res)
	}
	return report.Text(w, res, verbose)
}

func ruleInfo(cat *catalog.Catalog) []report.RuleInfo {
	if cat == nil {
		return nil
	}
	var out []report.RuleInfo
	for _, c := range cat.Rules {
		r := c.Rule
		out = append(out, report.RuleInfo{ID: r.ID, Title: r.Title, Description: r.Description, CVEs: r.CVEs,
			Chain: r.Chain, Stage: string(r.Stage), Severity: string(r.Severity), References: r.References})
	}
	return out
}
