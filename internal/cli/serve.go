package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/auth"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/lease"
	"github.com/exhunt/exhunt/internal/fleet/notify"
	"github.com/exhunt/exhunt/internal/fleet/replay"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/fleet/web"
	"github.com/exhunt/exhunt/internal/queue"
	"github.com/exhunt/exhunt/internal/report"
)

const serveHelp = `Usage:
  exhunt serve [flags]                          run the fleet server (ingest API under /api/v1)
  exhunt serve --nats URL --db postgres://… [flags]
                                                run as one of several replicas: ingest goes through
                                                NATS JetStream, the spike detector and webhook sender
                                                run on the replica holding a PostgreSQL lease
  exhunt serve init --user NAME [flags]         create the first admin (password from EXHUNT_PASSWORD or asked on stdin)
  exhunt serve org add --id ID --name NAME --sector SECTOR [flags]
  exhunt serve token add --org ID [flags]       make an ingest token for an organisation (printed once)
  exhunt serve import --org ID FILE...          load saved hunt results (JSON) into the store
  exhunt serve webhook add --url URL --secret S POST alerts there, signed with HMAC-SHA256

Flags:
`

func serveFlags(name string, stderr io.Writer) (*flagSet, *string) {
	fs := newFlags("serve "+name, serveHelp, stderr)
	def := "exhunt-fleet.db"
	if dir, err := os.UserConfigDir(); err == nil {
		def = filepath.Join(dir, "exhunt", "fleet.db")
	}
	db := fs.String("db", def, "database: a SQLite file, or postgres://user@host/db")
	return fs, db
}

func parseServe(fs *flagSet, args []string) error {
	return parseFlags(fs, args)
}

func openStore(ctx context.Context, dsn string) (*store.Store, error) {
	if !strings.Contains(dsn, "://") {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return nil, err
		}
	}
	return store.Open(ctx, dsn)
}

func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "init":
			return runServeInit(ctx, args[1:], stdin, stdout, stderr)
		case "import":
			return runServeImport(ctx, args[1:], stdout, stderr)
		case "org":
			return runServeOrg(ctx, args[1:], stdout, stderr)
		case "token":
			return runServeToken(ctx, args[1:], stdout, stderr)
		case "webhook":
			return runServeWebhook(ctx, args[1:], stdout, stderr)
		}
	}
	fs, db := serveFlags("", stderr)
	addr := fs.String("listen", "127.0.0.1:8443", "address to listen on")
	cert := fs.String("tls-cert", "", "TLS certificate (PEM); default: a self-signed one made at first start")
	key := fs.String("tls-key", "", "TLS key (PEM)")
	plain := fs.Bool("http", false, "serve plain HTTP (loopback only unless --insecure-http)")
	insecure := fs.Bool("insecure-http", false, "allow plain HTTP on a non-loopback address (behind a TLS proxy)")
	demo := fs.Bool("demo", false, "load the 2021 campaign replay into a temporary database and serve it on loopback")
	natsURL := fs.String("nats", "", "NATS server URLs, comma-separated: run as one of several replicas, ingest through JetStream (needs a postgres:// --db)")
	replicas := fs.Int("nats-replicas", 3, "ingest stream replicas when this replica creates the stream (3 on a cluster, 1 on one server)")
	writers := fs.Int("writers", 4, "with --nats: runs this replica writes to the store at once")
	maxDeliver := fs.Int("max-deliver", 5, "with --nats: deliveries of an unreadable or refused run before it goes to the dead-letter stream")
	retryWait := fs.Duration("retry-wait", 5*time.Second, "with --nats: wait before a run that was not stored is delivered again")
	ackWait := fs.Duration("ack-wait", 30*time.Second, "with --nats: a run held this long by a replica that stopped answering goes to another")
	spikeEvery := fs.Duration("spike-every", time.Minute, "how often the spike detector closes the hours that have passed")
	spikeClock := fs.String("spike-clock", "wall", `when an hour is closed: "wall" (the clock), or "evidence" (the newest evidence stored, for loading a replay or back-filling old runs)`)
	notifyEvery := fs.Duration("notify-every", 10*time.Second, "how often due webhook deliveries are sent")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until the server stops (for performance reports)")
	if err := parseServe(fs, args); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *spikeClock != "wall" && *spikeClock != "evidence" {
		return usageError(fmt.Sprintf("--spike-clock %q: want wall or evidence", *spikeClock), "")
	}
	if *spikeEvery <= 0 || *notifyEvery <= 0 || *retryWait <= 0 || *ackWait <= 0 || *writers < 1 || *maxDeliver < 1 || *replicas < 1 {
		return usageError("--spike-every, --notify-every, --retry-wait, --ack-wait, --writers, --max-deliver and --nats-replicas must be positive", "")
	}
	if *demo {
		a := *addr
		if a == "127.0.0.1:8443" {
			a = "127.0.0.1:8080"
		}
		return runServeDemo(ctx, a, stdout, stderr)
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetAlerter(detect.Changes{})
	if *natsURL != "" && !s.Postgres() {
		return usageError("serve --nats needs a postgres:// --db: every replica writes to the same store", "")
	}
	state := filepath.Dir(*db)
	if strings.Contains(*db, "://") {
		state, _ = os.UserConfigDir()
		state = filepath.Join(state, "exhunt")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "exhunt: "+format+"\n", args...) }
	var q ingest.Queue
	var conn *queue.Conn
	var bg sync.WaitGroup
	defer func() {
		// The writers finish the runs in hand before the bus and the store close.
		stop()
		bg.Wait()
		if conn != nil {
			conn.Close()
		}
	}()
	if *natsURL != "" {
		cfg := queue.DefaultConfig()
		cfg.Replicas = *replicas
		h, _ := os.Hostname()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		c, err := queue.Connect(cctx, *natsURL, fmt.Sprintf("exhunt serve %s-%d", h, os.Getpid()), cfg)
		if err == nil {
			if err = c.EnsureIngest(cctx, queue.IngestConfig{AckWait: *ackWait}); err != nil {
				c.Close()
			}
		}
		cancel()
		if err != nil {
			return err
		}
		q, conn = ingest.Bus{Conn: c}, c
		bg.Go(func() {
			ingest.WriteFromBus(ctx, c, s, queue.WriterOptions{Concurrency: *writers, MaxDeliver: *maxDeliver, Retry: *retryWait, Log: logf})
		})
	}
	l, url, err := web.Listen(web.Config{Addr: *addr, TLSCert: *cert, TLSKey: *key, StateDir: state, PlainHTTP: *plain || *insecure, InsecureHTTP: *insecure})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exhunt serve: listening on %s (ingest: %s/api/v1/runs)\n", url, url)
	singletons := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { runSpikes(ctx, s, *spikeClock == "evidence", *spikeEvery, logf) })
		wg.Go(func() { (&notify.Sender{Store: s, Backoff: 30 * time.Second, MaxAttempts: 10}).Run(ctx, *notifyEvery) })
		wg.Wait()
	}
	if s.Postgres() {
		// Replicas may share the store: one of them runs the singletons.
		bg.Go(func() {
			lease.Run(ctx, *db, lease.Options{What: "the spike detector and the webhook sender", Log: logf}, singletons)
		})
	} else {
		bg.Go(func() { singletons(ctx) })
	}
	return web.Serve(ctx, l, web.Router(s, q))
}

