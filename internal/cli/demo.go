package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/lab"
	"github.com/exhunt/exhunt/internal/report"
)

const demoHelp = `Usage: exhunt demo [flags]

Generates evidence for eight Exchange servers (one clean, the others hit by
scans, failed attempts, ProxyLogon, mailbox theft, ProxyShell,
ProxyNotShell/OWASSRF, and a patch installed mid-way) into a temporary
folder, hunts it and prints the verdicts. The folder is kept so you can read
the evidence; its path is printed.

Flags:
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", demoHelp, stderr)
	format := fs.String("format", "text", "output format: text, json or jsonl")
	keep := fs.String("dir", "", "write the evidence here instead of a new temporary folder")
	seed := fs.Int64("seed", 1, "generator seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "exhunt-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	truth, err := lab.Generate(ctx, lab.Options{Out: dir, Servers: 8, Seed: *seed})
	if err != nil {
		return fmt.Errorf("generate demo evidence: %w", err)
	}
	fmt.Fprintf(stderr, "exhunt: demo evidence for %d servers written to %s\n", len(truth.Servers), dir)
	set, err := evidence.Discover(ctx, []string{dir}, evidence.Options{})
	if err != nil {
		return err
	}
	// The demo succeeded when it showed its findings; it exits 0.
	res, err := huntSet(ctx, set, []string{dir}, huntFlags{format: *format, maxPer: 1000, quiet: true}, stdout, stderr)
	if err != nil {
		return err
	}
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		return err
	}
	if err := report.HTML(f, res); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exhunt: HTML report written to %s\n", page)
	if *format == "text" {
		fmt.Fprintf(stdout, "HTML report: %s\n", page)
	}
	return nil
}
