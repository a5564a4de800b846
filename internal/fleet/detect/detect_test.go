package detect

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

func TestBaselineFollowsCycleAndIgnoresPastSpikes(t *testing.T) {
	counts := map[int64]int{}
	const h0 = int64(450000) // an hour since the epoch (2021)
	for h := h0 - 5*168; h < h0; h++ {
		if (h%24) >= 8 && (h%24) < 18 {
			counts[h] = 6 // busy day hours
		} else {
			counts[h] = 1
		}
	}
	day := h0 - h0%24 + 24 + 10 // 10:00 the next day
	night := day - 8            // 02:00
	bd, bn := Baseline(counts, nil, day), Baseline(counts, nil, night)
	if bd.Median != 6 || bn.Median != 1 {
		t.Fatalf("daily cycle: day median %v, night median %v", bd.Median, bn.Median)
	}
	// Eight organisations at night is a spike; at midday it is not.
	if !(8 > bn.Threshold) || 8 > bd.Threshold {
		t.Fatalf("thresholds: night %v day %v", bn.Threshold, bd.Threshold)
	}
	// A past spike, left out as the detector does, leaves the bar where it was.
	counts[night-24], counts[night-48] = 30, 30
	skip := map[int64]bool{night - 24: true, night - 48: true}
	if b := Baseline(counts, skip, night); b.Threshold != bn.Threshold {
		t.Fatalf("past spikes moved the threshold: %v -> %v", bn.Threshold, b.Threshold)
	}
}

// TestSpikeOverStoredActivity ingests five weeks of decoy activity from 20
// organisations with a daily cycle, one earlier spike and one final spike,
// and expects exactly the two spike alerts.
func TestSpikeOverStoredActivity(t *testing.T) {
	ctx := context.Background()
	const orgs = 20
	s := newFleet(t, orgs, "law")
	s.SetAlerter(Changes{})
	start := time.Date(2021, 1, 25, 0, 0, 0, 0, time.UTC)
	spike1 := time.Date(2021, 2, 10, 23, 0, 0, 0, time.UTC)
	spike2 := time.Date(2021, 2, 28, 23, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 7))
	d := &Spikes{Store: s}
	var alerts []store.Alert
	for day := start; day.Before(spike2.Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
		events := map[int][]decoy.Event{}
		for h := range 24 {
			at := day.Add(time.Duration(h) * time.Hour)
			n := r.IntN(2)
			if h >= 8 && h < 18 {
				n = 2 + r.IntN(3)
			}
			touched := r.Perm(orgs)[:n]
			if at.Equal(spike1) || at.Equal(spike2) {
				touched = r.Perm(orgs)[:10]
			}
			for _, o := range touched {
				events[o] = append(events[o], decoy.Event{Time: at.Add(time.Duration(r.IntN(3600)) * time.Second), Server: "DECOY1", Client: "198.51.100.4:4431",
					Method: "GET", URI: "/owa/auth/x.js", Class: "probe", Kind: "probe"})
			}
		}
		ingestDecoys(t, s, events, day, day)
		a, err := d.Evaluate(ctx, day.Add(24*time.Hour), day)
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a...)
	}
	if len(alerts) != 2 || !alerts[0].At.Equal(spike1) || !alerts[1].At.Equal(spike2) {
		for _, a := range alerts {
			t.Log(a.Title)
		}
		t.Fatalf("%d spike alerts, want exactly at %s and %s", len(alerts), spike1, spike2)
	}
	if b := alerts[1].Baseline; len(alerts[1].Orgs) < 10 || b == nil || b.Median > 1 || len(b.Samples) != Weeks+Days-1 { // a week ago is both a week and seven days back
		t.Fatalf("second alert: orgs %v baseline %+v", alerts[1].Orgs, b)
	}
	stored, _ := s.Alerts(ctx, store.All, store.AlertFilter{Kind: "spike"})
	if len(stored) != 2 {
		t.Fatalf("stored spike alerts: %d", len(stored))
	}
	// Evaluating again raises nothing new.
	if a, _ := d.Evaluate(ctx, spike2.Add(24*time.Hour), spike2); len(a) != 0 {
		t.Fatalf("re-evaluation raised %d", len(a))
	}
	// A detector that read the same last hour and evaluated the spike hour
	// too (two serve replicas between leases) finds the hour recorded:
	// no second alert.
	again := alerts[1]
	again.ID = ""
	if err := s.RecordSpikeHour(ctx, *again.Baseline, true, &again, spike2); err != nil {
		t.Fatal(err)
	}
	if stored, _ := s.Alerts(ctx, store.All, store.AlertFilter{Kind: "spike"}); len(stored) != 2 {
		t.Fatalf("a spike hour recorded twice: %d spike alerts", len(stored))
	}
}

