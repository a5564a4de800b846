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
)

const reportHelp = `Usage: exhunt report --in RESULT.json [--format text|html|sarif|csv|remediation|remediation-csv] [-o FILE]

Renders a run saved with --format json again, without reading the evidence.
--format remediation prints only each server's remediation plan, as a
Markdown checklist for a change ticket; remediation-csv gives it one row
per item for importing.
The exit code is the run's: 3 when a server in it is probed or worse.

Flags:
`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", reportHelp, stderr)
	in := fs.String("in", "", "saved JSON result (required; - for stdin)")
	format := fs.String("format", "text", "text, html, sarif, csv, remediation or remediation-csv")
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
	res, err := report.ReadJSON(r)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	// rule descriptions for SARIF come from this build's catalog; a rule
	// unknown to it is described from its findings
	cat, _ := catalog.Load()
	w, closeOut, err := openOutput(*out, stdout)
	if err != nil {
		return err
	}
	err = render(w, res, *format, cat, *verbose)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_ = ctx
	if res.Worst() != finding.VerdictClean {
		return errFindings
	}
	return nil
}
