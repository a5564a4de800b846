// Package spike notices a fleet-wide jump in Exchange-targeted activity as
// it starts: the number of organisations with new activity in the last
// hours, against a baseline learned from the fleet's own history.
//
// The statistic, per hour H, is the number of distinct organisations with
// activity in the Window hours ending at H (a night's intrusions spread over
// several hours count together). Its baseline is the median of the same
// statistic at the same hour of day over the trailing History days, scaled
// by the weekday's share of activity (the weekly cycle), with the median
// absolute deviation as its spread. Hours that raised an alert are left out
// of later baselines, and medians ignore the odd loud hour, so past spikes
// do not raise the bar for the next one. An alert needs the count to pass
// both the robust threshold (baseline + K spreads) and an absolute floor.
package spike

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Config sets the detector's window and thresholds.
type Config struct {
	// Window is how many hours of activity one count covers.
	Window int
	// History is how far back the baseline looks.
	History time.Duration
	// MinHistory is the history needed before any alert: a new fleet has
	// no baseline.
	MinHistory time.Duration
	// K is how many robust spreads above the baseline an alert needs.
	K float64
	// MinOrgs is the least count that can alert, whatever the baseline.
	MinOrgs int
	// Lateness is how long after an hour ends activity may still arrive
	// for it (hunt results come in after the fact); the hour is judged
	// then.
	Lateness time.Duration
}

// DefaultConfig suits a provider's fleet of tens to thousands of
// organisations.
func DefaultConfig() Config {
	return Config{Window: 6, History: 28 * 24 * time.Hour, MinHistory: 7 * 24 * time.Hour, K: 4, MinOrgs: 5, Lateness: time.Hour}
}

// Baseline is what an hour's count was compared with.
type Baseline struct {
	// Median of the same statistic at this hour of day over the history,
	// before the weekday factor.
	Median float64 `json:"median"`
	// MAD is the median absolute deviation of those samples.
	MAD float64 `json:"mad"`
	// WeekdayFactor scales the median for this day of the week.
	WeekdayFactor float64 `json:"weekday_factor"`
	// Expected is Median × WeekdayFactor; Threshold what an alert needs.
	Expected  float64 `json:"expected"`
	Threshold float64 `json:"threshold"`
	// Samples is how many past hours the baseline rests on.
	Samples int `json:"samples"`
}

// Alert is one hour whose count passed its threshold. Consecutive alerting
// hours form one episode: each carries the episode's start, and the
// organisations and servers of every window of the episode so far, so the
// last alert of an episode names everyone it touched.
type Alert struct {
	// Episode is the first hour of the run of alerting hours.
	Episode time.Time `json:"episode"`
	// Hour is the start of the hour that closed the window.
	Hour time.Time `json:"hour"`
	// WindowStart is the start of the window's first hour.
	WindowStart time.Time `json:"window_start"`
	// Orgs and Servers are this hour's window's counts.
	Orgs    int `json:"orgs"`
	Servers int `json:"servers"`
	// OrgNames and ServerNames are those with activity in the episode's
	// windows so far; a server is named "SERVER (ORG)".
	OrgNames    []string `json:"org_names"`
	ServerNames []string `json:"server_names"`
	Baseline    Baseline `json:"baseline"`
}

type bucket struct {
	orgs, servers map[string]bool
}

// Detector takes activity and says which hours spike. It is not safe for
// concurrent use.
type Detector struct {
	cfg     Config
	buckets map[time.Time]*bucket
	// counts holds the windowed statistic of every judged hour; alerted
	// hours are kept out of later baselines.
	counts  map[time.Time]int
	alerted map[time.Time]bool
	first   time.Time
	judged  time.Time // the last hour judged
	latest  time.Time // the latest activity seen
	// The open episode: names seen in its windows so far.
	episode                 time.Time
	episodeOrgs, episodeSrv map[string]bool
}

// New returns a detector.
func New(cfg Config) *Detector {
	if cfg.Window < 1 {
		cfg.Window = 1
	}
	return &Detector{cfg: cfg, buckets: map[time.Time]*bucket{}, counts: map[time.Time]int{}, alerted: map[time.Time]bool{}}
}

// Add records activity of an organisation's server at t. Activity for an
// hour already judged is too late to change that judgement and is dropped
// from the detector (it still counts for the windows of later hours).
func (d *Detector) Add(t time.Time, org, server string) {
	h := t.UTC().Truncate(time.Hour)
	if d.first.IsZero() || h.Before(d.first) {
		d.first = h
	}
	if t.After(d.latest) {
		d.latest = t
	}
	b := d.buckets[h]
	if b == nil {
		b = &bucket{orgs: map[string]bool{}, servers: map[string]bool{}}
		d.buckets[h] = b
	}
	b.orgs[org] = true
	b.servers[org+"\x00"+server] = true
}

