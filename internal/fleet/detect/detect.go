// Package detect raises the fleet's alerts: the hourly spike of
// organisations touched, measured against a robust baseline, and the
// per-ingest changes (first exploitation at an organisation, a server
// becoming compromised or exploited, an attacker address or web-shell hash
// reaching a new organisation).
package detect

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/store"
)

// Changes turns ingest changes into alerts; it is the store's Alerter.
type Changes struct{}

// Alerts implements store.Alerter.
func (Changes) Alerts(cs []store.Change) []store.Alert {
	var out []store.Alert
	for _, c := range cs {
		a := store.Alert{Kind: c.Kind, At: c.At, Orgs: []string{c.Org}, Evidence: c.Evidence}
		if c.Server != "" {
			a.Servers = []string{c.Org + "/" + c.Server}
		}
		switch c.Kind {
		case store.ChangeFirstExploitation:
			a.Title = fmt.Sprintf("First exploitation-stage finding at %s (%s)", c.Org, c.Server)
		case store.ChangeServerState:
			a.Title = fmt.Sprintf("%s/%s is now %s (was %s)", c.Org, c.Server, c.To, c.From)
		case store.ChangeIndicatorNewOrg:
			what := map[string]string{"ip": "Attacker address", "shell_hash": "Web-shell hash"}[c.IndicatorKind]
			a.Title = fmt.Sprintf("%s %s reached %s, seen before at %d other organisation(s)", what, c.Indicator, c.Org, len(c.OtherOrgs))
			a.Orgs = append(a.Orgs, c.OtherOrgs...)
		default:
			continue
		}
		out = append(out, a)
	}
	return out
}

// Spike parameters.
const (
	// Weeks of same-hour-of-week samples and days of same-hour-of-day
	// samples in the baseline: the weekly and the daily cycle.
	Weeks = 4
	Days  = 7
	// K is how many scaled MADs above the median alert.
	K = 4.0
	// MinJump is the least number of organisations above the median that
	// alerts: with a quiet fleet the MAD is 0 and one more org is no spike.
	MinJump = 4
)

// Baseline computes the figures for hour h from counts per hour (hours
// since the epoch). Hours in skip (past spike hours) are left out of the
// samples, so a spike does not raise the bar for the next one.
func Baseline(counts map[int64]int, skip map[int64]bool, h int64) store.Baseline {
	var samples []int
	seen := map[int64]bool{}
	add := func(x int64) {
		if x < 0 || seen[x] || skip[x] {
			return
		}
		seen[x] = true
		samples = append(samples, counts[x])
	}
	for w := int64(1); w <= Weeks; w++ {
		add(h - w*168)
	}
	for d := int64(1); d <= Days; d++ {
		add(h - d*24)
	}
	med := median(samples)
	dev := make([]int, 0, len(samples))
	for _, s := range samples {
		dev = append(dev, int(math.Abs(float64(s)-med)*2)) // halves kept exact
	}
	mad := median(dev) / 2
	thr := med + math.Max(K*1.4826*mad, MinJump)
	return store.Baseline{Hour: time.Unix(h*3600, 0).UTC(), Orgs: counts[h], Median: med, MAD: mad, Threshold: thr, Samples: samples}
}

func median(v []int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return float64(s[n/2-1]+s[n/2]) / 2
}

// Spikes evaluates closed hours in order and raises one alert per run of
// consecutive hours above the baseline.
type Spikes struct {
	Store *store.Store
	// History is how far back counts are read: the baseline's reach.
	History time.Duration
}

// Evaluate checks every hour from the one after the last evaluated up to
// (not including) the hour of upTo.
//
// The first evaluation of a store records its hours without alerting: they
// were history when the watch began. Back-filled hunts each reach back as
// far as their server's logs do, so early hours fill in as coverage begins,
// not as attacks do, and a page for a month-old hour helps nobody on call.
// Those hours still feed the baseline, spikes among them included.
func (d *Spikes) Evaluate(ctx context.Context, upTo time.Time, now time.Time) ([]store.Alert, error) {
	last, ok, err := d.Store.LastSpikeHour(ctx)
	if err != nil {
		return nil, err
	}
	backfill := !ok
	end := upTo.Unix() / 3600
	first, err := d.Store.FirstActivity(ctx)
	if err != nil || first.IsZero() {
		return nil, err
	}
	start := first.Unix() / 3600
	if ok {
		start = last + 1
	}
	// A store loaded with old data starts the watch at most five weeks back.
	start = max(start, end-5*168)
	// No alert before the baseline has a week of history to stand on.
	warm := first.Unix()/3600 + Days*24
	if start >= end {
		return nil, nil
	}
	reach := int64(Weeks*168 + 1)
	acts, err := d.Store.Activity(ctx, store.All, time.Unix((start-reach)*3600, 0), time.Unix(end*3600, 0))
	if err != nil {
		return nil, err
	}
	counts, servers := map[int64]int{}, map[int64]int{}
	for _, a := range acts {
		counts[a.Hour.Unix()/3600] = a.Orgs
		servers[a.Hour.Unix()/3600] = a.Servers
	}
	skip, err := d.Store.SpikeHours(ctx, start-reach, start)
	if err != nil {
		return nil, err
	}
	var out []store.Alert
	for h := start; h < end; h++ {
		b := Baseline(counts, skip, h)
		b.Servers = servers[h]
		over := float64(b.Orgs) > b.Threshold && h >= warm
		var alert *store.Alert
		if over && !skip[h-1] && !backfill {
			orgs, srv, err := d.Store.HourTouched(ctx, b.Hour)
			if err != nil {
				return nil, err
			}
			bb := b
			alert = &store.Alert{Kind: "spike", At: b.Hour, Orgs: orgs, Servers: srv, Baseline: &bb,
				Title: fmt.Sprintf("Spike: %d organisations (%d servers) with Exchange-targeted activity in the hour from %s UTC; baseline median %.1f, MAD %.1f, threshold %.1f",
					b.Orgs, b.Servers, b.Hour.Format("2006-01-02 15:04"), b.Median, b.MAD, b.Threshold),
				Evidence: []string{"organisations: " + strings.Join(orgs, ", ")}}
		}
		if over {
			skip[h] = true
		}
		if err := d.Store.RecordSpikeHour(ctx, b, over, alert, now); err != nil {
			return nil, err
		}
		if alert != nil {
			out = append(out, *alert)
		}
	}
	return out, nil
}
