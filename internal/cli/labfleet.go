package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/visible"
)

const labFleetHelp = `Usage: exhunt lab fleet --out DIR [flags]

Writes a replay of the 2021 Exchange campaign as a security provider's
fleet saw it: organisations in the sectors of the 2021 reports, their
servers, and the runs those servers would have pushed to a fleet server
from January to March 2021, as ingest messages in time order
(DIR/replay.jsonl), with the organisations (DIR/orgs.json) and the ground
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
	tr, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: *out, Orgs: *orgs, Servers: *servers, Seed: uint64(*seed)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d runs in %s\n", tr.Runs, filepath.Join(*out, "replay.jsonl"))
	fmt.Fprintf(stdout, "%-30s %9s %9s\n", "sector", "affected", "exploited")
	sectors := make([]string, 0, len(tr.PerSec))
	for s := range tr.PerSec {
		sectors = append(sectors, s)
	}
	slices.Sort(sectors)
	for _, s := range sectors {
		fmt.Fprintf(stdout, "%-30s %9d %9d\n", visible.String(s), tr.PerSec[s][0], tr.PerSec[s][1])
	}
	fmt.Fprintf(stdout, "spike: %d organisations between %s and %s\n", len(tr.Spike.Orgs), tr.Spike.Start.Format("2006-01-02 15:04"), tr.Spike.End.Format("2006-01-02 15:04 MST"))
	return nil
}
