package report

import (
	"encoding/csv"
	"errors"
	"io"
	"strconv"

	"github.com/exhunt/exhunt/internal/finding"
)

// remediationCSVHeader names the columns of RemediationCSV, in order.
var remediationCSVHeader = []string{
	"server", "verdict", "inconclusive", "action", "step", "urgency", "title",
	"item_kind", "item", "sha256", "value", "item_findings",
	"reason_findings", "reason_facts", "warning", "preserve", "guidance", "sources",
}

// RemediationCSV writes each server's remediation plan, one row per item
// of an action (one row for an action without items), actions numbered in
// plan order, for importing into a ticket or spreadsheet. Cells are
// escaped and neutralised as in CSV.
func RemediationCSV(w io.Writer, r *finding.Result) error {
	if r == nil {
		return errors.New("csv: no result")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(remediationCSVHeader); err != nil {
		return err
	}
	row := make([]string, len(remediationCSVHeader))
	for i := range r.Servers {
		s := &r.Servers[i]
		for n, a := range s.Remediation {
			items := a.Items
			if len(items) == 0 {
				items = []finding.ActionItem{{}}
			}
			for _, it := range items {
				row = append(row[:0],
					s.Name, string(s.Verdict), strconv.FormatBool(s.Inconclusive),
					strconv.Itoa(n+1), a.Step, a.Urgency, a.Title,
					it.Kind, it.Name, it.SHA256, it.Value, csvList(it.Findings),
					csvList(a.Reason.Findings), csvList(a.Reason.Facts), a.Warning, csvList(a.Preserve),
					a.Guidance, csvList(a.Sources),
				)
				for i, c := range row {
					row[i] = csvCell(c)
				}
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
