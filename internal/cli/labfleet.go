package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/exhunt/exhunt/internal/campaign"
	"github.com/exhunt/exhunt/internal/catalog"
)

const labFleetHelp = `Usage: exhunt lab fleet --out DIR [flags]

Writes a replay of the 2021 Exchange campaign as a security provider's
fleet saw it: organisations in the sectors of the 2021 reports, their
servers and builds, and the hunt results, scan results and decoy events
those servers would have sent from January to March 2021, in time order
(DIR/replay.jsonl.gz), with the fleet (DIR/fleet.json) and the ground
truth (DIR/truth.json): each server's final state, affected and exploited
counts per organisation and sector, and the organisations of the spike in
the night of 28 February.

Flags:
`

func runLabFleet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lab fleet", labFleetHelp, stderr)
	out := fs.String("out", "", "output folder (required)")
	orgs := fs.Int("orgs", 40, "organisations (at least 12)")
	servers := fs.Int("servers", 200, "servers in all (at least one per organisation)")
	seed := fs.Int64("seed", 1, "generator seed: the same seed gives the same bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return usageError("lab fleet: --out is required", "")
	}
	if *orgs < 12 || *servers < *orgs {
		return usageError("lab fleet: want --orgs of at least 12 and at least one server per organisation", "")
	}
	data, err := catalog.LoadData()
	if err != nil {
		return err
	}
	tr, err := campaign.Generate(ctx, campaign.Options{Out: *out, Orgs: *orgs, Servers: *servers, Seed: *seed, Builds: data.Builds})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d hunt results, %d scan results, %d decoy events in %s\n", tr.Counts["hunt"], tr.Counts["scan"], tr.Counts["decoy"], filepath.Join(*out, campaign.ReplayFile))
	fmt.Fprintf(stdout, "%-30s %5s %8s %9s\n", "sector", "orgs", "affected", "exploited")
	for _, s := range tr.Sectors {
		fmt.Fprintf(stdout, "%-30s %5d %8d %9d\n", s.Sector, s.Orgs, s.AffectedOrgs, s.ExploitedOrgs)
	}
	fmt.Fprintf(stdout, "spike: %d organisations between %s and %s\n", len(tr.Spike.Orgs), tr.Spike.From.Format("2006-01-02 15:04"), tr.Spike.To.Format("2006-01-02 15:04 MST"))
	return nil
}