// Advance judges every hour that has ended at least Lateness before now
// (the time the caller has data up to: the clock, or a replay's time) and
// returns the alerts, oldest first.
func (d *Detector) Advance(now time.Time) []Alert {
	if d.first.IsZero() {
		return nil
	}
	var out []Alert
	h := d.judged.Add(time.Hour)
	if d.judged.IsZero() {
		h = d.first
	}
	for ; !h.Add(time.Hour + d.cfg.Lateness).After(now); h = h.Add(time.Hour) {
		if a, ok := d.judge(h); ok {
			out = append(out, a)
		}
		d.judged = h
	}
	d.prune(h)
	return out
}

// window returns the organisations and servers active in the window
// ending with hour h.
func (d *Detector) window(h time.Time) (orgs, servers map[string]bool) {
	orgs, servers = map[string]bool{}, map[string]bool{}
	for i := 0; i < d.cfg.Window; i++ {
		if b := d.buckets[h.Add(-time.Duration(i)*time.Hour)]; b != nil {
			for o := range b.orgs {
				orgs[o] = true
			}
			for s := range b.servers {
				servers[s] = true
			}
		}
	}
	return orgs, servers
}

func (d *Detector) judge(h time.Time) (Alert, bool) {
	orgs, servers := d.window(h)
	n := len(orgs)
	d.counts[h] = n
	if h.Sub(d.first) < d.cfg.MinHistory {
		return Alert{}, false
	}
	base := d.baseline(h)
	if float64(n) <= base.Threshold || n < d.cfg.MinOrgs {
		d.episode = time.Time{}
		return Alert{}, false
	}
	d.alerted[h] = true
	if d.episode.IsZero() || !d.alerted[h.Add(-time.Hour)] {
		d.episode, d.episodeOrgs, d.episodeSrv = h, map[string]bool{}, map[string]bool{}
	}
	for o := range orgs {
		d.episodeOrgs[o] = true
	}
	for s := range servers {
		d.episodeSrv[s] = true
	}
	a := Alert{Episode: d.episode, Hour: h, WindowStart: h.Add(-time.Duration(d.cfg.Window-1) * time.Hour), Orgs: n, Servers: len(servers), Baseline: base}
	for o := range d.episodeOrgs {
		a.OrgNames = append(a.OrgNames, o)
	}
	for s := range d.episodeSrv {
		a.ServerNames = append(a.ServerNames, s[len(orgOf(s))+1:]+" ("+orgOf(s)+")")
	}
	sort.Strings(a.OrgNames)
	sort.Strings(a.ServerNames)
	return a, true
}

func orgOf(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i]
		}
	}
	return key
}

// baseline computes the expected count for hour h from the same hour of
// day on earlier days, leaving out hours that alerted.
func (d *Detector) baseline(h time.Time) Baseline {
	// The same hour of day and its two neighbours on each earlier day:
	// the daily cycle, with three samples a day.
	var same, all, day []float64
	for back := 24 * time.Hour; back <= d.cfg.History; back += 24 * time.Hour {
		for off := -time.Hour; off <= time.Hour; off += time.Hour {
			p := h.Add(-back + off)
			if c, ok := d.counts[p]; ok && !d.alerted[p] {
				same = append(same, float64(c))
			}
		}
	}
	// The weekly cycle: this weekday's median against every day's, over
	// whole days of the history.
	for p, c := range d.counts {
		if d.alerted[p] || !p.Before(h) || h.Sub(p) > d.cfg.History {
			continue
		}
		all = append(all, float64(c))
		if p.Weekday() == h.Weekday() {
			day = append(day, float64(c))
		}
	}
	b := Baseline{WeekdayFactor: 1, Samples: len(same)}
	if len(same) == 0 {
		b.Threshold = math.Inf(1)
		return b
	}
	b.Median = median(same)
	dev := make([]float64, len(same))
	for i, v := range same {
		dev[i] = math.Abs(v - b.Median)
	}
	b.MAD = median(dev)
	// Means, not medians: a quiet fleet's median is often zero on every
	// day. Clamped, so one odd week cannot halve or treble the bar.
	if ma, md := mean(all), mean(day); ma > 0 && len(day) >= 24 {
		b.WeekdayFactor = math.Min(2, math.Max(0.5, md/ma))
	}
	b.Expected = b.Median * b.WeekdayFactor
	// 1.4826 × MAD estimates a standard deviation; a spread of at least
	// one keeps a silent history from alerting on a single organisation.
	spread := math.Max(1, 1.4826*b.MAD)
	b.Threshold = b.Expected + d.cfg.K*spread
	return b
}

// prune drops what no later window or baseline reads.
func (d *Detector) prune(next time.Time) {
	keep := next.Add(-d.cfg.History - 48*time.Hour)
	for h := range d.buckets {
		if h.Before(next.Add(-time.Duration(d.cfg.Window) * time.Hour)) {
			delete(d.buckets, h)
		}
	}
	for h := range d.counts {
		if h.Before(keep) {
			delete(d.counts, h)
			delete(d.alerted, h)
		}
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
