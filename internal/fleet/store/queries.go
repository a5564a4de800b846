package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
)

// queryRow runs a prepared query; a failed prepare shows in Scan.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// StateCounts is servers per state, with the inconclusive ones beside.
type StateCounts struct {
	Key          string // organisation id or sector
	Name         string
	ByState      map[fleet.State]int
	Inconclusive int
	Servers      int
	Affected     int
	Exploited    int
}

// Overview counts servers by state per organisation and per sector.
// Decoys are not servers of the fleet and are left out.
func (s *Store) Overview(ctx context.Context, sc Scope) (perOrg, perSector []StateCounts, err error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT o.id, o.name, o.sector, s.state, s.inconclusive, s.n FROM org_states s JOIN orgs o ON o.id = s.org_id
		WHERE (? = '' OR s.org_id = ?) AND s.n > 0 ORDER BY o.id, s.state, s.inconclusive`), sc.Org, sc.Org)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	orgIdx, secIdx := map[string]int{}, map[string]int{}
	add := func(list *[]StateCounts, idx map[string]int, key, name string, st fleet.State, inc bool, n int) {
		i, ok := idx[key]
		if !ok {
			i = len(*list)
			idx[key] = i
			*list = append(*list, StateCounts{Key: key, Name: name, ByState: map[fleet.State]int{}})
		}
		c := &(*list)[i]
		c.ByState[st] += n
		c.Servers += n
		if inc {
			c.Inconclusive += n
		}
		if st.Affected() {
			c.Affected += n
		}
		if st.Exploited() {
			c.Exploited += n
		}
	}
	for rows.Next() {
		var id, name, sector, st string
		var inc, n int
		if err := rows.Scan(&id, &name, &sector, &st, &inc, &n); err != nil {
			return nil, nil, err
		}
		add(&perOrg, orgIdx, id, name, fleet.State(st), inc == 1, n)
		add(&perSector, secIdx, sector, sector, fleet.State(st), inc == 1, n)
	}
	return perOrg, perSector, rows.Err()
}

// ServerRow is one server in a list.
type ServerRow struct {
	Org, Name    string
	State        fleet.State
	Verdict      finding.Verdict
	Inconclusive bool
	Exposed      bool
	Build, Patch string
	HuntRun      string
	Hunted       time.Time
	LastSeen     time.Time
}

const serverCols = "org_id, name, state, verdict, inconclusive, exposed, build, patch, hunt_run, hunt_ms, last_ms"

func scanServer(r interface{ Scan(...any) error }) (ServerRow, error) {
	var sr ServerRow
	var st, v string
	var inc, exp int
	var h, l int64
	err := r.Scan(&sr.Org, &sr.Name, &st, &v, &inc, &exp, &sr.Build, &sr.Patch, &sr.HuntRun, &h, &l)
	sr.State, sr.Verdict, sr.Inconclusive, sr.Exposed, sr.Hunted, sr.LastSeen = fleet.State(st), finding.Verdict(v), inc == 1, exp == 1, fromMS(h), fromMS(l)
	return sr, err
}

// Servers lists an organisation's servers (all in scope when org is
// empty), worst state first.
func (s *Store) Servers(ctx context.Context, sc Scope, org string, offset, limit int) ([]ServerRow, error) {
	if org != "" && !sc.Allows(org) {
		return nil, ErrNotFound
	}
	if org == "" {
		org = sc.Org
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+serverCols+` FROM servers WHERE (? = '' OR org_id = ?)
		ORDER BY CASE state WHEN 'exploited' THEN 0 WHEN 'compromised' THEN 1 WHEN 'attempted' THEN 2 WHEN 'probed' THEN 3 WHEN 'exposed' THEN 4 ELSE 5 END, org_id, name LIMIT ? OFFSET ?`),
		org, org, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ServerRow
	for rows.Next() {
		sr, err := scanServer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, rows.Err()
}

// Server returns one server and its current hunt document (nil before a hunt).
func (s *Store) Server(ctx context.Context, sc Scope, org, name string) (ServerRow, *finding.Server, error) {
	if !sc.Allows(org) {
		return ServerRow{}, nil, ErrNotFound
	}
	sr, err := scanServer(s.db.QueryRowContext(ctx, s.q("SELECT "+serverCols+" FROM servers WHERE org_id = ? AND name = ?"), org, name))
	if err == sql.ErrNoRows {
		return sr, nil, ErrNotFound
	}
	if err != nil || sr.HuntRun == "" {
		return sr, nil, err
	}
	var doc string
	if err := s.db.QueryRowContext(ctx, s.q("SELECT doc FROM server_runs WHERE run_id = ? AND org_id = ? AND server = ?"), sr.HuntRun, org, name).Scan(&doc); err != nil {
		return sr, nil, err
	}
	var fs finding.Server
	if err := json.Unmarshal([]byte(doc), &fs); err != nil {
		return sr, nil, err
	}
	return sr, &fs, nil
}

// ServerView returns one server with the attackers and mailboxes of its
// current hunt (nil before a hunt): what its dashboard page shows, read in
// one query. Of the hunt document only those two fields are decoded, and
// decoding stops once both are read; the findings after them are skipped.
func (s *Store) ServerView(ctx context.Context, sc Scope, org, name string) (ServerRow, *finding.Server, error) {
	if !sc.Allows(org) {
		return ServerRow{}, nil, ErrNotFound
	}
	var sr ServerRow
	var st, v string
	var inc, exp int
	var h, l int64
	var doc sql.NullString
	err := s.queryRow(ctx, `SELECT s.org_id, s.name, s.state, s.verdict, s.inconclusive, s.exposed, s.build, s.patch, s.hunt_run, s.hunt_ms, s.last_ms, r.doc
		FROM servers s LEFT JOIN server_runs r ON r.run_id = s.hunt_run AND r.org_id = s.org_id AND r.server = s.name WHERE s.org_id = ? AND s.name = ?`, org, name).
		Scan(&sr.Org, &sr.Name, &st, &v, &inc, &exp, &sr.Build, &sr.Patch, &sr.HuntRun, &h, &l, &doc)
	if err == sql.ErrNoRows {
		return sr, nil, ErrNotFound
	}
	if err != nil {
		return sr, nil, err
	}
	sr.State, sr.Verdict, sr.Inconclusive, sr.Exposed, sr.Hunted, sr.LastSeen = fleet.State(st), finding.Verdict(v), inc == 1, exp == 1, fromMS(h), fromMS(l)
	if sr.HuntRun == "" || !doc.Valid {
		return sr, nil, nil
	}
	fs, err := attackersOf(doc.String)
	return sr, fs, err
}

// attackersOf decodes the attackers and mailboxes of a hunt document.
func attackersOf(doc string) (*finding.Server, error) {
	var fs finding.Server
	dec := json.NewDecoder(strings.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("hunt document: not an object")
	}
	var gotA, gotM bool
	for dec.More() && !(gotA && gotM) {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("hunt document: %w", err)
		}
		var dst any = &json.RawMessage{}
		switch t {
		case "attackers":
			dst, gotA = &fs.Attackers, true
		case "mailboxes_accessed":
			dst, gotM = &fs.MailboxesAccessed, true
		}
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("hunt document: %w", err)
		}
	}
	return &fs, nil
}

// RunRow is one stored run of a server.
type RunRow struct {
	RunID        string
	Started      time.Time
	Verdict      finding.Verdict
	Inconclusive bool
}

// ServerHistory lists a server's hunt runs, newest first.
func (s *Store) ServerHistory(ctx context.Context, sc Scope, org, name string, offset, limit int) ([]RunRow, error) {
	if !sc.Allows(org) {
		return nil, ErrNotFound
	}
	st, err := s.prepared(ctx, "SELECT run_id, started_ms, verdict, inconclusive FROM server_runs WHERE org_id = ? AND server = ? ORDER BY started_ms DESC, run_id LIMIT ? OFFSET ?")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, org, name, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RunRow
	for rows.Next() {
		var r RunRow
		var t int64
		var v string
		var inc int
		if err := rows.Scan(&r.RunID, &t, &v, &inc); err != nil {
			return nil, err
		}
		r.Started, r.Verdict, r.Inconclusive = fromMS(t), finding.Verdict(v), inc == 1
		out = append(out, r)
	}
	return out, rows.Err()
}

// Indicator is an attacker address, user agent or web shell and where it was seen.
type Indicator struct {
	Kind, Value string
	Orgs        []string
	Servers     int
	First, Last time.Time
}

// CrossIndicators lists indicators seen at two or more organisations.
// An organisation's viewer sees only those seen at its own, and not the
// other organisations' names.
func (s *Store) CrossIndicators(ctx context.Context, sc Scope, kind string, offset, limit int) ([]Indicator, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kind, value, COUNT(*), SUM(servers), MIN(CASE WHEN first_ms = 0 THEN NULL ELSE first_ms END), MAX(last_ms) FROM indicator_orgs i
		WHERE (? = '' OR kind = ?) AND (? = '' OR EXISTS (SELECT 1 FROM indicator_orgs j WHERE j.org_id = ? AND j.kind = i.kind AND j.value = i.value))
		GROUP BY kind, value HAVING COUNT(*) >= 2 ORDER BY COUNT(*) DESC, kind, value LIMIT ? OFFSET ?`),
		kind, kind, sc.Org, sc.Org, limit, offset)
	if err != nil {
		return nil, err
	}
	var out []Indicator
	for rows.Next() {
		var in Indicator
		var norgs int
		var first sql.NullInt64
		var last int64
		if err := rows.Scan(&in.Kind, &in.Value, &norgs, &in.Servers, &first, &last); err != nil {
			rows.Close()
			return nil, err
		}
		in.First, in.Last = fromMS(first.Int64), fromMS(last)
		in.Orgs = make([]string, norgs)
		out = append(out, in)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if sc.Org != "" {
			out[i].Orgs = []string{sc.Org}
			continue
		}
		orgs, err := s.IndicatorOrgs(ctx, sc, out[i].Kind, out[i].Value)
		if err != nil {
			return nil, err
		}
		out[i].Orgs = orgs
	}
	return out, nil
}

