// Package store keeps the fleet server's data: organisations, servers and
// their current state, runs with their history, findings, indicators,
// alerts, people and tokens. One schema and one set of queries serve
// SQLite (the embedded default) and PostgreSQL; the schema is migrated at
// open and a database written by a newer exhunt is refused.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNewerSchema is returned by Open for a database migrated by a newer exhunt.
var ErrNewerSchema = errors.New("the database schema is newer than this exhunt")

// ErrUnknownOrg is returned when a message names an organisation that does not exist.
var ErrUnknownOrg = errors.New("unknown organisation")

// Store is an open fleet database.
type Store struct {
	db *sql.DB
	pg bool
	// wmu serialises SQLite writers: a deferred transaction that starts
	// reading and then writes fails with SQLITE_BUSY under concurrency,
	// one writer at a time never does. PostgreSQL needs no such lock.
	wmu     sync.Mutex
	queries sync.Map // SQL text with ? -> PostgreSQL's $n form
	texts   sync.Map // rowsKey -> many-row INSERT text
	prepMu  sync.Mutex
	prep    map[string]*sql.Stmt
	version atomic.Uint64
	alerter Alerter
}

// Open opens (creating if needed) the database named by dsn: a
// postgres:// or postgresql:// URL, or a SQLite file path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{alerter: noAlerts{}}
	var err error
	// More idle connections are kept than database/sql's 2: twenty page
	// clients otherwise close and reopen them, each with its prepared
	// statements and its PostgreSQL backend or SQLite page cache. SQLite
	// keeps 4, as each holds up to 16 MB of cache.
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.pg = true
		s.db, err = openPG(ctx, dsn)
	} else {
		if dsn == "" {
			return nil, errors.New("store: no database given")
		}
		s.db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(8192)&_txlock=immediate")
		if err == nil {
			s.db.SetMaxOpenConns(8)
			s.db.SetMaxIdleConns(4)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// openPG opens a PostgreSQL database. Where the server has lz4, the
// sessions compress large values with it rather than pglz: compressing
// each hunted server's document (about 50 KB of JSON) took PostgreSQL
// several times longer with pglz, and lz4's output is smaller.
func openPG(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if _, set := cfg.RuntimeParams["default_toast_compression"]; !set {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		var lz4 bool
		err = c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))").Scan(&lz4)
		c.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if lz4 {
			cfg.RuntimeParams["default_toast_compression"] = "lz4"
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.prepMu.Lock()
	for _, st := range s.prep {
		st.Close()
	}
	s.prep = nil
	s.prepMu.Unlock()
	return s.db.Close()
}

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool { return s.pg }

// q returns the query in the backend's placeholder form.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s.queries.Store(query, b.String())
	return b.String()
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", n)
		}
		b, _ := migrationFiles.ReadFile(n)
		ms = append(ms, migration{v, base, string(b)})
	}
	return ms, nil
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.pg {
		// Replicas starting together migrate one after the other.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(727431)"); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)"); err != nil {
		return fmt.Errorf("store: schema table: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return err
	}
	if latest := SchemaVersion(); cur > latest {
		return fmt.Errorf("%w: database at version %d, this exhunt knows up to %d; upgrade exhunt", ErrNewerSchema, cur, latest)
	}
	for _, m := range ms {
		if m.version <= cur {
			continue
		}
		for _, stmt := range splitSQL(m.sql) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)"), m.version, m.name, time.Now().UnixMilli()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// splitSQL cuts a migration into statements at semicolons ending a line,
// dropping comment lines.
func splitSQL(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// write runs f in one transaction.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	if !s.pg {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.version.Add(1)
	return nil
}

// Version moves on every change committed through this Store, so that
// a reader's cache knows when it went stale (changes by another process
// on the same database do not move it).
func (s *Store) Version() uint64 { return s.version.Load() }

// NewID returns a random identifier.
func NewID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prepared is a statement prepared on the database once, for the SQLite
// write path and the queries every page makes (SQLite would otherwise
// parse each anew): database/sql re-prepares it on a connection only once.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if st, ok := s.prep[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if s.prep == nil {
		s.prep = map[string]*sql.Stmt{}
	}
	s.prep[query] = st
	return st, nil
}

type rowsKey struct {
	head, row, tail string
	rows            int
}

// rowsText is head, rows copies of the row template joined by commas, and tail.
func (s *Store) rowsText(head, row, tail string, rows int) string {
	k := rowsKey{head, row, tail, rows}
	if v, ok := s.texts.Load(k); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(head) + len(tail) + rows*(len(row)+2))
	b.WriteString(head)
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(tail)
	s.texts.Store(k, b.String())
	return b.String()
}

// placeholders is a row template of n parameters.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// unnest turns a many-row INSERT (head ending "VALUES ") into PostgreSQL's
// INSERT ... SELECT FROM unnest of one array a column, and args (rows of
// cols values) into those arrays. One statement text serves any row
// count, so PostgreSQL parses and plans it once a connection, where a
// VALUES list of hundreds of rows was planned again at each execution.
func (s *Store) unnest(head, tail string, cols int, args []any) (string, []any, error) {
	rows := len(args) / cols
	arrays := make([]any, cols)
	types := make([]byte, cols)
	for c := range cols {
		switch args[c].(type) {
		case string:
			a := make([]string, rows)
			for r := range rows {
				v, ok := args[r*cols+c].(string)
				if !ok {
					return "", nil, fmt.Errorf("store: column %d of %q mixes types", c, head)
				}
				a[r] = v
			}
			arrays[c], types[c] = a, 't'
		case int, int64:
			a := make([]int64, rows)
			for r := range rows {
				switch v := args[r*cols+c].(type) {
				case int:
					a[r] = int64(v)
				case int64:
					a[r] = v
				default:
					return "", nil, fmt.Errorf("store: column %d of %q mixes types", c, head)
				}
			}
			arrays[c], types[c] = a, 'i'
		default:
			return "", nil, fmt.Errorf("store: column %d of %q: unsupported type %T", c, head, args[c])
		}
	}
	k := rowsKey{head, string(types), tail, -1}
	if v, ok := s.texts.Load(k); ok {
		return v.(string), arrays, nil
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(strings.TrimSpace(head), "VALUES"))
	b.WriteString("SELECT * FROM unnest(")
	for c, t := range types {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(c+1))
		if t == 't' {
			b.WriteString("::text[]")
		} else {
			b.WriteString("::bigint[]")
		}
	}
	b.WriteString(")")
	b.WriteString(tail)
	s.texts.Store(k, b.String())
	return b.String(), arrays, nil
}
