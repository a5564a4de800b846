package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/fleet/web"
)

// TestServePushAndImport: hunt --push to a running server, with the
// server down first (the spool keeps the run), then import of a saved run
// twice stores it once.
func TestServePushAndImport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "fleet.db")
	if code, _, errs := exh(t, "serve", "org", "add", "--db", db, "--id", "lawfirm", "--name", "Law Firm", "--sector", "law"); code != 0 {
		t.Fatal(errs)
	}
	code, tok, errs := exh(t, "serve", "token", "add", "--db", db, "--org", "lawfirm")
	if code != 0 || !strings.HasPrefix(tok, "exh_") {
		t.Fatal(code, errs)
	}
	t.Setenv("EXHUNT_TOKEN", strings.TrimSpace(tok))
	t.Setenv("EXHUNT_PASSWORD", "a long enough password")
	if code, out, errs := exh(t, "serve", "init", "--db", db); code != 0 || !strings.Contains(out, "created") {
		t.Fatal(code, errs)
	}
	if code, _, _ := exh(t, "serve", "init", "--db", db); code != ExitUsage {
		t.Fatalf("second init: %d", code)
	}
	ev := labDir(t, "proxylogon-full", "clean")
	spool := filepath.Join(dir, "spool")
	// Server down: the run stays in the spool.
	code, _, errs = exh(t, "hunt", "--quiet", "--format", "json", "-o", filepath.Join(dir, "run.json"), "--push", "http://127.0.0.1:1", "--push-spool", spool, "--push-wait", "1s", ev)
	if !strings.Contains(errs, "left in") {
		t.Fatalf("push to a down server: %d %s", code, errs)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.Router(s, nil))
	defer srv.Close()
	code, _, errs = exh(t, "hunt", "--quiet", "--format", "json", "-o", filepath.Join(dir, "run2.json"), "--push", srv.URL, "--push-spool", spool, ev)
	if code != ExitFindings || errs != "" {
		t.Fatalf("hunt --push: %d %s", code, errs)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Fatalf("spool not emptied: %v", left)
	}
	servers, _ := s.Servers(context.Background(), store.All, "lawfirm", 0, 10)
	if len(servers) != 2 || servers[0].State != fleet.StateExploited {
		t.Fatalf("pushed servers: %+v", servers)
	}
	// A scan's target messages reach the server through the push tee.
	d, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := loadScanData()
	if err != nil {
		t.Fatal(err)
	}
	p, err := decoy.NewProfile(data.Builds, "15.1.2176.2", decoy.StateVulnerable, decoy.RevealAll, "MAILGW")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := d.Listen("https", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	d.Serve()
	defer d.Close()
	code, _, errs = exh(t, "scan", "--scope", "127.0.0.0/8", "--host-rate", "0", "-o", filepath.Join(dir, "scan.jsonl"), "--push", srv.URL, "--push-spool", spool, tg.URL)
	if code != ExitFindings {
		t.Fatalf("scan --push: %d %s", code, errs)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Fatalf("spool not emptied after the scan: %v", left)
	}
	servers, _ = s.Servers(context.Background(), store.All, "lawfirm", 0, 10)
	found := false
	for _, sv := range servers {
		// A scanned server is named by its address until a hunt names it.
		found = found || sv.Name == "127.0.0.1" && sv.State == fleet.StateExposed && sv.Build == "15.1.2176.2"
	}
	if !found {
		t.Errorf("the scanned server is not in the store as exposed: %+v", servers)
	}
	s.Close()
	for i := range 2 {
		code, out, errs := exh(t, "serve", "import", "--db", db, "--org", "uni", "--sector", "higher-education", filepath.Join(dir, "run.json"))
		want := []string{"stored", "already stored"}[i]
		if code != 0 || !strings.Contains(out, ": "+want+" ") {
			t.Fatalf("import %d: %d %q %s", i, code, out, errs)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema_version":1,"servers":[`), 0o600)
	if code, _, errs := exh(t, "serve", "import", "--db", db, "--org", "uni", bad); code != ExitError || !strings.Contains(errs, "bad.json") {
		t.Fatalf("bad import: %d %s", code, errs)
	}
}

// TestServeReplicaFlags: replicas need a shared PostgreSQL store, and the
// spike clock is wall or evidence.
func TestServeReplicaFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "fleet.db")
	if code, _, errs := exh(t, "serve", "--db", db, "--nats", "nats://127.0.0.1:1", "--http"); code != ExitUsage || !strings.Contains(errs, "postgres://") {
		t.Fatalf("serve --nats on SQLite: %d %s", code, errs)
	}
	if code, _, errs := exh(t, "serve", "--db", db, "--spike-clock", "sundial"); code != ExitUsage || !strings.Contains(errs, "sundial") {
		t.Fatalf("serve --spike-clock sundial: %d %s", code, errs)
	}
}
