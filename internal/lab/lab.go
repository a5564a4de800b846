// Package lab generates synthetic Exchange evidence trees for testing and
// demonstrating the hunter: per server, the IIS, HttpProxy, ECP Server, OAB
// generator, remote PowerShell and EWS logs laid out as on a real Exchange
// server, with attack scenarios (ProxyLogon, ProxyShell, ProxyNotShell,
// OWASSRF, scans, failed attempts) mixed into realistic background traffic,
// and the ground truth a correct hunt must reproduce: the verdict, builds,
// attackers, mailboxes and every expected finding by file, line, rule and
// stage.
//
// Rows are written by internal/logs, the writers the decoy shares, in the
// formats real servers write, quirks included: HttpProxy rows with commas
// turned into two spaces, two field lists depending on the build, CSV-quoted
// ECP EventData, CRLF line ends. The lab adds the layout quirks: an optional
// bare header row, IIS restarts that start a new directive block mid-file
// (once with a different field order), gzipped rotated files and
// modification times set to each file's last line. Builds come from the
// Exchange build table (Options.Builds, by default the catalog's).
//
// Output is a pure function of Options: the same options give byte-identical
// trees, whatever the scheduling of the two worker goroutines.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"

	"github.com/exhunt/exhunt/internal/exchange"
)

// Options says what to generate.
type Options struct {
	Out     string // output folder; one sub-folder per server
	Servers int    // number of servers (>= 1)
	// Size is the approximate total bytes of log text across all servers
	// (headers and attack lines included, gzip not applied); 0 means about
	// 2 MB per server. Larger sizes also lengthen each server's window.
	Size int64
	Seed int64 // same seed and options give byte-identical output
	// Scenarios optionally sets the scenario of each server, cycled; by
	// default the demo mix is assigned in order, so with Servers >= 8 each
	// of its scenarios appears. See Scenarios.
	Scenarios []string
	// Builds is the Exchange build table the scenarios' builds come from;
	// nil means the catalog's shipped table.
	Builds *exchange.Table
}

// Truth is what a correct hunt over the tree finds; Generate also writes it
// to Out/ground-truth.json.
type Truth struct {
	Seed    int64         `json:"seed"`
	Servers []ServerTruth `json:"servers"`
}

// ServerTruth is the expected result for one server.
type ServerTruth struct {
	// Name is the folder name and the host name in the logs, e.g. EXCH01.
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	// Verdict is the highest verdict implied by the findings' stages.
	Verdict string `json:"verdict"`
	// Inconclusive is true when, at the first log line, the server's build
	// was exposed to a chain already exploited in the wild (see Exposed).
	Inconclusive bool     `json:"inconclusive"`
	Build        string   `json:"build"`       // build current at the end of the logs
	BuildsSeen   []string `json:"builds_seen"` // in order
	// Attackers are the client IPs of lines that trigger findings, sorted.
	// The server's own address (the client of back-end lines) and loopback
	// are not attackers.
	Attackers []string `json:"attackers"`
	// Mailboxes are the mailboxes an attacker read or exported, sorted.
	Mailboxes []string          `json:"mailboxes"`
	Findings  []ExpectedFinding `json:"findings"` // sorted by file, line, rule
}

// ExpectedFinding is one rule hit the hunter must report.
type ExpectedFinding struct {
	Rule string `json:"rule"`
	// File is relative to Options.Out, '/'-separated, starting with the
	// server folder; gzipped files keep their .gz suffix.
	File  string `json:"file"`
	Line  int64  `json:"line"`  // 1-based physical line, header lines counted; 0 for a finding about a whole file
	Stage string `json:"stage"` // expected stage
	// Supporting findings do not raise the verdict on their own; they
	// count once another finding shows an exploit reached the server.
	Supporting bool `json:"supporting,omitempty"`
}

// TruthFile is the name of the ground-truth document in Options.Out.
const TruthFile = "ground-truth.json"

const defaultServerSize = 2 << 20

var serverName = regexp.MustCompile(`^EXCH[0-9]+$`)

