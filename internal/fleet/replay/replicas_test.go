package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/notify"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/natstest"
	"github.com/exhunt/exhunt/internal/queue"
)

// TestReplicasSurviveKill9 is the acceptance run of serve replicas: the
// campaign replay pushed through two exhunt serve processes on a
// three-node JetStream cluster into one PostgreSQL, while the replica
// holding the singletons' lease is killed with SIGKILL and a NATS node is
// killed and restarted. Every run is stored once (the store's rows equal a
// single-process ingest of the same replay), the spike alerts once and
// reaches the webhook once, and poison messages put
// straight onto the ingest stream land in the dead-letter stream without
// holding up the runs behind them.
//
// The fleet is the race-detector size of TestCampaignReplay (16
// organisations, 32 servers), from 1 February up to the disclosure on 2
// March (938 of its 2,813 runs, one spike), with or without -race: the servers are
// non-race binaries either way, so the test takes about the same time
// under the race detector.
func TestReplicasSurviveKill9(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	dir := t.TempDir()
	bin := filepath.Join(dir, "exhunt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/exhunt").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	lab := filepath.Join(dir, "lab")
	truth, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: lab, Orgs: 16, Servers: 32, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	orgs := readOrgs(t, lab)

	// The reference: the same runs stored by one process (exhunt serve
	// import, organisation by organisation, in replay order).
	pg := pgtest.Shared(t)
	refDSN := pg.NewDB(t)
	ref, err := store.Open(ctx, refDSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if err := ref.CreateOrg(ctx, store.Org{ID: o.ID, Name: o.Name, Sector: o.Sector}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// February up to the disclosure: the spike and the four weeks of
	// baseline before it.
	var runs []*fleet.Run
	for _, m := range readRuns(t, lab) {
		if at := m.Started(); !at.Before(time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)) && at.Before(time.Date(2021, 3, 2, 12, 0, 0, 0, time.UTC)) {
			runs = append(runs, m)
		}
	}
	files := map[string][]string{}
	for i, m := range runs {
		name := filepath.Join(dir, "runs", fmt.Sprintf("%05d.json", i))
		os.MkdirAll(filepath.Dir(name), 0o755)
		b, _ := m.Marshal()
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files[m.Org] = append(files[m.Org], name)
	}
	var imports sync.WaitGroup
	slots := make(chan struct{}, 4)
	for org, names := range files {
		imports.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if out, err := exec.Command(bin, append([]string{"serve", "import", "--db", refDSN, "--org", org}, names...)...).CombinedOutput(); err != nil {
				t.Errorf("serve import: %v\n%s", err, out)
			}
		})
	}
	imports.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want, err := ref.Counts(ctx)
	ref.Close()
	t.Logf("reference stored by one process: %v", time.Since(began))
	if err != nil {
		t.Fatal(err)
	}

	dsn := pg.NewDB(t)
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens := map[string]string{}
	for _, o := range orgs {
		if err := s.CreateOrg(ctx, store.Org{ID: o.ID, Name: o.Name, Sector: o.Sector}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, tokens[o.ID], err = s.CreateToken(ctx, o.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	hook := &webhook{secret: "replica-test-webhook-secret", got: map[string]int{}}
	hsrv := httptest.NewServer(hook)
	defer hsrv.Close()
	if _, err := s.AddWebhook(ctx, store.Webhook{URL: hsrv.URL, Secret: hook.secret}, time.Now()); err != nil {
		t.Fatal(err)
	}

	cluster := natstest.Start(t, 3)
	replicas := []*replica{{name: "a"}, {name: "b"}}
	for _, r := range replicas {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		r.addr = l.Addr().String()
		l.Close()
		r.log = filepath.Join(dir, "serve-"+r.name+".log")
		r.start(t, bin, dsn, cluster.URL())
		defer r.kill()
	}
	// The first replica up takes the lease: that is the one to kill.
	holder := waitLease(t, replicas)

	// Poison first: the runs pushed after it must still be stored.
	nc, err := nats.Connect(cluster.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	poison := []struct{ data, reason string }{
		{`{"schema_version":1,"type":"hunt",`, "malformed JSON"},
		{`{"schema_version":7,"type":"hunt","run_id":"future-1","org":"x","hunt":{}}`, "schema_version 7 is not supported"},
	}
	for _, p := range poison {
		if _, err := js.Publish(ctx, "exhunt.ingest.run", []byte(p.data)); err != nil {
			t.Fatal(err)
		}
	}

	// One spooling client per organisation, each knowing both replicas
	// (half of them the other way round), fed in replay order.
	pushers := map[string]*ingest.Pusher{}
	for i, o := range orgs {
		a, b := "http://"+replicas[0].addr, "http://"+replicas[1].addr
		if i%2 == 1 {
			a, b = b, a
		}
		pushers[o.ID] = &ingest.Pusher{URL: a + "," + b, Token: tokens[o.ID], Spool: filepath.Join(dir, "spool", o.ID),
			HTTP: &http.Client{Timeout: 30 * time.Second}}
	}
	// Sent in replay order (four at a time, each organisation's in turn),
	// so the evidence clock of the spike detector moves as it did for the
	// single process.
	pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var nodeDown sync.WaitGroup
	orgMu := map[string]*sync.Mutex{}
	for _, o := range orgs {
		orgMu[o.ID] = &sync.Mutex{}
	}
	next := make(chan int)
	var senders sync.WaitGroup
	for range 4 {
		senders.Go(func() {
			for i := range next {
				m := runs[i]
				org := m.Org
				mu := orgMu[org]
				mu.Lock()
				m.Org = "" // the token says which
				p := pushers[org]
				err := p.Enqueue(m)
				if err == nil {
					_, err = p.Flush(pctx)
				}
				mu.Unlock()
				if err != nil {
					t.Errorf("run %d (%s): %v", i, m.RunID, err)
					cancel()
				}
			}
		})
	}
	for i := range runs {
		switch i {
		case len(runs) / 4:
			t.Logf("run %d: kill -9 replica %s (the lease holder)", i, holder.name)
			holder.kill()
		case len(runs) * 2 / 5:
			t.Logf("run %d: kill -9 NATS node n2, restarted in 2 s", i)
			cluster.Kill(1)
			nodeDown.Go(func() {
				time.Sleep(2 * time.Second)
				cluster.Restart(1)
			})
		}
		select {
		case next <- i:
		case <-pctx.Done():
		}
	}
	close(next)
	senders.Wait()
	if t.Failed() {
		t.FailNow()
	}
	nodeDown.Wait()
	t.Logf("%d runs pushed: %v", len(runs), time.Since(began))
	for _, p := range pushers {
		if rej, _ := filepath.Glob(filepath.Join(p.Spool, "*.rejected")); len(rej) > 0 {
			t.Fatalf("runs refused: %v", rej)
		}
	}

	// Every run stored once: the store's rows equal the reference's.
	var got map[string]int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if got, err = s.Counts(ctx); err != nil {
			t.Fatal(err)
		}
		if got["runs"] >= len(runs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all stored: %v", time.Since(began))
	if got["runs"] != len(runs) {
		t.Fatalf("%d runs stored, %d pushed\n%s", got["runs"], len(runs), logs(replicas))
	}
	// Per-ingest alerts depend on the order concurrent writers commit in
	// (which organisation an indicator "reaches" first); spikes are
	// checked below.
	delete(got, "alerts")
	delete(want, "alerts")
	if !maps.Equal(got, want) {
		t.Fatalf("stored through the replicas: %v\nsingle process: %v", got, want)
	}

	// The spike alert: raised once per spike hour by whichever replica
	// held the lease, in the night of 28 February, naming the spike's
	// organisations.
	var spikes []store.Alert
	for time.Now().Before(deadline) {
		if spikes, err = s.Alerts(ctx, store.All, store.AlertFilter{Kind: "spike", Limit: 1000}); err != nil {
			t.Fatal(err)
		}
		if len(spikes) > 0 && spikes[0].At.After(truth.Spike.Start.Add(-4*time.Hour)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(spikes) == 0 {
		t.Fatalf("no spike alert\n%s", logs(replicas))
	}
	if len(spikes) != 1 {
		for _, a := range spikes {
			t.Logf("spike alert %s: %s", a.ID, a.Title)
		}
		t.Fatalf("%d spike alerts, want the one of the night of 28 February", len(spikes))
	}
	checkSpike(t, spikes[0], truth.Spike.Orgs)

	// Webhooks: every alert delivered; each spike alert once, by the one
	// sender. (Delivery is at least once: an alert whose post was in
	// flight when its sender was killed is sent again by the next.)
	all, err := s.Alerts(ctx, store.All, store.AlertFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) && hook.distinct() < len(all) {
		time.Sleep(200 * time.Millisecond)
	}
	hook.mu.Lock()
	for _, a := range all {
		n := hook.got[a.ID]
		switch {
		case n == 0:
			t.Errorf("alert %s (%s) not delivered to the webhook", a.ID, a.Title)
		case a.Kind == "spike" && n != 1:
			t.Errorf("spike alert %s delivered %d times", a.ID, n)
		}
	}
	if hook.bad > 0 {
		t.Errorf("%d webhook posts with a bad signature", hook.bad)
	}
	t.Logf("%d alerts, %d webhook posts", len(all), hook.posts)
	hook.mu.Unlock()

	// The poison messages are in the dead-letter stream with their reasons.
	dead := deadLetters(t, js)
	for _, p := range poison {
		found := false
		for _, d := range dead {
			if d.Header.Get(queue.HeaderStream) == queue.IngestStream && strings.Contains(d.Header.Get(queue.HeaderReason), p.reason) && string(d.Data) == p.data {
				found = true
			}
		}
		if !found {
			t.Errorf("poison %q not in the dead-letter stream with %q; dead letters: %d", p.data, p.reason, len(dead))
		}
	}
	// Runs a killed replica had stored but not acknowledged come back
	// after the ack wait and are acknowledged as duplicates: the stream
	// empties.
	var left uint64
	for time.Now().Before(deadline.Add(time.Minute)) {
		ingestInfo, err := js.Stream(ctx, queue.IngestStream)
		if err != nil {
			t.Fatal(err)
		}
		if left = ingestInfo.CachedInfo().State.Msgs; left == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if left != 0 {
		t.Errorf("%d messages left in the ingest stream", left)
	}
}

type replica struct {
	name, addr, log string
	cmd             *exec.Cmd
}

func readRuns(t testing.TB, lab string) []*fleet.Run {
	t.Helper()
	f, err := os.Open(filepath.Join(lab, "replay.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []*fleet.Run
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		m, err := fleet.Decode(bytesReader(sc.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, m)
	}
	return runs
}

func (r *replica) start(t *testing.T, bin, dsn, natsURL string) {
	t.Helper()
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r.cmd = exec.Command(bin, "serve", "--db", dsn, "--http", "--listen", r.addr, "--nats", natsURL, "--nats-replicas", "3",
		"--spike-clock", "evidence", "--spike-every", "500ms", "--notify-every", "500ms",
		"--ack-wait", "5s", "--retry-wait", "500ms", "--max-deliver", "3")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 600 {
		if resp, err := http.Get("http://" + r.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(r.log)
	t.Fatalf("serve %s did not start:\n%s", r.name, b)
}

func (r *replica) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(syscall.SIGKILL)
		r.cmd.Wait()
		r.cmd = nil
	}
}

// waitLease returns the replica whose log says it took the lease.
func waitLease(t *testing.T, rs []*replica) *replica {
	t.Helper()
	for range 600 {
		for _, r := range rs {
			if b, _ := os.ReadFile(r.log); bytes.Contains(b, []byte("taken")) {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no replica took the lease\n%s", logs(rs))
	return nil
}

func logs(rs []*replica) string {
	var b strings.Builder
	for _, r := range rs {
		l, _ := os.ReadFile(r.log)
		if len(l) > 4000 {
			l = l[len(l)-4000:]
		}
		fmt.Fprintf(&b, "--- serve %s:\n%s\n", r.name, l)
	}
	return b.String()
}

// webhook counts the alerts posted to it, by id, checking signatures.
type webhook struct {
	secret string
	mu     sync.Mutex
	got    map[string]int
	posts  int
	bad    int
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var a store.Alert
	json.Unmarshal(body, &a)
	sig := r.Header.Get(notify.SignatureHeader)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.posts++
	ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	var unix int64
	fmt.Sscan(ts, &unix)
	if a.ID == "" || sig != notify.Sign(h.secret, time.Unix(unix, 0), body) {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.got[a.ID]++
}

func (h *webhook) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func deadLetters(t *testing.T, js jetstream.JetStream) []*nats.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, queue.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			out = append(out, &nats.Msg{Subject: m.Subject(), Data: m.Data(), Header: m.Headers()})
		}
		if n == 0 {
			return out
		}
	}
}