// IndicatorSighting is one server an indicator was seen at.
type IndicatorSighting struct {
	Org, Server string
	First, Last time.Time
	Stage       finding.Stage
}

// IndicatorOrgs lists the organisations in scope an indicator was seen at.
func (s *Store) IndicatorOrgs(ctx context.Context, sc Scope, kind, value string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT org_id FROM indicator_orgs WHERE kind = ? AND value = ? AND (? = '' OR org_id = ?) ORDER BY org_id"), kind, value, sc.Org, sc.Org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		rows.Scan(&o)
		out = append(out, o)
	}
	return out, rows.Err()
}

var stageByRank = func() map[int]finding.Stage {
	m := map[int]finding.Stage{}
	for _, st := range []finding.Stage{finding.StageReconnaissance, finding.StageAttempt, finding.StageExploitation, finding.StagePersistence, finding.StageCollection, finding.StageExecution} {
		m[st.Rank()] = st
	}
	return m
}()

// Sightings lists where an indicator was seen, in scope.
func (s *Store) Sightings(ctx context.Context, sc Scope, kind, value string, offset, limit int) ([]IndicatorSighting, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT org_id, server, first_ms, last_ms, max_rank FROM indicators WHERE kind = ? AND value = ?
		AND org_id IN (SELECT org_id FROM indicator_orgs WHERE kind = ? AND value = ? AND (? = '' OR org_id = ?))
		ORDER BY org_id, server LIMIT ? OFFSET ?`), kind, value, kind, value, sc.Org, sc.Org, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IndicatorSighting
	for rows.Next() {
		var x IndicatorSighting
		var f, l int64
		var r int
		if err := rows.Scan(&x.Org, &x.Server, &f, &l, &r); err != nil {
			return nil, err
		}
		x.First, x.Last, x.Stage = fromMS(f), fromMS(l), stageByRank[r]
		out = append(out, x)
	}
	return out, rows.Err()
}

// Hit is one search result.
type Hit struct {
	Kind, Value, Org, Server string
	Last                     time.Time
}

// Search finds servers, indicators (address, user agent, shell path or
// hash) and mailboxes containing q, in scope.
func (s *Store) Search(ctx context.Context, sc Scope, q string, offset, limit int) ([]Hit, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	pat := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT kind, value, org_id, server, last_ms FROM (
		SELECT 'server' AS kind, name AS value, org_id, name AS server, last_ms FROM servers WHERE LOWER(name) LIKE ? ESCAPE '\'
		UNION ALL SELECT kind, value, org_id, server, last_ms FROM indicators WHERE LOWER(value) LIKE ? ESCAPE '\'
		UNION ALL SELECT 'mailbox', mailbox, org_id, server, last_ms FROM mailboxes WHERE LOWER(mailbox) LIKE ? ESCAPE '\'
		) h WHERE (? = '' OR org_id = ?) ORDER BY kind, value, org_id, server LIMIT ? OFFSET ?`), pat, pat, pat, sc.Org, sc.Org, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var l int64
		if err := rows.Scan(&h.Kind, &h.Value, &h.Org, &h.Server, &l); err != nil {
			return nil, err
		}
		h.Last = fromMS(l)
		out = append(out, h)
	}
	return out, rows.Err()
}

