package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/natstest"
	"github.com/exhunt/exhunt/internal/queue"
)

var busT0 = time.Date(2021, 3, 3, 10, 0, 0, 0, time.UTC)

func huntRun(id, org string) *fleet.Run {
	return &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: id, Org: org, Hunt: &finding.Result{SchemaVersion: finding.SchemaVersion,
		Tool: "exhunt", StartedAt: busT0, Servers: []finding.Server{{Name: "EX01", Verdict: finding.VerdictProbed, Findings: []finding.Finding{{Rule: "probe",
			Title: "Probe", Stage: finding.StageReconnaissance, Severity: finding.SeverityLow, Time: busT0, ClientIP: "203.0.113.5",
			Source: finding.Source{File: "u_ex210303.log", Line: 3, Kind: "iis"}}}}}}}
}

// TestIngestThroughStream: the HTTP front publishes and answers 202, the
// refusals are answered before anything is published, the writers store
// each run once, and poison (undecodable, another schema, an organisation
// the store does not know) goes to the dead-letter stream after the
// deliveries allowed, with the runs behind it stored.
func TestIngestThroughStream(t *testing.T) {
	ctx := context.Background()
	cl := natstest.Start(t, 1)
	cfg := queue.DefaultConfig()
	cfg.Replicas = 1
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := queue.Connect(cctx, cl.URL(), "serve", cfg)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer c.NC.Close()
	if err := c.EnsureIngest(ctx, queue.IngestConfig{AckWait: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateOrg(ctx, store.Org{ID: "orga", Name: "A", Sector: "law"}, busT0); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := s.CreateToken(ctx, "orga", busT0)
	h := &ingest.Handler{Sink: s, Queue: ingest.Bus{Conn: c}, Tokens: s}
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(token string, b []byte) (int, ingest.Response) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r ingest.Response
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	stream, err := c.JS.Stream(ctx, queue.IngestStream)
	if err != nil {
		t.Fatal(err)
	}
	msgs := func() uint64 {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	// Refusals: answered by the front, nothing published.
	good, _ := huntRun("run-1", "").Marshal()
	for _, tc := range []struct {
		token string
		body  []byte
		code  int
	}{
		{"wrong", good, http.StatusUnauthorized},
		{tok, []byte(`{"schema_version":1,`), http.StatusBadRequest},
		{tok, []byte(strings.Replace(string(good), `"schema_version":1`, `"schema_version":2`, 1)), http.StatusBadRequest},
		{tok, must(huntRun("run-x", "orgb").Marshal()), http.StatusForbidden},
	} {
		if code, r := post(tc.token, tc.body); code != tc.code {
			t.Errorf("post %.40q: %d %q, want %d", tc.body, code, r.Error, tc.code)
		}
	}
	if n := msgs(); n != 0 {
		t.Fatalf("%d messages published for refused posts", n)
	}

	// Accepted: 202 once in the stream; the same run again is a duplicate.
	code, r := post(tok, good)
	if code != http.StatusAccepted || !r.Queued || r.Duplicate {
		t.Fatalf("post: %d %+v, want 202 queued", code, r)
	}
	if code, r = post(tok, good); code != http.StatusAccepted || !r.Duplicate {
		t.Fatalf("post again: %d %+v, want 202 duplicate", code, r)
	}
	if n := msgs(); n != 1 {
		t.Fatalf("%d messages in the stream, want 1", n)
	}

	// Poison, published straight onto the stream, then runs after it.
	poison := map[string]string{
		"{not json": "malformed JSON",
		`{"schema_version":9,"type":"hunt","run_id":"r9"}`:      "schema_version 9 is not supported",
		string(must(huntRun("run-nobody", "nobody").Marshal())): "unknown organisation",
	}
	for body := range poison {
		if _, err := c.JS.Publish(ctx, "exhunt.ingest.run", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"run-2", "run-3"} {
		if code, r := post(tok, must(huntRun(id, "").Marshal())); code != http.StatusAccepted {
			t.Fatalf("post %s: %d %+v", id, code, r)
		}
	}

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 { // two replicas' writers on one consumer
		wg.Go(func() {
			ingest.WriteFromBus(wctx, c, s, queue.WriterOptions{Concurrency: 2, MaxDeliver: 3, Retry: 100 * time.Millisecond})
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for msgs() != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	wg.Wait()
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["runs"] != 3 {
		t.Errorf("%d runs stored, want run-1, run-2 and run-3", counts["runs"])
	}
	if n := msgs(); n != 0 {
		t.Errorf("%d messages left in the ingest stream", n)
	}
	cons, err := c.JS.OrderedConsumer(ctx, queue.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]nats.Header{}
	for len(dead) < len(poison) && time.Now().Before(deadline) {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			dead[string(m.Data())] = m.Headers()
		}
	}
	for body, reason := range poison {
		h, ok := dead[body]
		switch {
		case !ok:
			t.Errorf("%.40q: not in the dead-letter stream", body)
		case !strings.Contains(h.Get(queue.HeaderReason), reason) || h.Get(queue.HeaderStream) != queue.IngestStream || h.Get(queue.HeaderDeliveries) != "3":
			t.Errorf("%.40q: dead letter %v, want reason %q after 3 deliveries", body, h, reason)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzDecodeQueued: whatever is on the ingest stream, decoding returns a
// valid run or a poison error, never panics.
func FuzzDecodeQueued(f *testing.F) {
	good, _ := huntRun("run-1", "orga").Marshal()
	f.Add(good)
	f.Add([]byte(`{"schema_version":1,`))
	f.Add([]byte(`{"schema_version":1,"type":"scan","run_id":"r","scan":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ingest.DecodeQueued(data)
		if err == nil && (m == nil || m.Org == "" || m.Validate() != nil) {
			t.Fatalf("accepted an invalid run: %+v", m)
		}
		if err != nil && !errors.Is(err, queue.ErrPoison) {
			t.Fatalf("error not marked poison: %v", err)
		}
	})
}