// runSpikes closes the hours as they pass, every period, until ctx ends.
// On the evidence clock an hour closes once the newest evidence stored is
// replay.Lag past it, as the replay loader does, so a replay or a back-fill
// of old runs is watched as a live server would have watched it.
func runSpikes(ctx context.Context, s *store.Store, evidence bool, every time.Duration, logf func(string, ...any)) {
	sp := &detect.Spikes{Store: s}
	for {
		upTo, now := time.Now(), time.Now()
		if evidence {
			latest, err := s.LatestActivity(ctx)
			if err == nil && !latest.IsZero() && latest.Before(upTo) {
				upTo = latest
			}
		}
		if _, err := sp.Evaluate(ctx, upTo.Add(-replay.Lag), now); err != nil && ctx.Err() == nil {
			logf("spike detector: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func runServeWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError(`serve webhook: want "exhunt serve webhook add"`, "")
	}
	fs, db := serveFlags("webhook add", stderr)
	u := fs.String("url", "", "URL alerts are POSTed to")
	secret := fs.String("secret", os.Getenv("EXHUNT_WEBHOOK_SECRET"), "HMAC-SHA256 key (default: EXHUNT_WEBHOOK_SECRET)")
	if err := parseServe(fs, args[1:]); err != nil {
		return err
	}
	if !strings.HasPrefix(*u, "https://") && !strings.HasPrefix(*u, "http://") || len(*secret) < 16 {
		return usageError("serve webhook add: --url http(s)://… and a --secret of 16 or more characters", "")
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	id, err := s.AddWebhook(ctx, store.Webhook{URL: *u, Secret: *secret}, now)
	if err != nil {
		return err
	}
	s.Audit(ctx, store.AuditEntry{Time: now, Actor: "cli", Action: "webhook.create", Detail: id + " " + *u})
	fmt.Fprintf(stdout, "webhook %s added\n", id)
	return nil
}

func runServeInit(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, db := serveFlags("init", stderr)
	name := fs.String("user", "admin", "the admin's user name")
	if err := parseServe(fs, args); err != nil {
		return err
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	if n, err := s.CountUsers(ctx); err != nil {
		return err
	} else if n > 0 {
		return usageError("serve init: the store has users already", "")
	}
	pw := os.Getenv("EXHUNT_PASSWORD")
	if pw == "" {
		fmt.Fprint(stderr, "password for "+*name+": ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		pw = strings.TrimRight(line, "\r\n")
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		return usageError(err.Error(), "")
	}
	now := time.Now().UTC()
	if err := s.CreateUser(ctx, store.User{Name: *name, Role: auth.RoleAdmin, Hash: h}, now); err != nil {
		return err
	}
	s.Audit(ctx, store.AuditEntry{Time: now, Actor: "serve init", Action: "user.create", Detail: *name + " (admin)"})
	fmt.Fprintf(stdout, "admin %q created\n", *name)
	return nil
}

func runServeOrg(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError(`serve org: want "exhunt serve org add"`, "")
	}
	fs, db := serveFlags("org add", stderr)
	id := fs.String("id", "", "organisation id (letters, digits, ._:-)")
	name := fs.String("name", "", "display name")
	sector := fs.String("sector", "", "sector, e.g. law, higher-education, defence, ngo")
	if err := parseServe(fs, args[1:]); err != nil {
		return err
	}
	if !fleet.ValidID(*id) {
		return usageError("serve org add: --id: want letters, digits or ._:-", "")
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	if err := s.CreateOrg(ctx, store.Org{ID: *id, Name: *name, Sector: *sector}, now); err != nil {
		return err
	}
	s.Audit(ctx, store.AuditEntry{Time: now, Actor: "cli", Action: "org.create", Detail: *id})
	fmt.Fprintf(stdout, "organisation %q created\n", *id)
	return nil
}

func runServeToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError(`serve token: want "exhunt serve token add"`, "")
	}
	fs, db := serveFlags("token add", stderr)
	org := fs.String("org", "", "organisation the token writes for")
	if err := parseServe(fs, args[1:]); err != nil {
		return err
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.OrgByID(ctx, store.All, *org); err != nil {
		return usageError(fmt.Sprintf("serve token add: organisation %q: %v", *org, err), "")
	}
	now := time.Now().UTC()
	id, secret, err := s.CreateToken(ctx, *org, now)
	if err != nil {
		return err
	}
	s.Audit(ctx, store.AuditEntry{Time: now, Actor: "cli", Action: "token.create", Detail: *org + " " + id})
	fmt.Fprintln(stdout, secret)
	return nil
}

func runServeImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, db := serveFlags("import", stderr)
	org := fs.String("org", "", "organisation the results belong to (created when missing)")
	sector := fs.String("sector", "", "sector of a new organisation")
	if err := parseServe(fs, args); err != nil {
		return err
	}
	if !fleet.ValidID(*org) || fs.NArg() == 0 {
		return usageError("serve import: --org and at least one FILE are required", "")
	}
	s, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	if err := s.EnsureOrg(ctx, store.Org{ID: *org, Name: *org, Sector: *sector}, now); err != nil {
		return err
	}
	bad := 0
	for _, file := range fs.Args() {
		m, err := readRunFile(file, *org)
		if err != nil {
			fmt.Fprintf(stderr, "exhunt: %s: %v\n", file, err)
			bad++
			continue
		}
		res, err := s.Ingest(ctx, m, now)
		if err != nil {
			fmt.Fprintf(stderr, "exhunt: %s: %v\n", file, err)
			bad++
			continue
		}
		state := "stored"
		if res.Duplicate {
			state = "already stored"
		}
		fmt.Fprintf(stdout, "%s: %s (run %s, %d findings, %d alerts)\n", file, state, m.RunID, res.Findings, len(res.Alerts))
	}
	if bad > 0 {
		return &exitError{code: ExitError, msg: fmt.Sprintf("%d file(s) not imported", bad)}
	}
	return nil
}

// readRunFile reads an ingest message, or a bare hunt result (`hunt
// --format json`) which gets a run id from its content so that importing
// it twice stores it once.
func readRunFile(file, org string) (*fleet.Run, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if m, err := fleet.Decode(bytes.NewReader(b)); err == nil {
		if m.Org == "" {
			m.Org = org
		}
		if m.Org != org {
			return nil, fmt.Errorf("message for organisation %q, importing into %q", m.Org, org)
		}
		return m, nil
	}
	res, err := report.ReadJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if res.SchemaVersion != finding.SchemaVersion {
		return nil, fmt.Errorf("schema_version %d is not supported: want %d", res.SchemaVersion, finding.SchemaVersion)
	}
	sum := sha256.Sum256(b)
	return &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: "import-" + hex.EncodeToString(sum[:16]), Org: org, Hunt: res}, nil
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
	return web.Serve(ctx, l, web.Router(s, nil))
}
