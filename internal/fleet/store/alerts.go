package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Alert is something the people on call should look at.
type Alert struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// At is when it happened (the evidence's time); Created when it was raised.
	At      time.Time `json:"at"`
	Created time.Time `json:"created"`
	Title   string    `json:"title"`
	Orgs    []string  `json:"orgs"`
	Servers []string  `json:"servers,omitempty"`
	// Evidence lines, attacker-written text included.
	Evidence []string  `json:"evidence,omitempty"`
	Baseline *Baseline `json:"baseline,omitempty"`
	AckedBy  string    `json:"acked_by,omitempty"`
	Acked    time.Time `json:"acked,omitzero"`
}

// Baseline is the figures a spike alert rests on.
type Baseline struct {
	Hour      time.Time `json:"hour"`
	Orgs      int       `json:"orgs"`
	Servers   int       `json:"servers"`
	Median    float64   `json:"median"`
	MAD       float64   `json:"mad"`
	Threshold float64   `json:"threshold"`
	Samples   []int     `json:"samples"`
}

// Scope is what a caller may see: one organisation, or all when Org is empty.
type Scope struct{ Org string }

// All is the scope of admins and analysts.
var All = Scope{}

// Allows reports whether org is inside the scope.
func (sc Scope) Allows(org string) bool { return sc.Org == "" || sc.Org == org }

func (s *Store) insertAlert(ctx context.Context, tx *sql.Tx, a *Alert, now time.Time) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.Created = now.UTC()
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q("INSERT INTO alerts (id, kind, at_ms, created_ms, title, body) VALUES (?, ?, ?, ?, ?, ?)"),
		a.ID, a.Kind, ms(a.At), now.UnixMilli(), clip(a.Title), string(body)); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, o := range a.Orgs {
		if seen[o] {
			continue
		}
		seen[o] = true
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO alert_orgs (alert_id, org_id) VALUES (?, ?)"), a.ID, o); err != nil {
			return err
		}
	}
	rows, err := tx.QueryContext(ctx, s.q("SELECT id FROM webhooks"))
	if err != nil {
		return err
	}
	var hooks []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		hooks = append(hooks, id)
	}
	rows.Close()
	for _, h := range hooks {
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO deliveries (alert_id, webhook_id, state, attempts, next_ms, last_error) VALUES (?, ?, 'pending', 0, ?, '')"), a.ID, h, now.UnixMilli()); err != nil {
			return err
		}
	}
	return nil
}

// AddAlert stores an alert raised outside an ingest (the spike detector).
func (s *Store) AddAlert(ctx context.Context, a *Alert, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertAlert(ctx, tx, a, now) })
}

// AlertFilter selects alerts.
type AlertFilter struct {
	Kind   string
	Offset int
	Limit  int
	// Newest lists the newest first.
	Newest bool
}

// Alerts lists the alerts in scope, newest first.
func (s *Store) Alerts(ctx context.Context, sc Scope, f AlertFilter) ([]Alert, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q := "SELECT a.body, a.acked_by, a.acked_ms FROM alerts a WHERE (? = '' OR a.kind = ?)"
	args := []any{f.Kind, f.Kind}
	if sc.Org != "" {
		q += " AND EXISTS (SELECT 1 FROM alert_orgs o WHERE o.alert_id = a.id AND o.org_id = ?)"
		args = append(args, sc.Org)
	}
	if f.Newest {
		q += " ORDER BY a.at_ms DESC, a.id DESC LIMIT ? OFFSET ?"
	} else {
		q += " ORDER BY a.at_ms, a.id LIMIT ? OFFSET ?"
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var body, by string
		var acked int64
		if err := rows.Scan(&body, &by, &acked); err != nil {
			return nil, err
		}
		var a Alert
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, err
		}
		a.AckedBy, a.Acked = by, fromMS(acked)
		if sc.Org != "" {
			a = a.Scoped(sc)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertMark is the alerts of one hour, as the timeline marks them.
type AlertMark struct {
	Hour  time.Time
	N     int
	Title string // the first alert's
}

// AlertMarks counts the alerts in scope per hour in [from, to): a mass
// exploitation raises thousands, and the timeline marks hours.
func (s *Store) AlertMarks(ctx context.Context, sc Scope, from, to time.Time) ([]AlertMark, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.at_ms / 3600000, COUNT(*), MIN(a.title) FROM alerts a WHERE a.at_ms >= ? AND a.at_ms < ?
		AND (? = '' OR EXISTS (SELECT 1 FROM alert_orgs o WHERE o.alert_id = a.id AND o.org_id = ?)) GROUP BY a.at_ms / 3600000 ORDER BY 1`), ms(from), ms(to), sc.Org, sc.Org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AlertMark
	for rows.Next() {
		var m AlertMark
		var h int64
		if err := rows.Scan(&h, &m.N, &m.Title); err != nil {
			return nil, err
		}
		m.Hour = time.Unix(h*3600, 0).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Scoped hides the other organisations an alert names from an
// organisation's viewer.
func (a Alert) Scoped(sc Scope) Alert {
	if sc.Org == "" {
		return a
	}
	a.Orgs = []string{sc.Org}
	a.Servers = nil
	a.Evidence = nil
	return a
}

// Alert returns one alert in scope; sql.ErrNoRows when there is none there.
func (s *Store) Alert(ctx context.Context, sc Scope, id string) (Alert, error) {
	var body, by string
	var acked int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body, acked_by, acked_ms FROM alerts a WHERE id = ?
		AND (? = '' OR EXISTS (SELECT 1 FROM alert_orgs o WHERE o.alert_id = a.id AND o.org_id = ?))`), id, sc.Org, sc.Org).Scan(&body, &by, &acked)
	if err != nil {
		return Alert{}, err
	}
	var a Alert
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return Alert{}, err
	}
	a.AckedBy, a.Acked = by, fromMS(acked)
	return a.Scoped(sc), nil
}

