package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/auth"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/replay"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/fleet/web"
)

const labFleetHelp = `Usage: exhunt lab fleet --out DIR [flags]

Writes a replay of the 2021 Exchange campaign across a fleet of customers:
DIR/orgs.json, DIR/replay.jsonl (ingest messages in time order) and
DIR/truth.json (every server's end state, the spike's night and
organisations). Load it with exhunt serve --demo, or check a server with it.

Flags:
`

func runLabFleet(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lab fleet", labFleetHelp, stderr)
	out := fs.String("out", "", "output folder (required)")
	orgs := fs.Int("orgs", 40, "organisations")
	servers := fs.Int("servers", 200, "servers across them")
	seed := fs.Uint64("seed", 1, "generator seed: the same seed gives the same replay")
	if err := parseServe(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("lab fleet: --out is required", "")
	}
	tr, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: *out, Orgs: *orgs, Servers: *servers, Seed: *seed})
	if err != nil {
		return usageError(err.Error(), "")
	}
	fmt.Fprintf(stdout, "%d organisations, %d servers, %d runs; spike %s at %v\n", len(tr.Orgs), len(tr.Servers), tr.Runs, tr.Spike.Start.Format(time.RFC3339), tr.Spike.Orgs)
	return nil
}

// runServeDemo loads the fleet replay into a temporary database and serves
// it on loopback with a fresh admin login.
func runServeDemo(ctx context.Context, addr string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "exhunt-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if !web.Loopback(addr) {
		return usageError("serve --demo listens on loopback only", "")
	}
	fmt.Fprintln(stderr, "exhunt: writing and loading the 2021 campaign replay (40 organisations, 200 servers)...")
	if _, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: dir, Orgs: 40, Servers: 200, Seed: 1}); err != nil {
		return err
	}
	s, err := store.Open(ctx, filepath.Join(dir, "demo.db"))
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetAlerter(detect.Changes{})
	if _, err := replay.Load(ctx, s, dir); err != nil {
		return err
	}
	var pw [12]byte
	rand.Read(pw[:])
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	h, _ := auth.HashPassword(password)
	if err := s.CreateUser(ctx, store.User{Name: "demo", Role: auth.RoleAdmin, Hash: h}, time.Now()); err != nil {
		return err
	}
	l, url, err := web.Listen(web.Config{Addr: addr, PlainHTTP: true})
	if err != nil {
		return err
	}
	// Browsers keep Secure cookies on plain HTTP only for "localhost".
	url = strings.Replace(url, "http://127.0.0.1:", "http://localhost:", 1)
	fmt.Fprintf(stdout, "exhunt serve --demo: %s/  user demo  password %s  (Ctrl-C to stop; the data is deleted)\n", url, password)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return web.Serve(ctx, l, web.Router(s))
}
