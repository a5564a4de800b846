package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

var t0 = time.Date(2021, 3, 3, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*store.Store, *ingest.Handler, map[string]string) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tok := map[string]string{}
	for _, o := range []string{"orga", "orgb"} {
		if err := s.CreateOrg(ctx, store.Org{ID: o, Name: o, Sector: "law"}, t0); err != nil {
			t.Fatal(err)
		}
		_, tok[o], _ = s.CreateToken(ctx, o, t0)
	}
	id, revoked, _ := s.CreateToken(ctx, "orga", t0)
	s.RevokeToken(ctx, id, t0)
	tok["revoked"] = revoked
	return s, &ingest.Handler{Sink: s, Tokens: s, Limits: ingest.Limits{MaxBody: 1 << 20, MaxDecoded: 4 << 20}}, tok
}

func run(id, org string) *fleet.Run {
	return &fleet.Run{SchemaVersion: 1, Type: fleet.TypeHunt, RunID: id, Org: org, Hunt: &finding.Result{SchemaVersion: 1, Tool: "exhunt", StartedAt: t0,
		Servers: []finding.Server{{Name: "EX01", Verdict: finding.VerdictProbed, Findings: []finding.Finding{{Rule: "probe", Title: "Probe <script>alert(1)</script>",
			Stage: finding.StageReconnaissance, Severity: finding.SeverityLow, Time: t0, ClientIP: "203.0.113.5", Source: finding.Source{File: "u_ex210303.log", Line: 3, Kind: "iis"}}}}}}}
}

func body(t *testing.T, m *fleet.Run) []byte {
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func post(h http.Handler, token string, b []byte, gzipped bool) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", ingest.Path, bytes.NewReader(b))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestBadInputIsRefusedAndNothingStored(t *testing.T) {
	s, h, tok := setup(t)
	good := body(t, run("r1", "orga"))
	wrongSchema := bytes.Replace(good, []byte(`"schema_version":1`), []byte(`"schema_version":7`), 1)
	unknown := bytes.Replace(good, []byte(`{"schema_version":1`), []byte(`{"colour":"red","schema_version":1`), 1)
	big := append(bytes.Repeat([]byte(" "), 2<<20), good...)
	bomb := gz(append(bytes.Repeat([]byte(" "), 64<<20), good...))
	cases := []struct {
		name, token string
		body        []byte
		gzip        bool
		code        int
		reason      string
	}{
		{"malformed JSON", tok["orga"], []byte(`{"schema_version":1,`), false, 400, "malformed JSON"},
		{"wrong schema version", tok["orga"], wrongSchema, false, 400, "schema_version 7 is not supported"},
		{"unknown field", tok["orga"], unknown, false, 400, `unknown field "colour"`},
		{"oversized body", tok["orga"], big, false, 413, "over the limit"},
		{"gzip bomb", tok["orga"], bomb, true, 413, "decompresses to more than"},
		{"bad gzip", tok["orga"], good, true, 400, "gzip"},
		{"missing token", "", good, false, 401, "missing ingest token"},
		{"wrong token", tok["orga"] + "x", good, false, 401, "not recognised"},
		{"revoked token", tok["revoked"], good, false, 401, "revoked"},
		{"org A's token writing org B", tok["orgb"], good, false, 403, `writes for organisation "orgb", not "orga"`},
	}
	for _, c := range cases {
		rec := post(h, c.token, c.body, c.gzip)
		var r ingest.Response
		json.Unmarshal(rec.Body.Bytes(), &r)
		if rec.Code != c.code || !strings.Contains(r.Error, c.reason) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, rec.Code, r.Error, c.code, c.reason)
		}
	}
	if l, _ := s.Servers(context.Background(), store.All, "", 0, 10); len(l) != 0 {
		t.Fatalf("refused input stored servers: %+v", l)
	}
	// The same body is then accepted, gzipped, once.
	if rec := post(h, tok["orga"], gz(good), true); rec.Code != 201 {
		t.Fatalf("good run: %d %s", rec.Code, rec.Body)
	}
	if rec := post(h, tok["orga"], good, false); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"duplicate":true`) {
		t.Fatalf("resent run: %d %s", rec.Code, rec.Body)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"type":"hunt","run_id":"a","hunt":{"schema_version":1,"servers":[{"name":"x","verdict":"clean"}]}}`))
	f.Add([]byte(`{"schema_version":1,"type":"decoy","run_id":"a","decoy":[{"time":"2021-03-03T00:00:00Z","class":"exploit"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := fleet.Decode(bytes.NewReader(b))
		if err == nil && m.Validate() != nil {
			t.Fatal("decoded a message that does not validate")
		}
	})
}

// TestSpoolSurvivesDowntime pushes while the server is down, then brings it
// up: everything spooled arrives once.
func TestSpoolSurvivesDowntime(t *testing.T) {
	s, h, tok := setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // down
	p := &ingest.Pusher{URL: "http://" + addr, Token: tok["orga"], Spool: filepath.Join(t.TempDir(), "spool")}
	for i := range 5 {
		m := run("r"+string(rune('a'+i)), "")
		m.Hunt.Servers[0].Name = "EX0" + string(rune('1'+i))
		if err := p.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if n, err := p.Flush(ctx); n != 0 || err == nil {
		t.Fatalf("flush to a down server: %d %v", n, err)
	}
	cancel()
	if pend, _ := p.Pending(); len(pend) != 5 {
		t.Fatalf("spool holds %d, want 5", len(pend))
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	defer srv.Close()
	if n, err := p.Flush(context.Background()); n != 5 || err != nil {
		t.Fatalf("flush after restart: %d %v", n, err)
	}
	if pend, _ := p.Pending(); len(pend) != 0 {
		t.Fatalf("spool not empty: %v", pend)
	}
	if l, _ := s.Servers(context.Background(), store.All, "orga", 0, 10); len(l) != 5 {
		t.Fatalf("stored %d servers, want 5", len(l))
	}
}

// TestPusherFailsOverBetweenReplicas: with two replica URLs, messages go
// to the one that answers while the other is down.
func TestPusherFailsOverBetweenReplicas(t *testing.T) {
	s, h, tok := setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	up := httptest.NewServer(h)
	defer up.Close()
	p := &ingest.Pusher{URL: "http://" + down + "," + up.URL, Token: tok["orga"], Spool: filepath.Join(t.TempDir(), "spool")}
	for i := range 3 {
		m := run("f"+string(rune('a'+i)), "")
		m.Hunt.Servers[0].Name = "EX0" + string(rune('1'+i))
		if err := p.Enqueue(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := p.Flush(ctx); n != 3 || err != nil {
		t.Fatalf("flush with one replica down: %d %v", n, err)
	}
	if l, _ := s.Servers(context.Background(), store.All, "orga", 0, 10); len(l) != 3 {
		t.Fatalf("stored %d servers, want 3", len(l))
	}
}
