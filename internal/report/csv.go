package report

import (
	"cmp"
	"encoding/csv"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/visible"
)

// csvHeader names the columns CSV writes, in order.
var csvHeader = []string{
	"server", "verdict", "inconclusive", "time", "stage", "severity", "rule", "title", "outcome",
	"cves", "chain", "file", "line", "client_ip", "user_agent", "mailbox", "iocs", "fields",
}

// CSV writes one row per finding, after a header row, for spreadsheets:
// servers by name, each server's findings by time. Times are RFC 3339 in
// UTC with the precision of the log. List cells (cves, iocs) are joined with
// ';' and fields are "key=value" pairs joined with ';' in key order. As
// values come from attacker-written logs, '\' and ';' inside an item (and
// '=' inside a key) are escaped with '\', so a value cannot forge an item.
//
// Control, bidi and other hidden characters are written as visible escapes
// (\x1b, \u202e), as in the text report: the JSON output keeps the exact
// values.
//
// Cells that a spreadsheet would take for a formula (starting with '=',
// '+', '-', '@', tab or CR) get a leading single quote, as OWASP advises
// for CSV injection; so do cells that start with a quote themselves, which
// makes the rule reversible: a reader drops one leading quote.
func CSV(w io.Writer, r *finding.Result) error {
	if r == nil {
		return errors.New("csv: no result")
	}
	if r.Kind == finding.KindScan {
		return scanCSV(w, r)
	}
	hits := r.Hits()
	slices.SortStableFunc(hits, func(a, b finding.Hit) int {
		return cmp.Or(cmp.Compare(a.Server.Name, b.Server.Name), a.Finding.Time.Compare(b.Finding.Time),
			cmp.Compare(a.Finding.Source.File, b.Finding.Source.File), cmp.Compare(a.Finding.Source.Line, b.Finding.Source.Line),
			cmp.Compare(a.Finding.Rule, b.Finding.Rule))
	})
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	row := make([]string, len(csvHeader))
	for _, h := range hits {
		f := h.Finding
		row = append(row[:0],
			cmp.Or(f.Server, h.Server.Name),
			string(h.Server.Verdict),
			strconv.FormatBool(h.Server.Inconclusive),
			csvTime(f.Time),
			string(f.Stage),
			string(f.Severity),
			f.Rule,
			f.Title,
			f.Outcome,
			csvList(f.CVEs),
			f.Chain,
			f.Source.File,
			csvLine(f.Source.Line),
			f.ClientIP,
			f.UserAgent,
			f.Mailbox,
			csvList(f.IOCs),
			csvFields(f.Fields),
		)
		if err := writeRow(cw, row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeRow writes cells made safe for a person reading them in a
// spreadsheet: hidden characters as visible escapes, then formulas
// neutralised.
func writeRow(cw *csv.Writer, row []string) error {
	for i, c := range row {
		row[i] = csvCell(visible.String(c))
	}
	return cw.Write(row)
}

// csvCell neutralises a cell a spreadsheet would evaluate.
func csvCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r'", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvLine(n int64) string {
	if n <= 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

var (
	csvItemEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`)
	csvKeyEscaper  = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `=`, `\=`)
)

func csvList(items []string) string {
	esc := make([]string, len(items))
	for i, s := range items {
		esc[i] = csvItemEscaper.Replace(visible.String(s))
	}
	return strings.Join(esc, ";")
}

// csvFields joins fields as key=value in key order; a reader splits each
// item at its first unescaped '='.
func csvFields(m map[string]string) string {
	items := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		items = append(items, csvKeyEscaper.Replace(visible.String(k))+"="+csvItemEscaper.Replace(visible.String(m[k])))
	}
	return strings.Join(items, ";")
}
