package campaign

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/spike"
)

func table(t testing.TB) *exchange.Table {
	t.Helper()
	d, err := catalog.LoadData()
	if err != nil {
		t.Fatal(err)
	}
	return d.Builds
}

type generated struct {
	dir   string
	truth *Truth
}

var (
	mu    sync.Mutex
	cache = map[int64]generated{}
)

// generate writes the 40-organisation, 200-server replay of a seed once
// per test binary: the tests read it, none changes it.
func generate(t testing.TB, seed int64) (string, *Truth) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if g, ok := cache[seed]; ok {
		return g.dir, g.truth
	}
	dir, err := os.MkdirTemp("", "exhunt-campaign-")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Generate(context.Background(), Options{Out: dir, Orgs: 40, Servers: 200, Seed: seed, Builds: table(t)})
	if err != nil {
		t.Fatal(err)
	}
	cache[seed] = generated{dir, tr}
	return dir, tr
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, g := range cache {
		os.RemoveAll(g.dir)
	}
	os.Exit(code)
}

// activity is what the spike detector counts: exploit attempts and
// worse, from hunts and decoys. Reconnaissance touches every organisation
// all the time and is left out.
func activity(r Record, fn func(t time.Time, server string)) {
	switch r.Kind {
	case "hunt":
		var res finding.Result
		if json.Unmarshal(r.Doc, &res) != nil {
			return
		}
		for _, s := range res.Servers {
			for _, f := range s.Findings {
				if f.Stage.Rank() >= finding.StageAttempt.Rank() {
					fn(f.Time, s.Name)
				}
			}
		}
	case "decoy":
		var e struct {
			Time   time.Time `json:"time"`
			Server string    `json:"server"`
			Class  string    `json:"class"`
		}
		if json.Unmarshal(r.Doc, &e) == nil && e.Class != "probe" {
			fn(e.Time, e.Server)
		}
	}
}

// TestReplaySpike ingests the replay in time order into the spike
// detector: the first alert opens in the night of 28 February, names at
// least eight of the night's organisations, and none opens in the four
// quiet weeks before (the January intrusions included).
func TestReplaySpike(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		dir, tr := generate(t, seed)
		d := spike.New(spike.DefaultConfig())
		var alerts []spike.Alert
		err := Read(filepath.Join(dir, ReplayFile), func(r Record) error {
			activity(r, func(at time.Time, server string) { d.Add(at, r.Org, server) })
			alerts = append(alerts, d.Advance(r.Time)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) == 0 {
			t.Fatalf("seed %d: no spike alert", seed)
		}
		first := alerts[0]
		from, to := time.Date(2021, 2, 28, 18, 0, 0, 0, time.UTC), time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
		if first.Episode.Before(from) || first.Episode.After(to) {
			t.Errorf("seed %d: first alert at %v, want between %v and %v", seed, first.Episode, from, to)
		}
		named := map[string]bool{}
		for _, a := range alerts {
			if a.Episode.Equal(first.Episode) {
				for _, o := range a.OrgNames {
					named[o] = true
				}
			}
		}
		hit := 0
		for _, o := range tr.Spike.Orgs {
			if named[o] {
				hit++
			}
		}
		if hit < 8 {
			t.Errorf("seed %d: the first alert names %d of the night's %d organisations: %v", seed, hit, len(tr.Spike.Orgs), first.OrgNames)
		}
		t.Logf("seed %d: first alert %v, %d of %d victims named, baseline %+v", seed, first.Episode, hit, len(tr.Spike.Orgs), first.Baseline)
	}
}

// TestReplayTruth: the truth agrees with the replay's own documents, and
// with the story: many affected, fewer exploited; the targeted two
// compromised before disclosure.
func TestReplayTruth(t *testing.T) {
	dir, tr := generate(t, 1)
	if len(tr.Servers) != 200 || len(tr.Orgs) != 40 {
		t.Fatalf("%d servers, %d orgs", len(tr.Servers), len(tr.Orgs))
	}
	last := map[string]finding.Server{}
	compromisedBy := map[string]time.Time{}
	kinds := map[string]int{}
	prev := time.Time{}
	err := Read(filepath.Join(dir, ReplayFile), func(r Record) error {
		if r.Time.Before(prev) {
			t.Fatalf("record at %v after %v: not in time order", r.Time, prev)
		}
		prev = r.Time
		kinds[r.Kind]++
		if r.Kind != "hunt" {
			return nil
		}
		var res struct {
			finding.Result
			RunID string `json:"run_id"`
		}
		if err := json.Unmarshal(r.Doc, &res); err != nil {
			return err
		}
		if len(res.Servers) != 1 || len(res.RunID) != 32 {
			t.Fatalf("hunt record with %d servers, run id %q", len(res.Servers), res.RunID)
		}
		s := res.Servers[0]
		last[r.Org+"/"+s.Name] = s
		if s.Verdict.Rank() >= finding.VerdictCompromised.Rank() {
			if _, ok := compromisedBy[r.Org]; !ok {
				compromisedBy[r.Org] = r.Time
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range tr.Counts {
		if kinds[k] != n {
			t.Errorf("%s records: %d in the replay, %d in the truth", k, kinds[k], n)
		}
	}
	affected, exploited := 0, 0
	for _, s := range tr.Servers {
		got, ok := last[s.Org+"/"+s.Name]
		if !ok {
			t.Errorf("%s/%s: no hunt in the replay", s.Org, s.Name)
			continue
		}
		want := string(got.Verdict)
		if got.Verdict == finding.VerdictClean && got.Build.Seen[0].Product != "Exchange 2010" {
			want = StateExposed
		}
		if s.State != want || s.Inconclusive != got.Inconclusive {
			t.Errorf("%s/%s: truth %s/%v, last hunt %s/%v", s.Org, s.Name, s.State, s.Inconclusive, want, got.Inconclusive)
		}
		if s.State != StateClean {
			affected++
		}
		if s.State == "compromised" || s.State == "exploited" {
			exploited++
		}
	}
	if exploited == 0 || exploited*2 > affected {
		t.Errorf("%d exploited of %d affected servers: the story is many affected, fewer exploited", exploited, affected)
	}
	disclosure := time.Date(2021, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, o := range tr.Targets {
		if at, ok := compromisedBy[o]; !ok || !at.Before(disclosure) {
			t.Errorf("targeted org %s compromised at %v, want before disclosure", o, at)
		}
	}
	sum := 0
	for _, s := range tr.Sectors {
		sum += s.Orgs
		if s.ExploitedOrgs > s.AffectedOrgs || s.AffectedOrgs > s.Orgs {
			t.Errorf("sector %+v", s)
		}
	}
	if sum != 40 {
		t.Errorf("sectors hold %d orgs", sum)
	}
	t.Logf("%d affected, %d exploited servers; records %v", affected, exploited, tr.Counts)
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Generate(context.Background(), Options{Out: dir, Orgs: 12, Servers: 30, Seed: 9, Builds: table(t)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{FleetFile, ReplayFile, TruthFile} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if string(x) != string(y) || len(x) == 0 {
			t.Errorf("%s differs between two runs with one seed", f)
		}
	}
}
