package queue

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/natstest"
	"github.com/exhunt/exhunt/internal/scan"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func testOptions() scan.Options {
	o := scan.DefaultOptions()
	o.Scope = loopback
	o.HostRate = 0
	o.Concurrency = 32
	o.Connect, o.TLS, o.Read = 10*time.Second, 10*time.Second, 10*time.Second
	o.Backoff = 10 * time.Millisecond
	return o
}

func testData(t testing.TB) *scan.Data {
	t.Helper()
	d, err := catalog.LoadData()
	if err != nil {
		t.Fatal(err)
	}
	return &scan.Data{Builds: d.Builds, Shells: d.WebshellURLPaths()}
}

// decoyFleet serves n decoys on loopback, cycling through every build of the
// table and every state, and returns their URLs.
func decoyFleet(t testing.TB, d *scan.Data, n int) []string {
	t.Helper()
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var builds []string
	for _, r := range d.Builds.Releases() {
		builds = append(builds, r.Build.String())
	}
	var urls []string
	for i := range n {
		p, err := decoy.NewProfile(d.Builds, builds[i%len(builds)], decoy.States()[i%3], decoy.Reveals()[(i/3)%3], fmt.Sprintf("EXCH%04d", i))
		if err != nil {
			t.Fatal(err)
		}
		tg, err := srv.Listen("https", "127.0.0.1:0", p)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, tg.URL)
	}
	srv.Serve()
	return urls
}

// summary is what a result says of its target, without times and the
// random parts of answers, so two scans of one fleet compare equal.
func summary(r *scan.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", r.Seq, r.Target, r.Status)
	if r.Exchange != nil {
		fmt.Fprintf(&b, " build=%s exact=%v", r.Exchange.Build, r.Exchange.Exact)
	}
	for _, c := range r.Chains {
		fmt.Fprintf(&b, " %s=%s/%v", c.Chain, c.Verdict, c.Mitigated)
	}
	for _, p := range r.Probes {
		fmt.Fprintf(&b, " %s:%s", p.Name, p.Result)
	}
	fmt.Fprintf(&b, " mit=%v", r.Mitigations)
	return b.String()
}

