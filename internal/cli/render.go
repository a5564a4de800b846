package cli

import (
	"fmt"
	"io"
	"slices"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/remedy"
	"github.com/exhunt/exhunt/internal/report"
)

// formats every command that writes a result accepts; jsonl streams and is
// only for hunt.
var formats = []string{"text", "json", "jsonl", "html", "sarif", "csv", "remediation", "remediation-csv"}

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
	case "remediation":
		return remedy.Markdown(w, res)
	case "remediation-csv":
		return report.RemediationCSV(w, res)
	}
	return report.Text(w, res, verbose)
}

func ruleInfo(cat *catalog.Catalog) []report.RuleInfo {
	if cat == nil {
		return nil
	}
	var out []report.RuleInfo
	for _, d := range cat.Docs() {
		out = append(out, report.RuleInfo{ID: d.ID, Title: d.Title, Description: d.Description, CVEs: d.CVEs,
			Chain: d.Chain, Stage: d.Stage, Severity: d.Severity, References: d.References})
	}
	return out
}