// Generate writes the evidence trees and Out/ground-truth.json. Server
// folders left by an earlier run (as listed in its ground-truth.json) are
// replaced; any other existing server folder is an error.
func Generate(ctx context.Context, opt Options) (*Truth, error) {
	if opt.Servers < 1 {
		return nil, errors.New("lab: need at least one server")
	}
	if opt.Out == "" {
		return nil, errors.New("lab: no output folder")
	}
	if opt.Size < 0 {
		return nil, errors.New("lab: negative size")
	}
	scenarios := opt.Scenarios
	if len(scenarios) == 0 {
		scenarios = defaultScenarios
	}
	for _, s := range scenarios {
		if !slices.Contains(Scenarios(), s) {
			return nil, fmt.Errorf("lab: unknown scenario %q (known: %v)", s, Scenarios())
		}
	}
	builds := opt.Builds
	if builds == nil {
		var err error
		if builds, err = shippedBuilds(); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	per := int64(defaultServerSize)
	if opt.Size > 0 {
		per = opt.Size / int64(opt.Servers)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gens := make([]*gen, opt.Servers)
	gzipped := -1
	for i := range gens {
		g := &gen{
			ctx:      ctx,
			out:      opt.Out,
			idx:      i,
			name:     fmt.Sprintf("EXCH%02d", i+1),
			scenario: scenarios[i%len(scenarios)],
			budget:   per,
			// Big servers get longer windows: a day more per 48 MB, up to
			// three weeks, so volume per hour stays plausible.
			extra:      min(per/(48<<20), 21) * day,
			rng:        rand.New(rand.NewPCG(uint64(opt.Seed), 0x9E3779B97F4A7C15*uint64(i+1))),
			bareHeader: i%4 == 1,
			altIIS:     i%4 == 2,
			usedIPs:    map[string]bool{},
			builds:     builds,
		}
		if gzipped < 0 && g.scenario == scScanOnly {
			gzipped = i
		}
		gens[i] = g
	}
	// Gzip the oldest files of one server: the first scan-only one, whose
	// scans start on the first morning so findings land in .gz files.
	gens[max(gzipped, 0)].gz = true
	if err := prepareOut(opt.Out, gens); err != nil {
		return nil, err
	}

	truth := &Truth{Seed: opt.Seed, Servers: make([]ServerTruth, len(gens))}
	lasts := make([]int64, len(gens))
	errs := make([]error, len(gens))
	next := make(chan int)
	var wg sync.WaitGroup
	// Two workers: enough to keep two cores busy, and servers are
	// independent, so output does not depend on scheduling.
	for range min(2, len(gens)) {
		wg.Go(func() {
			for i := range next {
				st, err := gens[i].run()
				if err != nil {
					errs[i] = fmt.Errorf("lab: %s: %w", gens[i].name, err)
					cancel()
					continue
				}
				truth.Servers[i] = *st
				lasts[i] = gens[i].last
				gens[i] = nil // let the server's buffers go
			}
		})
	}
	for i := range gens {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return nil, err
	}
	name := filepath.Join(opt.Out, TruthFile)
	if err := os.WriteFile(name, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	// Like the logs, the truth is dated by its content, not the clock.
	mt := toTime(slices.Max(lasts))
	if err := os.Chtimes(name, mt, mt); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return truth, nil
}

// prepareOut creates Out and removes the server folders of an earlier run,
// found through its ground-truth.json, so reruns give identical trees.
// It never removes a folder it did not write.
func prepareOut(out string, gens []*gen) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if data, err := os.ReadFile(filepath.Join(out, TruthFile)); err == nil {
		var old Truth
		if err := json.Unmarshal(data, &old); err != nil {
			return fmt.Errorf("lab: read earlier %s: %w", TruthFile, err)
		}
		for _, s := range old.Servers {
			if serverName.MatchString(s.Name) {
				if err := os.RemoveAll(filepath.Join(out, s.Name)); err != nil {
					return fmt.Errorf("lab: %w", err)
				}
			}
		}
	}
	for _, g := range gens {
		if _, err := os.Lstat(filepath.Join(out, g.name)); err == nil {
			return fmt.Errorf("lab: %s already exists and was not written by lab", filepath.Join(out, g.name))
		}
	}
	return nil
}