// TestBackfillIsBaselineOnly loads three weeks of history, a spike among
// them, before the detector's first look: that look alerts on nothing, the
// old spike stays out of the baseline, and a spike after it alerts.
func TestBackfillIsBaselineOnly(t *testing.T) {
	ctx := context.Background()
	const orgs = 20
	s := newFleet(t, orgs, "ngo")
	start := time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC)
	old := time.Date(2021, 1, 15, 2, 0, 0, 0, time.UTC)
	live := time.Date(2021, 1, 27, 2, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 9))
	ingest := func(from, to time.Time) {
		events := map[int][]decoy.Event{}
		for at := from; at.Before(to); at = at.Add(time.Hour) {
			touched := r.Perm(orgs)[:r.IntN(2)]
			if at.Equal(old) || at.Equal(live) {
				touched = r.Perm(orgs)[:9]
			}
			for _, o := range touched {
				events[o] = append(events[o], decoy.Event{Time: at.Add(time.Duration(r.IntN(3600)) * time.Second), Server: "DECOY1",
					Client: "203.0.113.9:5120", Method: "POST", URI: "/ecp/y.js", Class: "exploit", Kind: "ssrf"})
			}
		}
		ingestDecoys(t, s, events, from, to)
	}
	d := &Spikes{Store: s}
	backfilled := time.Date(2021, 1, 25, 0, 0, 0, 0, time.UTC)
	ingest(start, backfilled)
	if a, err := d.Evaluate(ctx, backfilled, backfilled); err != nil || len(a) != 0 {
		t.Fatalf("first look at back-filled history: %d alerts (%v), want none", len(a), err)
	}
	if skip, _ := s.SpikeHours(ctx, old.Unix()/3600, old.Unix()/3600+1); !skip[old.Unix()/3600] {
		t.Fatalf("the back-filled spike at %s is not kept out of the baseline", old)
	}
	var alerts []store.Alert
	for day := backfilled; day.Before(live.Add(48 * time.Hour)); day = day.Add(24 * time.Hour) {
		ingest(day, day.Add(24*time.Hour))
		a, err := d.Evaluate(ctx, day.Add(24*time.Hour), day)
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a...)
	}
	if len(alerts) != 1 || !alerts[0].At.Equal(live) || len(alerts[0].Orgs) != 9 {
		for _, a := range alerts {
			t.Log(a.Title)
		}
		t.Fatalf("%d spike alerts after the watch began, want one at %s naming 9 organisations", len(alerts), live)
	}
}

// newFleet opens a SQLite store with organisations org00, org01... of one
// sector.
func newFleet(t *testing.T, orgs int, sector string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range orgs {
		if err := s.CreateOrg(context.Background(), store.Org{ID: fmt.Sprintf("org%02d", i), Name: "Org", Sector: sector}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// ingestDecoys stores each organisation's decoy events (by org index) as
// one run, named after the day they start, received at received.
func ingestDecoys(t *testing.T, s *store.Store, events map[int][]decoy.Event, day, received time.Time) {
	t.Helper()
	for o, ev := range events {
		m := &fleet.Run{SchemaVersion: 1, Type: fleet.TypeDecoy, RunID: fmt.Sprintf("d-%s-%d", day.Format("0102"), o), Org: fmt.Sprintf("org%02d", o), Decoy: ev}
		if _, err := s.Ingest(context.Background(), m, received); err != nil {
			t.Fatal(err)
		}
	}
}
