package spike

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC) // a Monday

// background adds scanning-like activity: per hour, each of orgs
// organisations is touched with a probability that follows the day (busy
// at night UTC, when the scanners' operators work) and the week (quieter
// at weekends).
func background(d *Detector, rng *rand.Rand, from, to time.Time, orgs int, rate float64) {
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		day := 1 + 0.6*math.Sin(2*math.Pi*float64(h.Hour())/24)
		week := 1.0
		if h.Weekday() == time.Saturday || h.Weekday() == time.Sunday {
			week = 0.6
		}
		for o := range orgs {
			if rng.Float64() < rate*day*week {
				d.Add(h.Add(time.Duration(rng.IntN(3600))*time.Second), fmt.Sprintf("org%02d", o), "exch01")
			}
		}
	}
}

func TestQuietHistoryNoAlert(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := New(DefaultConfig())
	end := t0.Add(6 * 7 * 24 * time.Hour)
	background(d, rng, t0, end, 40, 0.004)
	if a := d.Advance(end); len(a) != 0 {
		t.Errorf("%d alerts in six quiet weeks; first %+v", len(a), a[0])
	}
}

func TestSpikeAlertsAndNamesOrgs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := New(DefaultConfig())
	quiet := t0.Add(4 * 7 * 24 * time.Hour)
	background(d, rng, t0, quiet, 40, 0.004)
	if a := d.Advance(quiet); len(a) != 0 {
		t.Fatalf("alerts before the spike: %+v", a[0])
	}
	// A night: ten organisations hit over four hours.
	night := quiet.Add(20 * time.Hour)
	for i := range 10 {
		d.Add(night.Add(time.Duration(i*23)*time.Minute), fmt.Sprintf("victim%02d", i), "mail")
	}
	alerts := d.Advance(night.Add(12 * time.Hour))
	if len(alerts) == 0 {
		t.Fatal("no alert for ten organisations in one night")
	}
	a := alerts[0]
	if a.Hour.Before(night) || a.Hour.After(night.Add(5*time.Hour)) {
		t.Errorf("first alert at %v, the night began %v", a.Hour, night)
	}
	victims := 0
	for _, o := range a.OrgNames {
		if len(o) > 6 && o[:6] == "victim" {
			victims++
		}
	}
	if victims < 5 || a.Orgs != len(a.OrgNames) || a.Baseline.Samples < 30 || a.Baseline.Threshold >= float64(a.Orgs) {
		t.Errorf("alert %+v", a)
	}
	t.Logf("first alert %v: %d orgs (%d victims), baseline %+v", a.Hour, a.Orgs, victims, a.Baseline)
}

// TestPastSpikeDoesNotRaiseTheBar: a second spike a week after the first
// alerts as the first did.
func TestPastSpikeDoesNotRaiseTheBar(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := New(DefaultConfig())
	quiet := t0.Add(3 * 7 * 24 * time.Hour)
	background(d, rng, t0, quiet, 40, 0.004)
	spikeAt := func(at time.Time, tag string) {
		for i := range 12 {
			d.Add(at.Add(time.Duration(i*10)*time.Minute), fmt.Sprintf("%s%02d", tag, i), "mail")
		}
	}
	spikeAt(quiet.Add(2*time.Hour), "a")
	background(d, rng, quiet, quiet.Add(7*24*time.Hour), 40, 0.004)
	first := d.Advance(quiet.Add(7 * 24 * time.Hour))
	if len(first) == 0 {
		t.Fatal("first spike not seen")
	}
	second := quiet.Add(7*24*time.Hour + 2*time.Hour)
	spikeAt(second, "b")
	alerts := d.Advance(second.Add(24 * time.Hour))
	if len(alerts) == 0 {
		t.Fatal("a second spike a week later did not alert: the first raised the baseline")
	}
	if alerts[0].Baseline.Expected > 2 {
		t.Errorf("baseline after a past spike: %+v", alerts[0].Baseline)
	}
}

func TestNoAlertWithoutHistory(t *testing.T) {
	d := New(DefaultConfig())
	for i := range 20 {
		d.Add(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("o%d", i), "s")
	}
	if a := d.Advance(t0.Add(48 * time.Hour)); len(a) != 0 {
		t.Errorf("alert on a fleet with two days of history: %+v", a[0])
	}
}

// TestSteadyLoudFleetNoAlert: a fleet where many organisations are always
// touched (mass scanning) does not alert on its usual level.
func TestSteadyLoudFleetNoAlert(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	d := New(DefaultConfig())
	end := t0.Add(5 * 7 * 24 * time.Hour)
	background(d, rng, t0, end, 200, 0.02)
	if a := d.Advance(end); len(a) > 2 {
		t.Errorf("%d alerts on a steadily loud fleet; first %+v", len(a), a[0])
	}
}

func TestLateActivityJudgedOnce(t *testing.T) {
	d := New(Config{Window: 1, History: 7 * 24 * time.Hour, MinHistory: 0, K: 3, MinOrgs: 2, Lateness: time.Hour})
	d.Add(t0, "a", "s")
	d.Advance(t0.Add(90 * time.Minute)) // not yet: lateness
	if d.judged.After(t0) || !d.judged.IsZero() {
		t.Errorf("hour judged before its lateness passed: %v", d.judged)
	}
	d.Add(t0.Add(30*time.Minute), "b", "s")
	d.Advance(t0.Add(2 * time.Hour))
	if d.counts[t0] != 2 {
		t.Errorf("late activity within the allowance not counted: %d", d.counts[t0])
	}
}
