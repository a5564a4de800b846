package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/exhunt/exhunt/internal/lab"
)

const labHelp = `Usage: exhunt lab generate --out DIR [flags]

Writes evidence trees in the real Exchange and IIS layouts and formats, one
sub-folder per server: background traffic plus attack scenarios, and
DIR/ground-truth.json with the verdict and findings expected per server.
Scenarios: ` + "%s" + `

Flags:
`

const labUsage = `Usage:
  exhunt lab generate --out DIR [flags]  evidence trees of Exchange servers with attacks and ground truth
  exhunt lab fleet --out DIR [flags]     a fleet's hunt, scan and decoy results replaying the 2021 campaign

Run "exhunt lab generate -h" or "exhunt lab fleet -h" for their flags.
`

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "fleet":
		return runLabFleet(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && isHelp(args[0]):
		fmt.Fprint(stderr, labUsage)
		return flag.ErrHelp
	case len(args) == 0 || args[0] != "generate":
		fmt.Fprint(stderr, labUsage)
		return usageError("lab: want \"exhunt lab generate\" or \"exhunt lab fleet\"", "")
	}
	fs := newFlags("lab generate", fmt.Sprintf(labHelp, strings.Join(lab.Scenarios(), ", ")), stderr)
	out := fs.String("out", "", "output folder (required)")
	servers := fs.Int("servers", 8, "number of servers")
	size := fs.String("size", "0", "approximate total size of background traffic, e.g. 500MB or 2GB (0: small)")
	seed := fs.Int64("seed", 1, "generator seed: the same seed gives the same bytes")
	scen := fs.String("scenarios", "", "comma-separated scenarios, one per server (cycled)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usageError("lab generate: --out is required", "")
	}
	if *servers < 1 {
		return usageError("lab generate: --servers must be at least 1", "")
	}
	n, err := parseSize(*size)
	if err != nil {
		return usageError(err.Error(), "")
	}
	opt := lab.Options{Out: *out, Servers: *servers, Size: n, Seed: *seed}
	if *scen != "" {
		opt.Scenarios = strings.Split(*scen, ",")
	}
	truth, err := lab.Generate(ctx, opt)
	if err != nil {
		return err
	}
	for _, s := range truth.Servers {
		fmt.Fprintf(stdout, "%-10s %-22s expected %-11s %d findings\n", s.Name, s.Scenario, s.Verdict, len(s.Findings))
	}
	return nil
}
