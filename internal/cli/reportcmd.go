package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/stream"
)

const reportHelp = `Usage: exhunt report --in RESULT [--format text|json|html|sarif|csv|remediation|remediation-csv] [-o FILE]

Renders a saved run again, without reading the evidence: a hunt saved with
--format json or jsonl, or a scan's results (exhunt scan -o FILE). A stream
cut short by a killed run is rendered up to its last whole line, with a
warning. --format remediation prints only each server's remediation plan,
as a Markdown checklist for a change ticket; remediation-csv gives it one
row per item for importing. The exit code is the run's: 3 when a server in
it is probed or worse, or a scanned target is vulnerable.

Flags:
`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", reportHelp, stderr)
	in := fs.String("in", "", "saved result, JSON or JSON lines (required; - for stdin)")
	format := fs.String("format", "text", "text, json, html, sarif, csv, remediation or remediation-csv")
	out := fs.String("o", "", "write to this file instead of stdout")
	verbose := fs.Bool("verbose", false, "text format: list every finding and gap")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error(), "run exhunt report -h")
	}
	if *in == "" {
		return usageError("report: --in is required", "save a run with exhunt hunt --format json -o run.json")
	}
	if err := checkFormat(*format, false); err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	// rule descriptions for SARIF come from this build's catalog; a rule
	// unknown to it is described from its findings
	cat, _ := catalog.Load()
	w, closeOut, err := openOutput(*out, stdout)
	if err != nil {
		return err
	}
	h, err := report.New(*format, w, reportOptions(cat, *verbose))
	if err != nil {
		closeOut()
		return usageError(err.Error(), "")
	}
	// the exit code, without keeping the run a second time
	notable := false
	seen := stream.HandlerFunc(func(m *stream.Message) error {
		switch {
		case m.Server != nil && m.Server.Verdict.Rank() > finding.VerdictClean.Rank():
			notable = true
		case m.Target != nil && m.Target.Vulnerable():
			notable = true
		}
		return nil
	})
	err = stream.Read(r, stream.Tee(seen, h))
	if errors.Is(err, stream.ErrTruncated) {
		warn(stderr, "%s: %v", *in, err)
		err = nil
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	_ = ctx
	if notable {
		return errFindings
	}
	return nil
}
