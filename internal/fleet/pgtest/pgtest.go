// Package pgtest runs a real, throw-away PostgreSQL server for tests:
// initdb into a temporary directory and postgres on a loopback port. Only
// tests import it. The server refuses to run as root, so when the tests
// run as root it is started as the "postgres" system user.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// BinDir is where Debian puts the server binaries; EXHUNT_PG_BIN overrides it.
func BinDir(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("EXHUNT_PG_BIN"), "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	t.Fatal("PostgreSQL server binaries are needed for these tests: apt-get install postgresql")
	return ""
}

// Server is one running PostgreSQL.
type Server struct {
	Port int
	dir  string
	bin  string
	cmd  *exec.Cmd
	db   int
	mu   sync.Mutex
}

// asUser wraps a command so that it runs as the postgres user when we are root.
func asUser(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start initialises and starts a server that stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := BinDir(t)
	base, err := os.MkdirTemp("", "exhunt-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("running as root, PostgreSQL needs the postgres system user: ", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{dir: filepath.Join(base, "data"), bin: bin, Port: freePort(t)}
	out, err := asUser(filepath.Join(bin, "initdb"), "-D", s.dir, "-U", "exhunt", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	s.cmd = asUser(filepath.Join(s.bin, "postgres"), "-D", s.dir, "-p", strconv.Itoa(s.Port), "-h", "127.0.0.1", "-k", filepath.Dir(s.dir),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=100")
	logf, err := os.Create(filepath.Join(filepath.Dir(s.dir), "log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, _ := sql.Open("pgx", s.url("postgres"))
		err := db.Ping()
		db.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("postgres did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// SIGINT is PostgreSQL's fast shutdown. runuser passes it on.
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://exhunt@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDB creates an empty database and returns its URL.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.db++
	name := fmt.Sprintf("t%d_%s", s.db, strings.ToLower(strings.NewReplacer("/", "_", "-", "_", " ", "_").Replace(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	s.mu.Unlock()
	db, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	return s.url(name)
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr string
	cleanups  []func()
)

// sharedTB lets one server outlive the test that started it: it lives
// until Main returns.
type sharedTB struct {
	testing.TB
	failed string
}

func (s *sharedTB) Helper()           {}
func (s *sharedTB) Cleanup(f func())  { cleanups = append(cleanups, f) }
func (s *sharedTB) Fatal(args ...any) { s.failed = fmt.Sprint(args...); panic(s) }
func (s *sharedTB) Fatalf(format string, args ...any) {
	s.failed = fmt.Sprintf(format, args...)
	panic(s)
}

// Shared returns the package's one PostgreSQL server, started on first use.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == "" {
		stb := &sharedTB{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if r != stb {
						panic(r)
					}
					sharedErr = stb.failed
				}
			}()
			shared = Start(stb)
		}()
	}
	if sharedErr != "" {
		t.Fatal(sharedErr)
	}
	return shared
}

// Main runs the tests and then stops the shared server.
func Main(m *testing.M) int {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	return code
}

// Backends runs f on a fresh SQLite file and on a fresh database of the
// shared PostgreSQL: the store's two backends pass the same tests.
func Backends(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, filepath.Join(t.TempDir(), "fleet.db")) })
	t.Run("postgres", func(t *testing.T) { f(t, Shared(t).NewDB(t)) })
}
