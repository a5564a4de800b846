// Package replay loads a fleet replay (exhunt lab fleet) into a store in
// time order, running the spike detector as the hours close, as a live
// server would have seen the campaign.
package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// Lag is how long after an hour ends its evidence is taken as complete:
// hunts report within it.
const Lag = 2 * time.Hour

// Load creates the replay's organisations and ingests its messages.
func Load(ctx context.Context, s *store.Store, dir string) (runs int, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "orgs.json"))
	if err != nil {
		return 0, err
	}
	var orgs []fleetlab.FleetOrg
	if err := json.Unmarshal(b, &orgs); err != nil {
		return 0, fmt.Errorf("orgs.json: %w", err)
	}
	for _, o := range orgs {
		if err := s.EnsureOrg(ctx, store.Org{ID: o.ID, Name: o.Name, Sector: o.Sector}, time.Now()); err != nil {
			return 0, err
		}
	}
	f, err := os.Open(filepath.Join(dir, "replay.jsonl"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sp := &detect.Spikes{Store: s}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	var latest time.Time
	for sc.Scan() {
		line++
		m, err := fleet.Decode(bytesReader(sc.Bytes()))
		if err != nil {
			return runs, fmt.Errorf("replay.jsonl:%d: %w", line, err)
		}
		t := m.Started()
		if _, err := s.Ingest(ctx, m, t); err != nil {
			return runs, fmt.Errorf("replay.jsonl:%d: %w", line, err)
		}
		runs++
		if t.After(latest) {
			// Hours close as the newest evidence moves past them.
			if t.Add(-Lag).Truncate(time.Hour).After(latest.Add(-Lag).Truncate(time.Hour)) {
				if _, err := sp.Evaluate(ctx, t.Add(-Lag), t); err != nil {
					return runs, err
				}
			}
			latest = t
		}
	}
	if err := sc.Err(); err != nil {
		return runs, err
	}
	_, err = sp.Evaluate(ctx, latest.Add(time.Hour), latest)
	return runs, err
}