// HourActivity is Exchange-targeted activity in one hour.
type HourActivity struct {
	Hour    time.Time
	Orgs    int
	Servers int
	ByKind  map[string]int
}

// Activity counts activity per hour in [from, to), in scope. Hours with
// none are left out. It reads the hourly summaries kept at ingest.
func (s *Store) Activity(ctx context.Context, sc Scope, from, to time.Time) ([]HourActivity, error) {
	h0, h1 := from.Unix()/3600, to.Unix()/3600
	kinds, totals := "SELECT hour, kind, n FROM activity_hour_kinds WHERE hour >= ? AND hour < ? ORDER BY hour",
		"SELECT hour, orgs, servers FROM activity_hours WHERE hour >= ? AND hour < ?"
	args := []any{h0, h1}
	if sc.Org != "" {
		// One organisation's hours are a range of the activity's key.
		kinds, totals = "SELECT hour, kind, COUNT(*) FROM activity WHERE org_id = ? AND hour >= ? AND hour < ? GROUP BY hour, kind ORDER BY hour",
			"SELECT hour, 1, COUNT(DISTINCT server) FROM activity WHERE org_id = ? AND hour >= ? AND hour < ? GROUP BY hour"
		args = []any{sc.Org, h0, h1}
	}
	rows, err := s.db.QueryContext(ctx, s.q(kinds), args...)
	if err != nil {
		return nil, err
	}
	var out []HourActivity
	idx := map[int64]int{}
	for rows.Next() {
		var h int64
		var k string
		var n int
		if err := rows.Scan(&h, &k, &n); err != nil {
			rows.Close()
			return nil, err
		}
		i, ok := idx[h]
		if !ok {
			i = len(out)
			idx[h] = i
			out = append(out, HourActivity{Hour: time.Unix(h*3600, 0).UTC(), ByKind: map[string]int{}})
		}
		out[i].ByKind[k] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.q(totals), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		var o, sv int
		if err := rows.Scan(&h, &o, &sv); err != nil {
			return nil, err
		}
		if i, ok := idx[h]; ok {
			out[i].Orgs, out[i].Servers = o, sv
		}
	}
	return out, rows.Err()
}

