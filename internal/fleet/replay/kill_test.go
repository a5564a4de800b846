package replay

import (
	"bufio"
	"context"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// TestKill9MidIngest runs exhunt serve as a process, pushes a fleet replay
// through spooling clients, kills the server with SIGKILL mid-ingest and
// restarts it: the store ends equal to a straight ingest of the same runs.
func TestKill9MidIngest(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "exhunt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/exhunt").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	lab := filepath.Join(dir, "lab")
	if _, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: lab, Orgs: 12, Servers: 24, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	orgs := readOrgs(t, lab)
	// The reference: the same runs pushed to a server left alone. Both
	// servers are the same (non-race) binary, so the comparison is cheap
	// under the race detector too.
	want := pushAll(t, bin, lab, orgs, filepath.Join(dir, "ref"), false)
	got := pushAll(t, bin, lab, orgs, filepath.Join(dir, "killed"), true)
	// Alerts differ by design: which organisation an indicator "reaches"
	// first depends on the order the clients' sends interleave.
	delete(got, "alerts")
	delete(want, "alerts")
	if !maps.Equal(got, want) {
		t.Fatalf("after kill -9 and resend: %v, want %v", got, want)
	}
}

// pushAll stores the replay through a serve process and spooling clients,
// one per organisation; with kill, the server is killed with SIGKILL once a
// third of the runs are in, and restarted. It returns the store's counts.
func pushAll(t *testing.T, bin, lab string, orgs []fleetlab.FleetOrg, dir string, kill bool) map[string]int {
	ctx := context.Background()
	os.MkdirAll(dir, 0o755)
	db := filepath.Join(dir, "fleet.db")
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, o := range orgs {
		s.CreateOrg(ctx, store.Org{ID: o.ID, Name: o.Name, Sector: o.Sector}, time.Now())
		_, tokens[o.ID], _ = s.CreateToken(ctx, o.ID, time.Now())
	}
	s.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--db", db, "--http", "--listen", addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 400; i++ {
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				return cmd
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("serve did not start")
		return nil
	}
	srv := start()
	pushers := map[string]*ingest.Pusher{}
	for _, o := range orgs {
		pushers[o.ID] = &ingest.Pusher{URL: "http://" + addr, Token: tokens[o.ID], Spool: filepath.Join(dir, "spool", o.ID)}
	}
	f, _ := os.Open(filepath.Join(lab, "replay.jsonl"))
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	total := 0
	for sc.Scan() {
		m, err := fleet.Decode(bytesReader(sc.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		org := m.Org
		m.Org = "" // the token says which
		if err := pushers[org].Enqueue(m); err != nil {
			t.Fatal(err)
		}
		total++
	}
	f.Close()
	var wg sync.WaitGroup
	fctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	errs := make(chan error, len(pushers))
	for _, p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Flush(fctx); err != nil {
				errs <- err
			}
		}()
	}
	if kill {
		for {
			left := 0
			for _, p := range pushers {
				pend, _ := p.Pending()
				left += len(pend)
			}
			if left < total*2/3 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
		time.Sleep(time.Second) // the clients find it down and spool on
		srv = start()
	}
	wg.Wait()
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["runs"] != total {
		t.Fatalf("%d runs stored, %d sent", got["runs"], total)
	}
	return got
}

func readOrgs(t testing.TB, dir string) []fleetlab.FleetOrg {
	b, err := os.ReadFile(filepath.Join(dir, "orgs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var orgs []fleetlab.FleetOrg
	if err := jsonUnmarshal(b, &orgs); err != nil {
		t.Fatal(err)
	}
	return orgs
}
