package queue

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
	"github.com/exhunt/exhunt/internal/lab"
	"github.com/exhunt/exhunt/internal/natstest"
)

// realHunt is the hunt a worker runs: the built-in rules over the
// evidence at path.
func realHunt(cat *catalog.Catalog) HuntFunc {
	return func(ctx context.Context, path string, _ json.RawMessage) ([]byte, error) {
		set, err := evidence.Discover(ctx, []string{path}, evidence.Options{})
		if err != nil {
			return nil, err
		}
		res, err := hunt.New(cat, hunt.Options{Workers: 1}).Run(ctx, set, []string{path})
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	}
}

func verdicts(t *testing.T, docs [][]byte) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		var r finding.Result
		if err := json.Unmarshal(d, &r); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Servers {
			out = append(out, fmt.Sprintf("%s %s inconclusive=%v findings=%d", s.Name, s.Verdict, s.Inconclusive, len(s.Findings)))
		}
	}
	sort.Strings(out)
	return out
}

// TestDistributedHunt: evidence uploaded to the object store (a folder
// zipped on the way, and a zip as it is) or named on shared storage is
// hunted by workers, and the results equal a local hunt of the same
// evidence. A poison hunt job lands in the dead-letter stream.
func TestDistributedHunt(t *testing.T) {
	dir := t.TempDir()
	truth, err := lab.Generate(context.Background(), lab.Options{Out: dir, Servers: 3, Size: 3 << 20, Seed: 5,
		Scenarios: []string{"proxylogon-full", "clean", "proxyshell"}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i, s := range truth.Servers {
		p := filepath.Join(dir, s.Name)
		if i == 1 {
			// One server as the zip a collector would send.
			z := filepath.Join(t.TempDir(), s.Name+".zip")
			zipFolder(t, p, z)
			p = z
		}
		paths = append(paths, p)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	var local [][]byte
	for _, p := range paths {
		doc, err := realHunt(cat)(context.Background(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		local = append(local, doc)
	}
	want := verdicts(t, local)

	cl := natstest.Start(t, 3)
	cfg := testConfig(3)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range 2 {
		wc := connect(t, cl.URL(), "hunt-worker", cfg)
		wg.Go(func() {
			wc.WorkHunts(ctx, HuntWorkerOptions{Name: fmt.Sprintf("h%d", i), Jobs: 1, MaxEvidence: 1 << 30, Hunt: realHunt(cat)})
		})
	}
	c := connect(t, cl.URL(), "dispatcher", cfg)
	if _, _, err := c.huntStores(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.publish(context.Background(), &nats.Msg{Subject: huntJobSubject, Data: []byte(`{"schema":1,"dispatch":"x","id":"x.h0","object":"a","path":"/b"}`)}, "poison-hunt"); err != nil {
		t.Fatal(err)
	}
	for _, shared := range []bool{false, true} {
		var docs [][]byte
		names := map[string]bool{}
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err := c.DispatchHunt(dctx, paths, HuntDispatchOptions{ID: fmt.Sprintf("hunt-shared-%v", shared), Shared: shared}, func(name string, doc []byte) error {
			if names[name] {
				t.Errorf("%s emitted twice", name)
			}
			names[name] = true
			docs = append(docs, doc)
			return nil
		})
		dcancel()
		if err != nil {
			t.Fatalf("shared=%v: %v", shared, err)
		}
		got := verdicts(t, docs)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("shared=%v:\n got %v\nwant %v", shared, got, want)
		}
	}
	if !deadLettered(t, c, "a hunt job names an object or a path") {
		t.Error("the poison hunt job is not in the dead-letter stream")
	}
}

// TestDistributedHuntFailure: evidence a worker cannot hunt comes back
// as an error naming it; the dispatch still ends.
func TestDistributedHuntFailure(t *testing.T) {
	cl := natstest.Start(t, 1)
	cfg := testConfig(1)
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc := connect(t, cl.URL(), "hunt-worker", cfg)
	go wc.WorkHunts(ctx, HuntWorkerOptions{Name: "h", MaxEvidence: 10, Hunt: realHunt(cat)})
	big := filepath.Join(t.TempDir(), "big.zip")
	if err := os.WriteFile(big, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	c := connect(t, cl.URL(), "dispatcher", cfg)
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	err = c.DispatchHunt(dctx, []string{big}, HuntDispatchOptions{ID: "too-big"}, func(string, []byte) error {
		t.Error("a result for evidence over the worker's limit")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "big.zip") || !strings.Contains(err.Error(), "limit") {
		t.Errorf("error %v, want one naming big.zip and the limit", err)
	}
}

func deadLettered(t *testing.T, c *Conn, reason string) bool {
	t.Helper()
	ctx := context.Background()
	cons, err := c.JS.OrderedConsumer(ctx, DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			if strings.Contains(m.Headers().Get(HeaderReason), reason) {
				return true
			}
		}
	}
	return false
}

func zipFolder(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := zipDir(f, dir); err != nil {
		t.Fatal(err)
	}
	// The zip must read back whole.
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, m := range zr.File {
		r, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		r.Close()
	}
}