// HourTouched lists the organisations and servers with activity in one hour.
func (s *Store) HourTouched(ctx context.Context, hour time.Time) (orgs []string, servers []string, err error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT DISTINCT org_id, server FROM activity WHERE org_id IN (SELECT id FROM orgs) AND hour = ? ORDER BY org_id, server"), hour.Unix()/3600)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var o, sv string
		if err := rows.Scan(&o, &sv); err != nil {
			return nil, nil, err
		}
		if len(orgs) == 0 || orgs[len(orgs)-1] != o {
			orgs = append(orgs, o)
		}
		servers = append(servers, o+"/"+sv)
	}
	return orgs, servers, rows.Err()
}

// LatestActivity is the newest hour with activity; zero with none.
func (s *Store) LatestActivity(ctx context.Context) (time.Time, error) {
	var h sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(hour) FROM activity_hours").Scan(&h)
	if !h.Valid {
		return time.Time{}, err
	}
	return time.Unix(h.Int64*3600, 0).UTC(), err
}

// FirstActivity is the oldest hour with activity; zero with none.
func (s *Store) FirstActivity(ctx context.Context) (time.Time, error) {
	var h sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MIN(hour) FROM activity_hours").Scan(&h)
	if !h.Valid {
		return time.Time{}, err
	}
	return time.Unix(h.Int64*3600, 0).UTC(), err
}

// Counts is the number of rows per table, for checks that nothing was lost
// or stored twice.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range []string{"runs", "servers", "server_runs", "findings", "scan_results", "decoy_events", "activity", "indicators", "indicator_orgs", "mailboxes", "alerts", "activity_hours", "activity_hour_kinds"} {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}