// ErrNotFound is returned for a row that does not exist in the caller's scope.
var ErrNotFound = errors.New("not found")

// Ack acknowledges an alert in scope.
func (s *Store) Ack(ctx context.Context, sc Scope, id, user string, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE alerts SET acked_by = ?, acked_ms = ? WHERE id = ? AND acked_ms = 0
			AND (? = '' OR EXISTS (SELECT 1 FROM alert_orgs o WHERE o.alert_id = alerts.id AND o.org_id = ?))`), user, now.UnixMilli(), id, sc.Org, sc.Org)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// LastSpikeHour is the last hour the spike detector evaluated.
func (s *Store) LastSpikeHour(ctx context.Context) (int64, bool, error) {
	var h sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(hour) FROM spike_hours").Scan(&h)
	return h.Int64, h.Valid, err
}

// SpikeHours returns the hours in [from, to) that were above their baseline.
func (s *Store) SpikeHours(ctx context.Context, from, to int64) (map[int64]bool, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT hour FROM spike_hours WHERE hour >= ? AND hour < ? AND alerted = 1"), from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out[h] = true
	}
	return out, rows.Err()
}

// RecordSpikeHour stores an evaluated hour and its alert, if any, together.
// An hour already recorded (by another detector that evaluated it first)
// keeps its record and raises no second alert.
func (s *Store) RecordSpikeHour(ctx context.Context, b Baseline, over bool, a *Alert, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q("INSERT INTO spike_hours (hour, orgs, servers, median, mad, threshold, alerted) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
			b.Hour.Unix()/3600, b.Orgs, b.Servers, b.Median, b.MAD, b.Threshold, b2i(over))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if a != nil {
			return s.insertAlert(ctx, tx, a, now)
		}
		return nil
	})
}

// Webhook is a URL alerts are POSTed to.
type Webhook struct {
	ID, URL, Secret string
}

// AddWebhook registers a webhook; alerts raised from now on are sent to it.
func (s *Store) AddWebhook(ctx context.Context, h Webhook, now time.Time) (string, error) {
	if h.ID == "" {
		h.ID = NewID()
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO webhooks (id, url, secret, created_ms) VALUES (?, ?, ?, ?)"), h.ID, h.URL, h.Secret, now.UnixMilli())
		return err
	})
	return h.ID, err
}

// Delivery is one alert to send to one webhook.
type Delivery struct {
	AlertID, WebhookID, URL, Secret string
	Body                            []byte
	State                           string
	Attempts                        int
	Next                            time.Time
	LastError                       string
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// DueDeliveries lists pending deliveries whose time has come.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT d.alert_id, d.webhook_id, w.url, w.secret, a.body, d.attempts FROM deliveries d
		JOIN webhooks w ON w.id = d.webhook_id JOIN alerts a ON a.id = d.alert_id
		WHERE d.state = 'pending' AND d.next_ms <= ? ORDER BY d.next_ms, d.alert_id LIMIT ?`), now.UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var body string
		if err := rows.Scan(&d.AlertID, &d.WebhookID, &d.URL, &d.Secret, &body, &d.Attempts); err != nil {
			return nil, err
		}
		d.Body, d.State = []byte(body), DeliveryPending
		out = append(out, d)
	}
	return out, rows.Err()
}

// RecordDelivery stores the outcome of an attempt.
func (s *Store) RecordDelivery(ctx context.Context, d Delivery) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("UPDATE deliveries SET state = ?, attempts = ?, next_ms = ?, last_error = ? WHERE alert_id = ? AND webhook_id = ?"),
			d.State, d.Attempts, ms(d.Next), clip(d.LastError), d.AlertID, d.WebhookID)
		return err
	})
}

// Deliveries lists an alert's deliveries.
func (s *Store) Deliveries(ctx context.Context, alertID string) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT webhook_id, state, attempts, next_ms, last_error FROM deliveries WHERE alert_id = ? ORDER BY webhook_id"), alertID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d := Delivery{AlertID: alertID}
		var next int64
		if err := rows.Scan(&d.WebhookID, &d.State, &d.Attempts, &next, &d.LastError); err != nil {
			return nil, err
		}
		d.Next = fromMS(next)
		out = append(out, d)
	}
	return out, rows.Err()
}
