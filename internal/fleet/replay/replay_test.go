package replay

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestCampaignReplay is the acceptance run: the 2021 campaign over 40
// organisations and 200 servers, ingested in time order.
func TestCampaignReplay(t *testing.T) {
	dir := t.TempDir()
	opt := fleetlab.FleetOptions{Out: dir, Orgs: 40, Servers: 200, Seed: 1}
	if raceEnabled {
		opt.Orgs, opt.Servers = 16, 32
	}
	truth, err := fleetlab.GenerateFleet(opt)
	if err != nil {
		t.Fatal(err)
	}
	backends := pgtest.Backends
	if raceEnabled {
		backends = postgresOnly
	}
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetAlerter(detect.Changes{})
		start := time.Now()
		runs, err := Load(ctx, s, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d runs in %s", runs, time.Since(start))
		spikes, err := s.Alerts(ctx, store.All, store.AlertFilter{Kind: "spike", Limit: 1000})
		if err != nil || len(spikes) == 0 {
			t.Fatalf("no spike alert: %v", err)
		}
		first := spikes[0]
		checkSpike(t, first, truth.Spike.Orgs)
		if first.Baseline == nil {
			t.Fatalf("first spike without its baseline: %s", first.Title)
		}
		// The January intrusions: compromise alerts, not a spike.
		states, _ := s.Alerts(ctx, store.All, store.AlertFilter{Kind: store.ChangeServerState, Limit: 1000})
		for _, org := range truth.Targets {
			found := false
			for _, a := range states {
				if slices.Contains(a.Orgs, org) && a.At.Before(time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)) {
					found = true
				}
			}
			if !found {
				t.Errorf("no January compromise alert for %s", org)
			}
		}
		// Every server's state, and the counts per organisation and sector.
		got := map[string]fleet.State{}
		for page := 0; ; page++ {
			l, err := s.Servers(ctx, store.All, "", page*100, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range l {
				got[r.Org+"/"+r.Name] = r.State
			}
			if len(l) < 100 {
				break
			}
		}
		if len(got) != len(truth.Servers) {
			t.Fatalf("%d servers stored, truth has %d", len(got), len(truth.Servers))
		}
		for _, ts := range truth.Servers {
			if got[ts.Org+"/"+ts.Name] != ts.State {
				t.Errorf("%s/%s: state %s, truth %s", ts.Org, ts.Name, got[ts.Org+"/"+ts.Name], ts.State)
			}
		}
		perOrg, perSector, err := s.Overview(ctx, store.All)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range perOrg {
			if w := truth.PerOrg[c.Key]; c.Affected != w[0] || c.Exploited != w[1] {
				t.Errorf("org %s: affected/exploited %d/%d, truth %v", c.Key, c.Affected, c.Exploited, w)
			}
		}
		for _, c := range perSector {
			if w := truth.PerSec[c.Key]; c.Affected != w[0] || c.Exploited != w[1] {
				t.Errorf("sector %s: affected/exploited %d/%d, truth %v", c.Key, c.Affected, c.Exploited, w)
			}
		}
		// Replaying it all again changes nothing.
		before, _ := s.Alerts(ctx, store.All, store.AlertFilter{Limit: 100000})
		if _, err := Load(ctx, s, dir); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Alerts(ctx, store.All, store.AlertFilter{Limit: 100000})
		if len(after) != len(before) {
			t.Fatalf("replaying again: %d alerts -> %d", len(before), len(after))
		}
	})
}

// postgresOnly runs the campaign on PostgreSQL alone: under the race
// detector the pure-Go SQLite ingest of it takes over ten minutes. The
// SQLite run is the same test without -race.
func postgresOnly(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("postgres", func(t *testing.T) { f(t, pgtest.Shared(t).NewDB(t)) })
}

// checkSpike requires the spike alert of the night of 28 February: within
// the acceptance window and naming at least 8 of the spike's
// organisations.
func checkSpike(t *testing.T, a store.Alert, orgs []string) {
	t.Helper()
	lo, hi := time.Date(2021, 2, 28, 18, 0, 0, 0, time.UTC), time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	if a.At.Before(lo) || a.At.After(hi) {
		t.Fatalf("first spike alert at %s (%s), want between %s and %s", a.At, a.Title, lo, hi)
	}
	named := 0
	for _, o := range orgs {
		if slices.Contains(a.Orgs, o) {
			named++
		}
	}
	t.Logf("first spike: %s, names %d of %d spike organisations", a.At, named, len(orgs))
	if named < 8 {
		t.Fatalf("first spike names %d of the spike's organisations: %v", named, a.Orgs)
	}
}
