package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/remedy"
	"github.com/exhunt/exhunt/internal/report/html"
	"github.com/exhunt/exhunt/internal/report/sarif"
	"github.com/exhunt/exhunt/internal/stream"
)

// Formats are the output formats, as --format names them. remediation is
// each server's remediation plan as a Markdown checklist, remediation-csv
// the plan one row per item.
var Formats = []string{"text", "json", "jsonl", "html", "sarif", "csv", "remediation", "remediation-csv"}

// Options tune the outputs.
type Options struct {
	// Verbose lists every finding and gap in the text report.
	Verbose bool
	// Rules describes the rules for SARIF; findings of rules it lacks get
	// entries derived from the findings.
	Rules []catalog.RuleDoc
}

// New returns the handler that writes format to w. Documents (json, html,
// sarif, csv, the text report of a hunt) are written when the closing run
// message arrives; jsonl writes every message as it comes, and the text
// report of a scan prints a row per Exchange server as it comes.
func New(format string, w io.Writer, opt Options) (stream.Handler, error) {
	switch format {
	case "jsonl":
		return NewJSONLines(w), nil
	case "text":
		return &textHandler{w: w, verbose: opt.Verbose}, nil
	case "json":
		return document(func(r *finding.Result) error { return JSON(w, r) }), nil
	case "html":
		return document(func(r *finding.Result) error { return html.Write(w, r) }), nil
	case "csv":
		return document(func(r *finding.Result) error { return CSV(w, r) }), nil
	case "remediation":
		return document(func(r *finding.Result) error { return remedy.Markdown(w, r) }), nil
	case "remediation-csv":
		return document(func(r *finding.Result) error { return RemediationCSV(w, r) }), nil
	case "sarif":
		return document(func(r *finding.Result) error {
			if r.Kind == finding.KindScan {
				return fmt.Errorf("sarif holds hunt results only; render a scan as text, json, jsonl, html or csv")
			}
			return sarif.Write(w, r, opt.Rules)
		}), nil
	}
	return nil, fmt.Errorf("unknown format %q: use one of %v", format, Formats)
}

// documentHandler collects the stream and writes it once it closes.
type documentHandler struct {
	c     stream.Collector
	write func(*finding.Result) error
}

func document(write func(*finding.Result) error) stream.Handler {
	return &documentHandler{write: write}
}

func (d *documentHandler) Handle(m *stream.Message) error {
	d.c.Handle(m)
	if m.Run != nil {
		return d.write(d.c.Result())
	}
	return nil
}

// Render writes a finished result in format: the result as a stream, into
// that format's handler. A document is written from the result itself,
// which the stream would rebuild equal, without a second copy in memory.
func Render(w io.Writer, r *finding.Result, format string, opt Options) error {
	h, err := New(format, w, opt)
	if err != nil {
		return err
	}
	switch h := h.(type) {
	case *documentHandler:
		return h.write(r)
	case *textHandler:
		return Text(w, r, h.verbose)
	}
	return stream.Emit(r, h)
}

// JSONLines writes each message as one JSON line, in a single Write, so a
// run killed mid-output loses at most its last line.
type JSONLines struct {
	w io.Writer
}

// NewJSONLines writes to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Handle writes m.
func (j *JSONLines) Handle(m *stream.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(b, '\n'))
	return err
}

// textHandler is the terminal report: a hunt's when it closes, a scan's
// row by row.
type textHandler struct {
	w       io.Writer
	verbose bool
	c       stream.Collector
	table   *ScanTable
}

func (t *textHandler) Handle(m *stream.Message) error {
	switch {
	case m.Start != nil && m.Start.Kind == finding.KindScan, m.Target != nil:
		if t.table == nil {
			t.table = NewScanTable(t.w)
		}
		if m.Target != nil {
			return t.table.Add(m.Target)
		}
	case m.Run != nil && t.table != nil:
		return t.table.Close()
	case m.Run != nil:
		t.c.Handle(m)
		return Text(t.w, t.c.Result(), t.verbose)
	default:
		t.c.Handle(m)
	}
	return nil
}
