package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/visible"
)

// ScanSummary counts results for the text table.
type ScanSummary struct {
	Targets  int
	ByStatus map[string]int
	// ByChain counts verdicts per chain; Mitigated counts mitigated ones.
	ByChain   map[string]map[string]int
	Mitigated map[string]int
	Webshells int
	// Notable keeps the first rows with a vulnerable chain or a web shell.
	Notable []*finding.Target
	More    int
	// RowsShown leaves the notable rows out of Write: the table printed
	// them already.
	RowsShown bool
}

// MaxNotable bounds the rows the summary lists.
const MaxNotable = 50

// NewScanSummary returns an empty summary.
func NewScanSummary() *ScanSummary {
	return &ScanSummary{ByStatus: map[string]int{}, ByChain: map[string]map[string]int{}, Mitigated: map[string]int{}}
}

// Add counts one result.
func (s *ScanSummary) Add(r *finding.Target) {
	s.Targets++
	s.ByStatus[r.Status]++
	for _, c := range r.Chains {
		m := s.ByChain[c.Chain]
		if m == nil {
			m = map[string]int{}
			s.ByChain[c.Chain] = m
		}
		m[c.Verdict]++
		if c.Mitigated {
			s.Mitigated[c.Chain]++
		}
	}
	if len(r.Webshells) > 0 {
		s.Webshells++
	}
	if r.Vulnerable() {
		if len(s.Notable) < MaxNotable {
			slim := *r
			slim.Evidence = nil
			s.Notable = append(s.Notable, &slim)
		} else {
			s.More++
		}
	}
}

var chainOrder = []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"}

// ScanRow formats one Exchange result as a table row, its cells shown
// visibly (a server chooses what it answers).
func ScanRow(r *finding.Target) string {
	build, update := "-", ""
	if r.Exchange != nil && r.Exchange.Build != "" {
		build = r.Exchange.Build
		update = strings.TrimSpace(r.Exchange.Product + " " + r.Exchange.Update)
	}
	cells := []string{r.Target, build, update}
	verdict := map[string]string{}
	for _, c := range r.Chains {
		v := c.Verdict
		if c.Mitigated {
			v += "+mitigated"
		}
		verdict[c.Chain] = v
	}
	for _, c := range chainOrder {
		v := verdict[c]
		if v == "" {
			v = "-"
		}
		cells = append(cells, v)
	}
	note := r.Status
	if len(r.Webshells) > 0 {
		note = fmt.Sprintf("%d web shell(s): %s", len(r.Webshells), r.Webshells[0].Path)
	}
	return strings.Join(visible.Strings(append(cells, note)), "\t")
}

// ScanRowHeader is the header of ScanRow's table.
const ScanRowHeader = "TARGET\tBUILD\tUPDATE\tPROXYLOGON\tPROXYSHELL\tPROXYNOTSHELL\tOWASSRF\tNOTE"

// Write renders the summary as text.
func (s *ScanSummary) Write(w io.Writer) {
	fmt.Fprintf(w, "%d target(s):", s.Targets)
	var st []string
	for k := range s.ByStatus {
		st = append(st, k)
	}
	sort.Strings(st)
	for i, k := range st {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(w, "%s %d %s", sep, s.ByStatus[k], visible.String(k))
	}
	fmt.Fprintln(w)
	if len(s.ByChain) > 0 {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "CHAIN\tVULNERABLE\tINDETERMINATE\tPATCHED\tNOT AFFECTED\tMITIGATED")
		for _, c := range chainOrder {
			m := s.ByChain[c]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", c, m[finding.ChainVulnerable], m[finding.ChainIndeterminate], m[finding.ChainPatched], m[finding.ChainNotAffected], s.Mitigated[c])
		}
		tw.Flush()
	}
	if s.Webshells > 0 {
		fmt.Fprintf(w, "%d target(s) answer on known web-shell paths\n", s.Webshells)
	}
	if len(s.Notable) > 0 && !s.RowsShown {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, ScanRowHeader)
		for _, r := range s.Notable {
			fmt.Fprintln(tw, ScanRow(r))
		}
		tw.Flush()
		if s.More > 0 {
			fmt.Fprintf(w, "... and %d more vulnerable target(s) in the results\n", s.More)
		}
	}
}

// ScanTable prints a row per Exchange target as results arrive, then the
// summary: the text report of a scan, live or replayed.
type ScanTable struct {
	w    io.Writer
	rows *tabwriter.Writer
	n    int
	Sum  *ScanSummary
	// Live prints each row as it comes (a running scan); otherwise rows
	// are aligned in blocks of tableBlock.
	Live bool
}

// tableBlock is how many rows a replayed table aligns at once: enough to
// read well, few enough to bound the memory of a huge results file.
const tableBlock = 1000

// NewScanTable writes to w.
func NewScanTable(w io.Writer) *ScanTable {
	return &ScanTable{w: w, Sum: NewScanSummary()}
}

// Add counts r and prints its row if it is an Exchange server.
func (t *ScanTable) Add(r *finding.Target) error {
	t.Sum.Add(r)
	if r.Status != finding.StatusExchange {
		return nil
	}
	if t.rows == nil {
		t.rows = tabwriter.NewWriter(t.w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(t.rows, ScanRowHeader)
	}
	fmt.Fprintln(t.rows, ScanRow(r))
	if t.n++; t.Live || t.n%tableBlock == 0 {
		return t.rows.Flush()
	}
	return nil
}

// Close prints the summary.
func (t *ScanTable) Close() error {
	if t.rows != nil {
		t.rows.Flush()
		fmt.Fprintln(t.w)
		t.Sum.RowsShown = true
	}
	t.Sum.Write(t.w)
	return nil
}

func scanText(w io.Writer, r *finding.Result) error {
	t := NewScanTable(w)
	for i := range r.Targets {
		if err := t.Add(&r.Targets[i]); err != nil {
			return err
		}
	}
	return t.Close()
}

// scanCSVHeader names the columns of a scan's CSV, one row per target.
var scanCSVHeader = []string{
	"target", "input", "ip", "status", "error", "build", "exact", "product", "update", "fe_server",
	"proxylogon", "proxyshell", "proxynotshell", "owassrf", "mitigations", "webshells", "requests", "time",
}

func scanCSV(w io.Writer, r *finding.Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(scanCSVHeader); err != nil {
		return err
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		var ex finding.Exchange
		if t.Exchange != nil {
			ex = *t.Exchange
		}
		verdict := map[string]string{}
		for _, c := range t.Chains {
			v := c.Verdict
			if c.Mitigated {
				v += "+mitigated"
			}
			verdict[c.Chain] = v
		}
		var shells []string
		for _, ws := range t.Webshells {
			shells = append(shells, ws.Path)
		}
		row := []string{t.Target, t.Input, t.IP, t.Status, t.Error, ex.Build, strconv.FormatBool(ex.Exact), ex.Product, ex.Update, ex.Server}
		for _, c := range chainOrder {
			row = append(row, verdict[c])
		}
		row = append(row, csvList(t.Mitigations), csvList(shells), strconv.Itoa(t.Requests), csvTime(t.Time))
		if err := writeRow(cw, row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
