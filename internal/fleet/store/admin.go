package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Org is one customer.
type Org struct {
	ID, Name, Sector string
}

// CreateOrg adds an organisation; an existing id is an error.
func (s *Store) CreateOrg(ctx context.Context, o Org, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO orgs (id, name, sector, created_ms) VALUES (?, ?, ?, ?)"), o.ID, clip(o.Name), clip(o.Sector), now.UnixMilli())
		return err
	})
}

// EnsureOrg adds an organisation unless it exists.
func (s *Store) EnsureOrg(ctx context.Context, o Org, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO orgs (id, name, sector, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"), o.ID, clip(o.Name), clip(o.Sector), now.UnixMilli())
		return err
	})
}

// Orgs lists the organisations in scope by id.
func (s *Store) Orgs(ctx context.Context, sc Scope) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id, name, sector FROM orgs WHERE ? = '' OR id = ? ORDER BY id"), sc.Org, sc.Org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		if err := rows.Scan(&o.ID, &o.Name, &o.Sector); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// OrgByID returns one organisation in scope, or ErrNotFound.
func (s *Store) OrgByID(ctx context.Context, sc Scope, id string) (Org, error) {
	if !sc.Allows(id) {
		return Org{}, ErrNotFound
	}
	var o Org
	err := s.db.QueryRowContext(ctx, s.q("SELECT id, name, sector FROM orgs WHERE id = ?"), id).Scan(&o.ID, &o.Name, &o.Sector)
	if err == sql.ErrNoRows {
		return o, ErrNotFound
	}
	return o, err
}

func tokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Token is an organisation's ingest token (its secret is shown once).
type Token struct {
	ID, Org          string
	Created, Revoked time.Time
}

// CreateToken makes an ingest token for org and returns its secret:
// "exh_" + the token id + "_" + 32 random bytes.
func (s *Store) CreateToken(ctx context.Context, org string, now time.Time) (id, secret string, err error) {
	var b [32]byte
	rand.Read(b[:])
	id = NewID()
	secret = "exh_" + id + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO tokens (id, org_id, hash, created_ms) VALUES (?, ?, ?, ?)"), id, org, tokenHash(secret), now.UnixMilli())
		return err
	})
	return id, secret, err
}

// Token errors, worded for the sender.
var (
	ErrTokenUnknown = errors.New("ingest token not recognised")
	ErrTokenRevoked = errors.New("ingest token revoked")
)

// TokenOrg returns the organisation an ingest token writes for.
func (s *Store) TokenOrg(ctx context.Context, secret string) (string, error) {
	var org string
	var revoked int64
	err := s.db.QueryRowContext(ctx, s.q("SELECT org_id, revoked_ms FROM tokens WHERE hash = ?"), tokenHash(secret)).Scan(&org, &revoked)
	if err == sql.ErrNoRows {
		return "", ErrTokenUnknown
	}
	if err != nil {
		return "", err
	}
	if revoked != 0 {
		return "", ErrTokenRevoked
	}
	return org, nil
}

// RevokeToken revokes a token by id.
func (s *Store) RevokeToken(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q("UPDATE tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0"), now.UnixMilli(), id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// Tokens lists an organisation's tokens.
func (s *Store) Tokens(ctx context.Context, org string) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id, org_id, created_ms, revoked_ms FROM tokens WHERE org_id = ? ORDER BY created_ms, id"), org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var c, r int64
		if err := rows.Scan(&t.ID, &t.Org, &c, &r); err != nil {
			return nil, err
		}
		t.Created, t.Revoked = fromMS(c), fromMS(r)
		out = append(out, t)
	}
	return out, rows.Err()
}

// User is a person who logs in to the dashboard.
type User struct {
	Name, Role, Org, Hash string
}

// CreateUser adds a user; the name must be new.
func (s *Store) CreateUser(ctx context.Context, u User, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO users (name, pw_hash, role, org_id, created_ms) VALUES (?, ?, ?, ?, ?)"), u.Name, u.Hash, u.Role, u.Org, now.UnixMilli())
		if err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
		return nil
	})
}

// UserByName returns a user or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u := User{Name: name}
	err := s.db.QueryRowContext(ctx, s.q("SELECT pw_hash, role, org_id FROM users WHERE name = ?"), name).Scan(&u.Hash, &u.Role, &u.Org)
	if err == sql.ErrNoRows {
		return u, ErrNotFound
	}
	return u, err
}

// Users lists every user.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, role, org_id FROM users ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.Name, &u.Role, &u.Org); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers is how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// Session is a logged-in browser.
type Session struct {
	User    string
	CSRF    string
	Expires time.Time
}

// CreateSession stores a session under the hash of its cookie value.
func (s *Store) CreateSession(ctx context.Context, cookie string, ss Session) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO sessions (id_hash, user_name, csrf, expires_ms) VALUES (?, ?, ?, ?)"), tokenHash(cookie), ss.User, ss.CSRF, ss.Expires.UnixMilli())
		return err
	})
}

// SessionByCookie returns a live session and its user, or ErrNotFound:
// one query, as every page asks it.
func (s *Store) SessionByCookie(ctx context.Context, cookie string, now time.Time) (Session, User, error) {
	var ss Session
	var u User
	var exp int64
	err := s.queryRow(ctx, "SELECT s.user_name, s.csrf, s.expires_ms, u.pw_hash, u.role, u.org_id FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?",
		tokenHash(cookie)).Scan(&ss.User, &ss.CSRF, &exp, &u.Hash, &u.Role, &u.Org)
	if err == sql.ErrNoRows || (err == nil && exp <= now.UnixMilli()) {
		return ss, u, ErrNotFound
	}
	ss.Expires, u.Name = fromMS(exp), ss.User
	return ss, u, err
}

// DeleteSession logs a session out.
func (s *Store) DeleteSession(ctx context.Context, cookie string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("DELETE FROM sessions WHERE id_hash = ?"), tokenHash(cookie))
		return err
	})
}

// AuditEntry is one admin action.
type AuditEntry struct {
	Time                  time.Time
	Actor, Action, Detail string
}

// Audit records an admin action.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO audit (id, time_ms, actor, action, detail) VALUES (?, ?, ?, ?, ?)"), NewID(), e.Time.UnixMilli(), e.Actor, e.Action, clip(e.Detail))
		return err
	})
}

// AuditLog lists admin actions, newest first.
func (s *Store) AuditLog(ctx context.Context, offset, limit int) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT time_ms, actor, action, detail FROM audit ORDER BY time_ms DESC, id LIMIT ? OFFSET ?"), limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var t int64
		if err := rows.Scan(&t, &e.Actor, &e.Action, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = fromMS(t)
		out = append(out, e)
	}
	return out, rows.Err()
}