func singleProcess(t *testing.T, d *scan.Data, urls []string) []string {
	t.Helper()
	var out []string
	err := scan.New(testOptions(), d).Run(context.Background(), &scan.Input{Args: urls, MaxExpand: 1}, nil, func(r *scan.Result) error {
		out = append(out, summary(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func testConfig(replicas int) Config {
	cfg := DefaultConfig()
	cfg.Replicas = replicas
	cfg.AckWait = 3 * time.Second
	cfg.MaxDeliver = 3
	return cfg
}

func connect(t testing.TB, url, name string, cfg Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, url, name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.NC.Close() })
	return c
}

// startWorkers runs n in-process workers, each on its own connection, until
// the returned stop is called.
func startWorkers(t testing.TB, url string, cfg Config, d *scan.Data, n int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		c := connect(t, url, fmt.Sprintf("worker-%d", i), cfg)
		wg.Go(func() {
			c.Work(ctx, WorkerOptions{Name: fmt.Sprintf("w%d", i), Concurrency: 32, Data: d, Scope: loopback})
		})
	}
	return func() { cancel(); wg.Wait() }
}

// dispatch runs one dispatch and returns its results' summaries, failing
// on a target reported twice.
func dispatch(t *testing.T, c *Conn, id string, urls []string, seen map[uint64]bool) ([]string, error) {
	t.Helper()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := c.Dispatch(ctx, testOptions(), &scan.Input{Args: urls, MaxExpand: 1}, DispatchOptions{ID: id, Batch: 20}, func(r *scan.Result) error {
		if seen[r.Seq] {
			t.Errorf("target %d (%s) reported twice", r.Seq, r.Target)
		}
		seen[r.Seq] = true
		out = append(out, summary(r))
		return nil
	})
	return out, err
}

// TestDispatchMatchesSingleProcess: a scan split over three workers on a
// three-node JetStream cluster gives exactly the results of one process.
func TestDispatchMatchesSingleProcess(t *testing.T) {
	d := testData(t)
	urls := decoyFleet(t, d, 240)
	want := singleProcess(t, d, urls)
	cl := natstest.Start(t, 3)
	cfg := testConfig(3)
	stop := startWorkers(t, cl.URL(), cfg, d, 3)
	defer stop()
	c := connect(t, cl.URL(), "dispatcher", cfg)
	got, err := dispatch(t, c, "same-as-single", urls, map[uint64]bool{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	compare(t, got, want)
}

func compare(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d results, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("result %d:\n got %s\nwant %s", i, got[i], want[i])
			break
		}
	}
}

// TestDispatchSurvivesNodeAndWorkerLoss: a NATS node killed and restarted
// and a worker stopped mid-run lose no target and store none twice. The
// node killed is the one the dispatcher is connected to, so results in
// flight to it are lost with the connection while later ones arrive after
// it reconnects to another node.
func TestDispatchSurvivesNodeAndWorkerLoss(t *testing.T) {
	d := testData(t)
	urls := decoyFleet(t, d, 300)
	want := singleProcess(t, d, urls)
	cl := natstest.Start(t, 3)
	cfg := testConfig(3)
	stopA := startWorkers(t, cl.URL(), cfg, d, 1)
	stopB := startWorkers(t, cl.URL(), cfg, d, 2)
	defer stopB()
	c := connect(t, cl.Nodes[1].URL(), "dispatcher", cfg)
	// The faults start once a sixth of the results are in; the dispatch
	// goes on through them.
	var faults sync.WaitGroup
	var once sync.Once
	inject := func() {
		faults.Go(func() {
			stopA()
			cl.Kill(1)
			time.Sleep(2 * time.Second)
			cl.Restart(1)
		})
	}
	defer faults.Wait()
	seen := map[uint64]bool{}
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := c.Dispatch(ctx, testOptions(), &scan.Input{Args: urls, MaxExpand: 1}, DispatchOptions{ID: "faults", Batch: 20}, func(r *scan.Result) error {
		if seen[r.Seq] {
			t.Errorf("target %d (%s) reported twice", r.Seq, r.Target)
		}
		seen[r.Seq] = true
		got = append(got, summary(r))
		if len(got) == len(urls)/6 {
			once.Do(inject)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	compare(t, got, want)
}

// TestDispatchResumes: a dispatch interrupted by its dispatcher continues
// under the same id, skipping what its output already holds: every target
// once across both runs.
func TestDispatchResumes(t *testing.T) {
	d := testData(t)
	urls := decoyFleet(t, d, 120)
	cl := natstest.Start(t, 1)
	cfg := testConfig(1)
	ctx0, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	wc := connect(t, cl.URL(), "worker", cfg)
	go wc.Work(ctx0, WorkerOptions{Name: "slow", Concurrency: 4, Data: d, Scope: loopback})
	c := connect(t, cl.URL(), "dispatcher", cfg)
	seen := map[uint64]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Dispatch(ctx, testOptions(), &scan.Input{Args: urls, MaxExpand: 1}, DispatchOptions{ID: "resume", Batch: 10}, func(r *scan.Result) error {
		seen[r.Seq] = true
		if len(seen) == 30 {
			cancel()
		}
		return nil
	})
	if err == nil {
		t.Fatal("the interrupted dispatch reported success")
	}
	if len(seen) != 30 {
		t.Fatalf("interrupted after %d results, want 30", len(seen))
	}
	first := len(seen)
	rest, err := c.dispatchDone(t, urls, seen)
	if err != nil {
		t.Fatal(err)
	}
	if first+rest != len(urls) || len(seen) != len(urls) {
		t.Errorf("%d + %d results for %d targets (%d distinct)", first, rest, len(urls), len(seen))
	}
}

// dispatchDone resumes the "resume" dispatch with seen as the output's
// targets, adding to it, and returns how many results it emitted.
func (c *Conn) dispatchDone(t *testing.T, urls []string, seen map[uint64]bool) (int, error) {
	// The output so far, as a resumed results file would give it.
	var out bytes.Buffer
	for seq := range seen {
		line, _ := json.Marshal(&scan.Result{Seq: seq, Target: urls[seq], Status: scan.StatusExchange})
		out.Write(append(line, '\n'))
	}
	done, _, err := scan.ReadDone(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = c.Dispatch(ctx, testOptions(), &scan.Input{Args: urls, MaxExpand: 1},
		DispatchOptions{ID: "resume", Batch: 10, Done: done},
		func(r *scan.Result) error {
			if seen[r.Seq] {
				t.Errorf("target %d emitted again", r.Seq)
			}
			seen[r.Seq] = true
			n++
			return nil
		})
	return n, err
}

// TestPoisonMessages: a job that cannot be read, or has another schema,
// goes to the dead-letter stream with its reason, and the work after it
// is still done.
func TestPoisonMessages(t *testing.T) {
	d, urls, cl, cfg, c := oneNode(t, 40)
	ctx := context.Background()
	poison := map[string]string{
		"not json":        "{not json",
		"other schema":    `{"schema":99,"dispatch":"x","id":"x.0","options":{},"targets":[{"Seq":0,"Scheme":"https","Host":"127.0.0.1","Port":1}]}`,
		"unknown field":   `{"schema":1,"dispatch":"x","id":"x.1","options":{},"targets":[],"extra":true}`,
		"without targets": `{"schema":1,"dispatch":"x","id":"x.2","options":{},"targets":[]}`,
	}
	for name, body := range poison {
		if err := c.publish(ctx, &nats.Msg{Subject: scanJobSubject, Data: []byte(body)}, "poison-"+name); err != nil {
			t.Fatal(err)
		}
	}
	stop := startWorkers(t, cl.URL(), cfg, d, 2)
	defer stop()
	got, err := dispatch(t, c, "after-poison", urls, map[uint64]bool{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(urls) {
		t.Errorf("%d results after the poison, want %d", len(got), len(urls))
	}
	// Every poison message is in the dead-letter stream with a reason.
	reasons := deadLetters(t, c, len(poison))
	for name, body := range poison {
		r, ok := reasons[body]
		if !ok {
			t.Errorf("%s: not in the dead-letter stream", name)
			continue
		}
		if r == "" {
			t.Errorf("%s: dead letter without a reason", name)
		}
		t.Logf("%s: %s", name, r)
	}
	// Nothing is left on the queue.
	s, err := c.JS.Stream(ctx, JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d messages left on the job queue", info.State.Msgs)
	}
}

// TestJobGivenUp: a job delivered more often than MaxDeliver (here, taken
// and dropped by a worker that keeps failing) goes to the dead letters, and
// its dispatcher still finishes: each of its targets is reported once, as
// not scanned, with the reason.
func TestJobGivenUp(t *testing.T) {
	d, urls, cl, cfg, c := oneNode(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var got []*scan.Result
	done := make(chan error, 1)
	go func() {
		done <- c.Dispatch(ctx, testOptions(), &scan.Input{Args: urls, MaxExpand: 1}, DispatchOptions{ID: "given-up", Batch: 20}, func(r *scan.Result) error {
			got = append(got, r)
			return nil
		})
	}()
	// A failing worker: takes the job and drops it, MaxDeliver times.
	cons, err := c.consumer(ctx, JobsStream, ScanWorkers)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < cfg.MaxDeliver; {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			m.Nak()
			n++
		}
	}
	stop := startWorkers(t, cl.URL(), cfg, d, 1)
	defer stop()
	if err := <-done; err != nil {
		t.Fatalf("dispatch after its job was given up: %v", err)
	}
	if len(got) != len(urls) {
		t.Fatalf("%d results, want %d", len(got), len(urls))
	}
	seen := map[uint64]bool{}
	for _, r := range got {
		if seen[r.Seq] {
			t.Errorf("target %d reported twice", r.Seq)
		}
		seen[r.Seq] = true
		if r.Status != scan.StatusError || !strings.Contains(r.Error, "dead-letter stream") || r.Target == "" {
			t.Errorf("target %d: %s %q, want a not-scanned error naming the dead letters", r.Seq, r.Status, r.Error)
		}
	}
	for body, reason := range deadLetters(t, c, 1) {
		if !strings.Contains(body, `"given-up.0"`) || !strings.Contains(reason, "delivered 3 times") {
			t.Errorf("dead letter %.80s: reason %q, want the job given up after 3 deliveries", body, reason)
		}
	}
}

// oneNode starts n decoy targets and a one-node cluster, and connects a
// dispatcher to it.
func oneNode(t *testing.T, n int) (*scan.Data, []string, *natstest.Cluster, Config, *Conn) {
	t.Helper()
	d := testData(t)
	urls := decoyFleet(t, d, n)
	cl := natstest.Start(t, 1)
	cfg := testConfig(1)
	return d, urls, cl, cfg, connect(t, cl.URL(), "dispatcher", cfg)
}

// deadLetters reads the dead-letter stream until it has n messages (or 20
// seconds pass): each body with its reason.
func deadLetters(t *testing.T, c *Conn, n int) map[string]string {
	t.Helper()
	ctx := context.Background()
	cons, err := c.JS.OrderedConsumer(ctx, DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	reasons := map[string]string{}
	for len(reasons) < n && time.Now().Before(deadline) {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			reasons[string(m.Data())] = m.Headers().Get(HeaderReason)
		}
	}
	if len(reasons) != n {
		t.Errorf("%d dead letters, want %d", len(reasons), n)
	}
	return reasons
}

func TestNarrow(t *testing.T) {
	p := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	for _, tc := range []struct {
		job, worker, want []netip.Prefix
	}{
		{p("127.0.0.0/8"), nil, p("127.0.0.0/8")},
		{nil, p("10.0.0.0/8"), p("10.0.0.0/8")},
		{p("127.0.0.0/8"), p("127.0.1.0/24"), p("127.0.1.0/24")},
		{p("127.0.1.0/24"), p("127.0.0.0/8"), p("127.0.1.0/24")},
		{p("127.0.1.0/24"), p("10.0.0.0/8"), p("0.0.0.0/32", "::/128")},
	} {
		got := narrow(tc.job, tc.worker)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("narrow(%v, %v) = %v, want %v", tc.job, tc.worker, got, tc.want)
		}
	}
}

func TestDecodeJob(t *testing.T) {
	good, _ := json.Marshal(ScanJob{Schema: Schema, Dispatch: "d", ID: "d.0", Options: testOptions(), Targets: []scan.Target{{Scheme: "https", Host: "127.0.0.1", Port: 443}}})
	if _, err := decodeJob(good); err != nil {
		t.Errorf("good job refused: %v", err)
	}
	for _, bad := range []string{"", "null", "[]", `{"schema":1}`, string(good) + "{}"} {
		if _, err := decodeJob([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzDecodeJob(f *testing.F) {
	good, _ := json.Marshal(ScanJob{Schema: Schema, Dispatch: "d", ID: "d.0", Options: testOptions(), Targets: []scan.Target{{Scheme: "https", Host: "127.0.0.1", Port: 443}}})
	f.Add(good)
	f.Add([]byte(`{"schema":1,"dispatch":"d","id":"d.0","targets":[{"Seq":18446744073709551615}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := decodeJob(data)
		if err == nil && (job.Schema != Schema || len(job.Targets) == 0 || job.ID == "") {
			t.Fatalf("accepted an invalid job: %+v", job)
		}
	})
}

// FuzzOpenRun: whatever bytes and headers are on the ingest stream,
// opening a run returns its body or a poison error, never panics.
func FuzzOpenRun(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"schema_version":1}`))
	zw.Close()
	f.Add(gz.Bytes(), "gzip", "2021-03-03T10:00:00Z")
	f.Add([]byte(`{}`), "", "")
	f.Add([]byte("\x1f\x8b\x08\x00"), "gzip", "yesterday")
	f.Fuzz(func(t *testing.T, data []byte, enc, received string) {
		h := nats.Header{}
		h.Set(HeaderEncoding, enc)
		h.Set(HeaderReceived, received)
		body, at, err := openRun(data, h, time.Time{})
		if err != nil {
			if !errors.Is(err, ErrPoison) {
				t.Fatalf("error not marked poison: %v", err)
			}
			return
		}
		if at.IsZero() || len(body) > maxRunDecoded {
			t.Fatalf("opened %d bytes received %v", len(body), at)
		}
	})
}
