package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/scan"
)

// Change is something an ingest changed that may deserve an alert.
type Change struct {
	Kind string
	Org  string
	// Server is set for state changes.
	Server   string
	At       time.Time
	From, To fleet.State
	// Indicator kind and value for ChangeIndicatorNewOrg; OtherOrgs are
	// the organisations it was seen at before.
	IndicatorKind, Indicator string
	OtherOrgs                []string
	Evidence                 []string
}

// Change kinds.
const (
	ChangeFirstExploitation = "first-exploitation"
	ChangeServerState       = "server-state"
	ChangeIndicatorNewOrg   = "indicator-new-org"
)

// Alerter turns changes into alerts, inside the ingest transaction so that
// a stored run and its alerts are one unit.
type Alerter interface {
	Alerts(changes []Change) []Alert
}

type noAlerts struct{}

func (noAlerts) Alerts([]Change) []Alert { return nil }

// SetAlerter sets what turns ingest changes into alerts.
func (s *Store) SetAlerter(a Alerter) { s.alerter = a }

// IngestResult says what an ingest did.
type IngestResult struct {
	// Duplicate: the run (and batch) was stored before; nothing changed.
	Duplicate bool
	Findings  int
	Alerts    []Alert
}

// Ingest stores one message in one transaction: all of it or nothing. A
// message whose run id and batch are already stored changes nothing.
func (s *Store) Ingest(ctx context.Context, m *fleet.Run, now time.Time) (IngestResult, error) {
	var res IngestResult
	// The hunted servers' documents are made before the write lock: on
	// SQLite only one ingest writes at a time, and this is CPU work.
	var docs []string
	if m.Hunt != nil {
		docs = make([]string, len(m.Hunt.Servers))
		for i := range m.Hunt.Servers {
			b, err := json.Marshal(&m.Hunt.Servers[i])
			if err != nil {
				return res, err
			}
			docs[i] = string(b)
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = IngestResult{}
		var exploitMS int64
		// On PostgreSQL the organisation's row lock makes its ingests take
		// turns: its first-exploitation check and server counts stay exact.
		lock := ""
		if s.pg {
			lock = " FOR UPDATE"
		}
		if err := tx.QueryRowContext(ctx, s.q("SELECT exploit_ms FROM orgs WHERE id = ?"+lock), m.Org).Scan(&exploitMS); err == sql.ErrNoRows {
			return fmt.Errorf("%w %q", ErrUnknownOrg, m.Org)
		} else if err != nil {
			return err
		}
		items := len(m.Scan) + len(m.Decoy)
		if m.Hunt != nil {
			items = len(m.Hunt.Servers)
		}
		r, err := tx.ExecContext(ctx, s.q("INSERT INTO runs (id, batch, org_id, kind, started_ms, received_ms, items) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
			m.RunID, m.Batch, m.Org, m.Type, ms(m.Started()), now.UnixMilli(), items)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			res.Duplicate = true
			return nil
		}
		in := &ingester{s: s, tx: tx, ctx: ctx, m: m, now: now, exploitMS: exploitMS, ind: map[indKey]*indVal{}, docs: docs}
		switch m.Type {
		case fleet.TypeHunt:
			err = in.hunt()
		case fleet.TypeScan:
			err = in.scan()
		case fleet.TypeDecoy:
			err = in.decoy()
		}
		if err != nil {
			return err
		}
		if err := in.flush(); err != nil {
			return err
		}
		if m.Type != fleet.TypeDecoy {
			if err := in.countStates(); err != nil {
				return err
			}
		}
		res.Findings = in.findings
		res.Alerts = s.alerter.Alerts(in.changes)
		for i := range res.Alerts {
			if err := s.insertAlert(ctx, tx, &res.Alerts[i], now); err != nil {
				return err
			}
		}
		// Last: every organisation's ingests update the same hours, and
		// on PostgreSQL each holds their rows locked until it commits.
		return in.summarise()
	})
	return res, err
}

type indKey struct{ kind, value, server string }

type indVal struct {
	first, last int64
	rank        int
	evidence    string
}

type ingester struct {
	s         *Store
	tx        *sql.Tx
	ctx       context.Context
	m         *fleet.Run
	now       time.Time
	exploitMS int64
	findings  int
	ind       map[indKey]*indVal
	changes   []Change
	stmts     map[string]*sql.Stmt
	pend      map[string]*pending
	order     []string
	acts      []actRow
	docs      []string
	// known is the run's servers as read at its start and changed since.
	known map[string]*serverState
}

// exec runs one statement now. Batched rows go to other tables than the
// ones exec writes, so they need not be sent first.
func (in *ingester) exec(query string, args ...any) error {
	if in.s.pg {
		// pgx prepares and caches each statement text per connection.
		_, err := in.tx.ExecContext(in.ctx, in.s.q(query), args...)
		return err
	}
	st, err := in.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(in.ctx, args...)
	return err
}

// query runs a statement returning rows and hands each to scan.
func (in *ingester) query(query string, scan func(r *sql.Rows) error, args ...any) error {
	var rows *sql.Rows
	var err error
	if in.s.pg {
		rows, err = in.tx.QueryContext(in.ctx, in.s.q(query), args...)
	} else {
		var st *sql.Stmt
		if st, err = in.stmt(query); err == nil {
			rows, err = st.QueryContext(in.ctx, args...)
		}
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stmt is a SQLite statement prepared once per store and connection, in
// this transaction: compiling a many-row insert costs as much as running it.
func (in *ingester) stmt(query string) (*sql.Stmt, error) {
	if st, ok := in.stmts[query]; ok {
		return st, nil
	}
	ps, err := in.s.prepared(in.ctx, query)
	if err != nil {
		return nil, err
	}
	if in.stmts == nil {
		in.stmts = map[string]*sql.Stmt{}
	}
	st := in.tx.StmtContext(in.ctx, ps)
	in.stmts[query] = st
	return st, nil
}

func (in *ingester) indicator(kind, value, server string, t int64, rank int, evidence string) {
	if value == "" {
		return
	}
	if len(value) > 1024 {
		value = value[:1024]
	}
	k := indKey{kind, value, server}
	v := in.ind[k]
	if v == nil {
		in.ind[k] = &indVal{first: t, last: t, rank: rank, evidence: evidence}
		return
	}
	if t != 0 && (v.first == 0 || t < v.first) {
		v.first = t
	}
	if t > v.last {
		v.last = t
	}
	if rank > v.rank {
		v.rank, v.evidence = rank, evidence
	}
}

// server loads a server row, creating it.
func (in *ingester) server(name string, t int64) (state fleet.State, exposed bool, huntMS, scanMS int64, err error) {
	if k, ok := in.known[name]; ok {
		return k.state, k.exposed, k.huntMS, k.scanMS, nil
	}
	var e int
	err = in.tx.QueryRowContext(in.ctx, in.s.q("SELECT state, exposed, hunt_ms, scan_ms FROM servers WHERE org_id = ? AND name = ?"), in.m.Org, name).Scan(&state, &e, &huntMS, &scanMS)
	exposed = e == 1
	if err == sql.ErrNoRows {
		state, err = fleet.StateClean, in.exec("INSERT INTO servers (org_id, name, first_ms, last_ms) VALUES (?, ?, ?, ?)", in.m.Org, name, t, t)
	}
	return
}

type serverState struct {
	state          fleet.State
	exposed        bool
	huntMS, scanMS int64
}

// loadServers reads the run's servers in a few queries and creates the
// missing ones in one statement, instead of a round trip or two a server.
func (in *ingester) loadServers(names []string, t int64) error {
	in.known = map[string]*serverState{}
	if err := in.queryOrgIn("SELECT name, state, exposed, hunt_ms, scan_ms FROM servers WHERE org_id = ? AND name IN (", names, func(r *sql.Rows) error {
		var name string
		var k serverState
		var e int
		err := r.Scan(&name, &k.state, &e, &k.huntMS, &k.scanMS)
		k.exposed = e == 1
		in.known[name] = &k
		return err
	}); err != nil {
		return err
	}
	for _, name := range names {
		if in.known[name] != nil {
			continue
		}
		in.known[name] = &serverState{state: fleet.StateClean}
		if err := in.batch("INSERT INTO servers (org_id, name, first_ms, last_ms) VALUES ", "", in.m.Org, name, t, t); err != nil {
			return err
		}
	}
	return in.sendBatch()
}

func (in *ingester) stateChange(name string, from, to fleet.State, at time.Time, evidence []string) {
	if to == from || !to.Exploited() {
		return
	}
	if from.Exploited() && to == fleet.StateCompromised {
		return
	}
	in.changes = append(in.changes, Change{Kind: ChangeServerState, Org: in.m.Org, Server: name, At: at, From: from, To: to, Evidence: evidence})
}

func (in *ingester) hunt() error {
	r := in.m.Hunt
	started := ms(r.StartedAt)
	seq := 0
	names := make([]string, len(r.Servers))
	for i := range r.Servers {
		names[i] = r.Servers[i].Name
	}
	if err := in.loadServers(names, started); err != nil {
		return err
	}
	for si := range r.Servers {
		sv := &r.Servers[si]
		state, wasExposed, huntMS, _, err := in.server(sv.Name, started)
		if err != nil {
			return err
		}
		if err := in.batch("INSERT INTO server_runs (run_id, org_id, server, started_ms, verdict, inconclusive, doc) VALUES ", "",
			in.m.RunID, in.m.Org, sv.Name, started, string(sv.Verdict), b2i(sv.Inconclusive), in.docs[si]); err != nil {
			return err
		}
		exposed, patch := buildExposure(sv.Build.Chains)
		if started >= huntMS {
			exposed = exposed || wasExposed
			newState := fleet.ServerState(sv.Verdict, exposed)
			if err := in.exec(`UPDATE servers SET verdict = ?, inconclusive = ?, exposed = ?, state = ?, build = CASE WHEN ? <> '' THEN ? ELSE build END,
				patch = CASE WHEN ? <> '' THEN ? ELSE patch END, hunt_run = ?, hunt_ms = ?,
				first_ms = CASE WHEN ? < first_ms THEN ? ELSE first_ms END, last_ms = CASE WHEN ? > last_ms THEN ? ELSE last_ms END
				WHERE org_id = ? AND name = ?`,
				string(sv.Verdict), b2i(sv.Inconclusive), b2i(exposed), string(newState), sv.Build.Current, sv.Build.Current,
				patch, patch, in.m.RunID, started, started, started, started, started, in.m.Org, sv.Name); err != nil {
				return err
			}
			in.stateChange(sv.Name, state, newState, r.StartedAt, serverEvidence(sv))
			k := in.known[sv.Name]
			k.state, k.exposed, k.huntMS = newState, exposed, started
		} else if exposed {
			if err := in.exec("UPDATE servers SET exposed = 1, state = CASE WHEN state = 'clean' THEN 'exposed' ELSE state END WHERE org_id = ? AND name = ?", in.m.Org, sv.Name); err != nil {
				return err
			}
			k := in.known[sv.Name]
			k.exposed = true
			if k.state == fleet.StateClean {
				k.state = fleet.StateExposed
			}
		}
		var firstExploit *finding.Finding
		for fi := range sv.Findings {
			f := &sv.Findings[fi]
			t := ms(f.Time)
			if err := in.batch("INSERT INTO findings (run_id, seq, org_id, server, time_ms, rule, stage, severity, client_ip, user_agent, mailbox, title) VALUES ", "",
				in.m.RunID, seq, in.m.Org, sv.Name, t, clip(f.Rule), string(f.Stage), string(f.Severity), clip(f.ClientIP), clip(f.UserAgent), clip(f.Mailbox), clip(f.Title)); err != nil {
				return err
			}
			seq++
			in.findings++
			rank := f.Stage.Rank()
			if t != 0 {
				fp := fingerprint(f.Rule, strconv.FormatInt(t, 10), f.Source.File, strconv.FormatInt(f.Source.Line, 10), f.ClientIP)
				in.activity(sv.Name, fp, t/3_600_000, string(f.Stage))
			}
			// Evidence is kept for the indicators alerts watch
			// (exploitation and beyond) only: most findings are probes.
			ev := ""
			if rank >= finding.StageExploitation.Rank() {
				ev = fmt.Sprintf("%s %s: %s (%s)", f.Time.UTC().Format(time.RFC3339), sv.Name, f.Title, f.Source)
			}
			in.indicator("ip", f.ClientIP, sv.Name, t, rank, ev)
			in.indicator("ua", f.UserAgent, sv.Name, t, rank, ev)
			if f.File != nil && f.Stage.Rank() >= finding.StagePersistence.Rank() {
				in.indicator("shell_path", f.File.Path, sv.Name, t, rank, ev)
				in.indicator("shell_hash", strings.ToLower(f.File.SHA256), sv.Name, t, rank, ev)
			}
			if rank >= finding.StageExploitation.Rank() && !f.Supporting && (firstExploit == nil || f.Time.Before(firstExploit.Time)) {
				firstExploit = f
			}
		}
		for _, a := range sv.Attackers {
			in.indicator("ip", a.IP, sv.Name, ms(a.FirstSeen), a.MaxStage.Rank(), "")
			for _, ua := range a.UserAgents {
				in.indicator("ua", ua, sv.Name, ms(a.FirstSeen), a.MaxStage.Rank(), "")
			}
		}
		for _, mb := range sv.MailboxesAccessed {
			if err := in.exec(`INSERT INTO mailboxes (org_id, server, mailbox, answered, first_ms, last_ms) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (org_id, server, mailbox) DO UPDATE SET answered = CASE WHEN excluded.answered > mailboxes.answered THEN excluded.answered ELSE mailboxes.answered END,
				first_ms = CASE WHEN excluded.first_ms < mailboxes.first_ms THEN excluded.first_ms ELSE mailboxes.first_ms END,
				last_ms = CASE WHEN excluded.last_ms > mailboxes.last_ms THEN excluded.last_ms ELSE mailboxes.last_ms END`,
				in.m.Org, sv.Name, clip(mb.Mailbox), b2i(mb.Answered), ms(mb.FirstSeen), ms(mb.LastSeen)); err != nil {
				return err
			}
		}
		if firstExploit != nil {
			t := ms(firstExploit.Time)
			if t == 0 {
				t = started
			}
			if in.exploitMS == 0 || t < in.exploitMS {
				if in.exploitMS == 0 {
					in.changes = append(in.changes, Change{Kind: ChangeFirstExploitation, Org: in.m.Org, Server: sv.Name, At: fromMS(t),
						Evidence: []string{fmt.Sprintf("%s %s: %s [%s] from %s (%s)", fromMS(t).Format(time.RFC3339), sv.Name, firstExploit.Title, firstExploit.Stage, firstExploit.ClientIP, firstExploit.Source)}})
				}
				in.exploitMS = t
				if err := in.exec("UPDATE orgs SET exploit_ms = ? WHERE id = ?", t, in.m.Org); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func serverEvidence(sv *finding.Server) []string {
	var ev []string
	for _, t := range sv.Timeline {
		if t.Stage.Rank() >= finding.StagePersistence.Rank() {
			ev = append(ev, fmt.Sprintf("%s %s [%s] %s (%s)", t.Time.UTC().Format(time.RFC3339), t.Rule, t.Stage, t.Summary, t.Source))
			if len(ev) == 10 {
				break
			}
		}
	}
	return ev
}

// buildExposure says whether any chain was open to the build, and the
// patch state in one word.
func buildExposure(chains []finding.ChainStatus) (exposed bool, patch string) {
	open, patched := false, false
	for _, c := range chains {
		switch c.Status {
		case "vulnerable", "partial":
			open = true
		case "patched":
			patched = true
		}
	}
	switch {
	case open:
		return true, "vulnerable"
	case patched:
		return false, "patched"
	}
	return false, ""
}

func (in *ingester) scan() error {
	for i := range in.m.Scan {
		r := &in.m.Scan[i]
		if r.Status != scan.StatusExchange {
			continue
		}
		name := scanServerName(r)
		t := ms(r.Time)
		state, _, _, scanMS, err := in.server(name, t)
		if err != nil {
			return err
		}
		vulnerable, patched := false, false
		for _, c := range r.Chains {
			switch c.Verdict {
			case scan.VerdictVulnerable:
				if !c.Mitigated {
					vulnerable = true
				}
			case scan.VerdictPatched:
				patched = true
			}
		}
		patch := ""
		switch {
		case vulnerable:
			patch = "vulnerable"
		case patched:
			patch = "patched"
		}
		build := ""
		if r.Exchange != nil {
			build = r.Exchange.Build
		}
		doc, _ := json.Marshal(r)
		if err := in.exec("INSERT INTO scan_results (run_id, batch, seq, org_id, server, time_ms, target, ip, status, build, vulnerable, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			in.m.RunID, in.m.Batch, i, in.m.Org, name, t, clip(r.Target), clip(r.IP), r.Status, clip(build), b2i(vulnerable), string(doc)); err != nil {
			return err
		}
		newState := state
		if vulnerable && state == fleet.StateClean {
			newState = fleet.StateExposed
		}
		if t >= scanMS {
			if err := in.exec(`UPDATE servers SET exposed = CASE WHEN ? = 1 THEN 1 ELSE exposed END, state = ?, build = CASE WHEN ? <> '' THEN ? ELSE build END,
				patch = CASE WHEN ? <> '' THEN ? ELSE patch END, scan_ms = ?, last_ms = CASE WHEN ? > last_ms THEN ? ELSE last_ms END WHERE org_id = ? AND name = ?`,
				b2i(vulnerable), string(newState), clip(build), clip(build), patch, patch, t, t, t, in.m.Org, name); err != nil {
				return err
			}
		} else if vulnerable {
			if err := in.exec("UPDATE servers SET exposed = 1, state = ? WHERE org_id = ? AND name = ?", string(newState), in.m.Org, name); err != nil {
				return err
			}
		}
		for _, w := range r.Webshells {
			in.indicator("shell_path", w.Path, name, t, finding.StagePersistence.Rank(), fmt.Sprintf("scan %s: %s", r.Target, w.Path))
		}
	}
	return nil
}

// scanServerName names a scanned server: the front end's own name when it
// gave one, else the target's host.
func scanServerName(r *scan.Result) string {
	if r.Exchange != nil && r.Exchange.Server != "" {
		return clip(r.Exchange.Server)
	}
	if u, err := url.Parse(r.Target); err == nil && u.Host != "" {
		return clip(u.Hostname())
	}
	return clip(r.Target)
}

// decoyRank maps a decoy event class to the finding stage it shows.
func decoyRank(class string) (finding.Stage, bool) {
	switch class {
	case "probe":
		return finding.StageReconnaissance, true
	case "exploit":
		return finding.StageExploitation, true
	case "webshell":
		return finding.StageExecution, true
	}
	return "", false
}

func (in *ingester) decoy() error {
	for i := range in.m.Decoy {
		e := &in.m.Decoy[i]
		server := clip("decoy:" + e.Server)
		t := ms(e.Time)
		if err := in.batch("INSERT INTO decoy_events (run_id, batch, seq, org_id, server, time_ms, client, method, uri, user_agent, class, kind) VALUES ", "",
			in.m.RunID, in.m.Batch, i, in.m.Org, server, t, clip(e.Client), clip(e.Method), clip(e.URI), clip(e.UserAgent), clip(e.Class), clip(e.Kind)); err != nil {
			return err
		}
		stage, ok := decoyRank(e.Class)
		if !ok || t == 0 {
			continue
		}
		fp := fingerprint(in.m.RunID, strconv.Itoa(in.m.Batch), strconv.Itoa(i))
		in.activity(server, fp, t/3_600_000, string(stage))
		ev := ""
		if stage.Rank() >= finding.StageExploitation.Rank() {
			ev = fmt.Sprintf("%s decoy %s: %s %s (%s)", e.Time.UTC().Format(time.RFC3339), e.Server, e.Method, e.URI, e.Kind)
		}
		in.indicator("ip", hostOnly(e.Client), server, t, stage.Rank(), ev)
		in.indicator("ua", e.UserAgent, server, t, stage.Rank(), ev)
	}
	return nil
}

func hostOnly(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.Contains(addr[i:], "]") && strings.Count(addr, ":") == 1 {
		return addr[:i]
	}
	return strings.Trim(addr, "[]")
}

// pending is rows of one insert waiting to go as few statements.
type pending struct {
	head, tail string
	cols       int
	args       []any
	// scan, when set, reads each row the statement's RETURNING gives.
	scan func(r *sql.Rows) error
}

// maxParams bounds one statement's parameters, well under SQLite's 32766
// and PostgreSQL's 65535: a statement carries hundreds of rows.
const maxParams = 6000

// batch queues one row of an INSERT; each statement's rows go together.
func (in *ingester) batch(head, tail string, args ...any) error {
	return in.batchScan(head, tail, nil, args...)
}

// batchScan is batch for an INSERT ... RETURNING whose rows scan reads.
func (in *ingester) batchScan(head, tail string, scan func(r *sql.Rows) error, args ...any) error {
	key := head + tail
	p := in.pend[key]
	if p == nil {
		if in.pend == nil {
			in.pend = map[string]*pending{}
		}
		p = &pending{head: head, tail: tail, cols: len(args), scan: scan}
		in.pend[key] = p
		in.order = append(in.order, key)
	}
	p.args = append(p.args, args...)
	if !in.s.pg && len(p.args) >= maxParams/p.cols*p.cols {
		return in.send(p)
	}
	return nil
}

// queryOrgIn runs head (ending "org_id = ? AND col IN (") for the run's
// organisation over names, in as few statements as the parameter limit
// allows.
func (in *ingester) queryOrgIn(head string, names []string, scan func(r *sql.Rows) error) error {
	for i, n := range chunks(len(names), maxParams-1) {
		args := make([]any, 0, n+1)
		args = append(args, in.m.Org)
		for _, name := range names[i : i+n] {
			args = append(args, name)
		}
		if err := in.query(in.s.rowsText(head, "?", ")", n), scan, args...); err != nil {
			return err
		}
	}
	return nil
}

// chunks cuts n rows into runs of a power-of-two length up to limit, so
// that few distinct statement texts are prepared and cached; it yields
// each run's start and length.
func chunks(n, limit int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < n; {
			c := 1
			for c*2 <= n-i && c*2 <= limit {
				c *= 2
			}
			if !yield(i, c) {
				return
			}
			i += c
		}
	}
}

// send writes the queued rows.
func (in *ingester) send(p *pending) error {
	if in.s.pg {
		// One statement of column arrays, whatever the row count.
		if len(p.args) > 0 {
			if err := in.sendRows(p, p.args); err != nil {
				return err
			}
		}
		p.args = p.args[:0:0]
		return nil
	}
	for i, n := range chunks(len(p.args)/p.cols, maxParams/p.cols) {
		if err := in.sendRows(p, p.args[i*p.cols:(i+n)*p.cols]); err != nil {
			return err
		}
	}
	p.args = p.args[:0:0]
	return nil
}

func (in *ingester) sendRows(p *pending, args []any) error {
	rows := len(args) / p.cols
	if in.s.pg {
		q, cols, err := in.s.unnest(p.head, p.tail, p.cols, args)
		if err != nil {
			return err
		}
		if p.scan != nil {
			return in.query(q, p.scan, cols...)
		}
		return in.exec(q, cols...)
	}
	q := in.s.rowsText(p.head, placeholders(p.cols), p.tail, rows)
	if p.scan != nil {
		return in.query(q, p.scan, args...)
	}
	return in.exec(q, args...)
}

// sendBatch sends every queued row.
func (in *ingester) sendBatch() error {
	for _, k := range in.order {
		if err := in.send(in.pend[k]); err != nil {
			return err
		}
	}
	return nil
}

type hourKind struct {
	hour int64
	kind string
}

type hourServer struct {
	hour   int64
	server string
}

type actRow struct {
	server, fp, kind string
	hour             int64
}

// activity keeps one piece of evidence for flush.
func (in *ingester) activity(server, fp string, hour int64, kind string) {
	in.acts = append(in.acts, actRow{server, fp, kind, hour})
}

// hourCounts is what a run adds to one hour of the fleet summary.
type hourCounts struct{ orgs, servers int64 }

// summarise stores the run's activity and adds what was new to the
// fleet's hourly summaries, which the overview, the timeline and the spike
// detector read. A server (or organisation) counts in an hour once: the
// store is asked which of the run's server-hours it held before. The
// organisation's ingests take turns (its row lock on PostgreSQL, the one
// writer on SQLite), so the answer stays true until commit.
func (in *ingester) summarise() error {
	if len(in.acts) == 0 {
		return nil
	}
	var newAct map[hourKind]int64
	var perHour map[int64]*hourCounts
	var err error
	if in.s.pg {
		newAct, perHour, err = in.newActivityPG()
	} else {
		newAct, perHour, err = in.newActivity()
	}
	if err != nil {
		return err
	}
	acts := make([]hourKind, 0, len(newAct))
	for k := range newAct {
		acts = append(acts, k)
	}
	// Rows go in key order, so concurrent PostgreSQL ingests lock the
	// shared hours in one order.
	sort.Slice(acts, func(i, j int) bool {
		if acts[i].hour != acts[j].hour {
			return acts[i].hour < acts[j].hour
		}
		return acts[i].kind < acts[j].kind
	})
	for _, k := range acts {
		if err := in.batch("INSERT INTO activity_hour_kinds (hour, kind, n) VALUES ", " ON CONFLICT (hour, kind) DO UPDATE SET n = activity_hour_kinds.n + excluded.n",
			k.hour, k.kind, newAct[k]); err != nil {
			return err
		}
	}
	if err := in.sendBatch(); err != nil {
		return err
	}
	hs := make([]int64, 0, len(perHour))
	for h := range perHour {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	for _, h := range hs {
		if err := in.batch("INSERT INTO activity_hours (hour, orgs, servers) VALUES ",
			" ON CONFLICT (hour) DO UPDATE SET orgs = activity_hours.orgs + excluded.orgs, servers = activity_hours.servers + excluded.servers",
			h, perHour[h].orgs, perHour[h].servers); err != nil {
			return err
		}
	}
	return in.sendBatch()
}

// newActivity stores the run's activity rows and says what they added:
// rows per hour and kind, and organisations and servers per hour that had
// none before.
func (in *ingester) newActivity() (map[hourKind]int64, map[int64]*hourCounts, error) {
	pairs := map[hourServer]bool{}
	var list []hourServer
	for _, a := range in.acts {
		k := hourServer{a.hour, a.server}
		if !pairs[k] {
			pairs[k] = true
			list = append(list, k)
		}
	}
	had := map[hourServer]bool{}
	hadHour := map[int64]bool{}
	for i, n := range chunks(len(list), maxParams/3) {
		part := list[i : i+n]
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, in.m.Org, k.hour, k.server)
		}
		// PostgreSQL types a VALUES list's parameters as text unless cast.
		q := in.s.rowsText("SELECT DISTINCT hour, server FROM activity WHERE (org_id, hour, server) IN (VALUES ", "(?, CAST(? AS BIGINT), ?)", ")", len(part))
		if err := in.query(q, func(r *sql.Rows) error {
			var k hourServer
			err := r.Scan(&k.hour, &k.server)
			had[k] = true
			return err
		}, args...); err != nil {
			return nil, nil, err
		}
	}
	// An organisation already active in an hour had a server active then;
	// ask only for the hours none of the run's servers had.
	var hours []int64
	seenHour := map[int64]bool{}
	for _, k := range list {
		if had[k] {
			hadHour[k.hour] = true
		}
	}
	for _, k := range list {
		if !hadHour[k.hour] && !seenHour[k.hour] {
			seenHour[k.hour] = true
			hours = append(hours, k.hour)
		}
	}
	for i, n := range chunks(len(hours), maxParams/2) {
		part := hours[i : i+n]
		args := make([]any, 0, 2*len(part))
		for _, h := range part {
			args = append(args, in.m.Org, h)
		}
		q := in.s.rowsText("SELECT DISTINCT hour FROM activity WHERE (org_id, hour) IN (VALUES ", "(?, CAST(? AS BIGINT))", ")", len(part))
		if err := in.query(q, func(r *sql.Rows) error {
			var h int64
			err := r.Scan(&h)
			hadHour[h] = true
			return err
		}, args...); err != nil {
			return nil, nil, err
		}
	}
	newAct := map[hourKind]int64{}
	newSrv := map[hourServer]bool{}
	for _, a := range in.acts {
		if err := in.batchScan("INSERT INTO activity (org_id, hour, server, fp, kind) VALUES ", " ON CONFLICT DO NOTHING RETURNING hour, kind, server", func(r *sql.Rows) error {
			var hk hourKind
			var server string
			err := r.Scan(&hk.hour, &hk.kind, &server)
			newAct[hk]++
			newSrv[hourServer{hk.hour, server}] = true
			return err
		}, in.m.Org, a.hour, a.server, a.fp, a.kind); err != nil {
			return nil, nil, err
		}
	}
	if err := in.sendBatch(); err != nil {
		return nil, nil, err
	}
	perHour := map[int64]*hourCounts{}
	for k := range newSrv {
		c := perHour[k.hour]
		if c == nil {
			c = &hourCounts{}
			perHour[k.hour] = c
		}
		if !had[k] {
			c.servers++
		}
		if !hadHour[k.hour] {
			c.orgs = 1
		}
	}
	return newAct, perHour, nil
}

// newActivityPG is newActivity on PostgreSQL, in two statements of
// arrays: which of the run's server-hours and hours were held before (an
// index probe each, stopping at the first row), then the insert. The
// check comes first: after the insert, a probe would step over the
// statement's own rows, invisible to it, one heap visit each.
func (in *ingester) newActivityPG() (map[hourKind]int64, map[int64]*hourCounts, error) {
	seen := map[hourServer]bool{}
	var pairHours []int64
	var pairServers []string
	for _, a := range in.acts {
		if k := (hourServer{a.hour, a.server}); !seen[k] {
			seen[k] = true
			pairHours = append(pairHours, a.hour)
			pairServers = append(pairServers, a.server)
		}
	}
	had := map[hourServer]bool{}
	hadHour := map[int64]bool{}
	// Each probe asks for the first key at or after the one sought, in
	// key order: an index descent. As an EXISTS, an hour with many rows
	// elsewhere made the planner expect one soon in a sequential scan,
	// which read the whole table when the hour had none.
	if err := in.query(`SELECT p.hour, p.server,
		COALESCE((SELECT a.server FROM activity a WHERE a.org_id = $1 AND a.hour = p.hour AND a.server >= p.server
			ORDER BY a.server LIMIT 1) = p.server, false),
		COALESCE((SELECT a.hour FROM activity a WHERE a.org_id = $1 AND a.hour >= p.hour
			ORDER BY a.hour LIMIT 1) = p.hour, false)
		FROM unnest($2::bigint[], $3::text[]) AS p(hour, server)`, func(r *sql.Rows) error {
		var k hourServer
		var hadServer, hadOrg bool
		if err := r.Scan(&k.hour, &k.server, &hadServer, &hadOrg); err != nil {
			return err
		}
		had[k] = hadServer
		hadHour[k.hour] = hadHour[k.hour] || hadOrg
		return nil
	}, in.m.Org, pairHours, pairServers); err != nil {
		return nil, nil, err
	}
	n := len(in.acts)
	hours, servers, fps, kinds := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	for i, a := range in.acts {
		hours[i], servers[i], fps[i], kinds[i] = a.hour, a.server, a.fp, a.kind
	}
	newAct := map[hourKind]int64{}
	perHour := map[int64]*hourCounts{}
	counted := map[hourServer]bool{}
	err := in.query(`WITH ins AS (
		INSERT INTO activity (org_id, hour, server, fp, kind)
		SELECT $1::text, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
		ON CONFLICT DO NOTHING RETURNING hour, server, kind)
	SELECT hour, server, kind, COUNT(*) FROM ins GROUP BY hour, server, kind`, func(r *sql.Rows) error {
		var hk hourKind
		var server string
		var rows int64
		if err := r.Scan(&hk.hour, &server, &hk.kind, &rows); err != nil {
			return err
		}
		newAct[hk] += rows
		c := perHour[hk.hour]
		if c == nil {
			c = &hourCounts{}
			perHour[hk.hour] = c
		}
		if !hadHour[hk.hour] {
			c.orgs = 1
		}
		// A server-hour comes once a kind of activity.
		if k := (hourServer{hk.hour, server}); !had[k] && !counted[k] {
			counted[k] = true
			c.servers++
		}
		return nil
	}, in.m.Org, hours, servers, fps, kinds)
	return newAct, perHour, err
}

// flush writes the run's indicators and notes attackers and web shells
// reaching a new organisation.
func (in *ingester) flush() error {
	if err := in.sendBatch(); err != nil {
		return err
	}
	keys := make([]indKey, 0, len(in.ind))
	var servers []string
	hasServer := map[string]bool{}
	for k := range in.ind {
		keys = append(keys, k)
		if !hasServer[k.server] {
			hasServer[k.server] = true
			servers = append(servers, k.server)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.server != b.server {
			return a.server < b.server
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		return a.value < b.value
	})
	slices.Sort(servers)
	// The run's servers' stored indicators, read along their key: a row
	// the run does not change is not written, and a new one adds a server
	// to its organisation's count.
	old := map[indKey]indVal{}
	if err := in.queryOrgIn("SELECT server, kind, value, first_ms, last_ms, max_rank FROM indicators WHERE org_id = ? AND server IN (", servers, func(r *sql.Rows) error {
		var k indKey
		var v indVal
		err := r.Scan(&k.server, &k.kind, &k.value, &v.first, &v.last, &v.rank)
		old[k] = v
		return err
	}); err != nil {
		return err
	}
	type kv struct{ kind, value string }
	type orgVal struct {
		first, last     int64
		rank, newServer int
		server          string
		evidence        string
		first0          int64
	}
	perOrg := map[kv]*orgVal{}
	var kvs []kv
	for _, k := range keys {
		v := in.ind[k]
		x := kv{k.kind, k.value}
		o := perOrg[x]
		if o == nil {
			o = &orgVal{first: v.first, last: v.last, rank: v.rank, server: k.server, evidence: v.evidence, first0: v.first}
			perOrg[x] = o
			kvs = append(kvs, x)
		} else {
			if v.first != 0 && (o.first == 0 || v.first < o.first) {
				o.first = v.first
			}
			o.last = max(o.last, v.last)
			if v.rank > o.rank {
				o.rank, o.server, o.evidence, o.first0 = v.rank, k.server, v.evidence, v.first
			}
		}
		p, ok := old[k]
		if !ok {
			o.newServer++
		} else if (v.first == 0 || (p.first != 0 && p.first <= v.first)) && p.last >= v.last && p.rank >= v.rank {
			continue
		}
		if err := in.batch(`INSERT INTO indicators (org_id, server, kind, value, first_ms, last_ms, max_rank) VALUES `,
			` ON CONFLICT (org_id, server, kind, value) DO UPDATE SET
			first_ms = CASE WHEN excluded.first_ms <> 0 AND (indicators.first_ms = 0 OR excluded.first_ms < indicators.first_ms) THEN excluded.first_ms ELSE indicators.first_ms END,
			last_ms = CASE WHEN excluded.last_ms > indicators.last_ms THEN excluded.last_ms ELSE indicators.last_ms END,
			max_rank = CASE WHEN excluded.max_rank > indicators.max_rank THEN excluded.max_rank ELSE indicators.max_rank END`,
			in.m.Org, k.server, k.kind, k.value, v.first, v.last, v.rank); err != nil {
			return err
		}
	}
	// Where the watched indicators (exploiting addresses, web-shell
	// hashes) were seen before, read in a few queries before this run's
	// rows go in. Only those new to this organisation are looked up: the
	// others raise nothing, and a shared scanner's address would
	// otherwise bring back every organisation it reached at every run
	// (on PostgreSQL at 10,000 servers, half of the database's ingest time).
	var watched []kv
	for _, x := range kvs {
		if (x.kind == "ip" && perOrg[x].rank >= finding.StageExploitation.Rank()) || x.kind == "shell_hash" {
			watched = append(watched, x)
		}
	}
	before := map[kv][]string{}
	seen := func(r *sql.Rows) error {
		var x kv
		var o string
		if err := r.Scan(&x.kind, &x.value, &o); err != nil {
			return err
		}
		before[x] = append(before[x], o)
		return nil
	}
	if in.s.pg && len(watched) > 0 {
		// One statement of arrays, planned once, instead of an OR of
		// hundreds of terms planned at each call.
		kinds, values := make([]string, len(watched)), make([]string, len(watched))
		for i, x := range watched {
			kinds[i], values[i] = x.kind, x.value
		}
		if err := in.query(`SELECT i.kind, i.value, i.org_id FROM unnest($2::text[], $3::text[]) AS w(kind, value)
			JOIN indicator_orgs i ON i.kind = w.kind AND i.value = w.value WHERE i.max_rank >= $1
			AND NOT EXISTS (SELECT 1 FROM indicator_orgs h WHERE h.org_id = $4 AND h.kind = w.kind AND h.value = w.value AND h.max_rank >= $1)
			ORDER BY 1, 2, 3`,
			seen, finding.StageExploitation.Rank(), kinds, values, in.m.Org); err != nil {
			return err
		}
	}
	const chunk = 200
	for i := 0; !in.s.pg && i < len(watched); i += chunk {
		part := watched[i:min(i+chunk, len(watched))]
		args := []any{finding.StageExploitation.Rank()}
		var cond strings.Builder
		for j, x := range part {
			if j > 0 {
				cond.WriteString(" OR ")
			}
			cond.WriteString("(kind = ? AND value = ?)")
			args = append(args, x.kind, x.value)
		}
		args = append(args, in.m.Org, finding.StageExploitation.Rank())
		if err := in.query("SELECT kind, value, org_id FROM indicator_orgs i WHERE max_rank >= ? AND ("+cond.String()+`)
			AND NOT EXISTS (SELECT 1 FROM indicator_orgs h WHERE h.org_id = ? AND h.kind = i.kind AND h.value = i.value AND h.max_rank >= ?)
			ORDER BY kind, value, org_id`, seen, args...); err != nil {
			return err
		}
	}
	for _, x := range watched {
		o := perOrg[x]
		orgs := before[x]
		if len(orgs) > 0 && !slices.Contains(orgs, in.m.Org) {
			var ev []string
			if o.evidence != "" {
				ev = append(ev, o.evidence)
			}
			in.changes = append(in.changes, Change{Kind: ChangeIndicatorNewOrg, Org: in.m.Org, Server: o.server, At: fromMS(o.first0),
				IndicatorKind: x.kind, Indicator: x.value, OtherOrgs: orgs, Evidence: ev})
		}
	}
	// The organisation's rows, in key order so that concurrent PostgreSQL
	// ingests of one organisation (which take turns anyway) lock alike; a
	// row the run does not extend is left unwritten.
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].kind != kvs[j].kind {
			return kvs[i].kind < kvs[j].kind
		}
		return kvs[i].value < kvs[j].value
	})
	for _, x := range kvs {
		o := perOrg[x]
		if err := in.batch(`INSERT INTO indicator_orgs (org_id, kind, value, first_ms, last_ms, servers, max_rank) VALUES `,
			` ON CONFLICT (org_id, kind, value) DO UPDATE SET
			first_ms = CASE WHEN excluded.first_ms <> 0 AND (indicator_orgs.first_ms = 0 OR excluded.first_ms < indicator_orgs.first_ms) THEN excluded.first_ms ELSE indicator_orgs.first_ms END,
			last_ms = CASE WHEN excluded.last_ms > indicator_orgs.last_ms THEN excluded.last_ms ELSE indicator_orgs.last_ms END,
			servers = indicator_orgs.servers + excluded.servers,
			max_rank = CASE WHEN excluded.max_rank > indicator_orgs.max_rank THEN excluded.max_rank ELSE indicator_orgs.max_rank END
			WHERE excluded.servers > 0 OR excluded.last_ms > indicator_orgs.last_ms OR excluded.max_rank > indicator_orgs.max_rank
			OR (excluded.first_ms <> 0 AND (indicator_orgs.first_ms = 0 OR excluded.first_ms < indicator_orgs.first_ms))`,
			in.m.Org, x.kind, x.value, o.first, o.last, o.newServer, o.rank); err != nil {
			return err
		}
	}
	return in.sendBatch()
}

// countStates recounts the organisation's servers per state for the overview.
func (in *ingester) countStates() error {
	type key struct {
		state string
		inc   int
	}
	n := map[key]int{}
	if err := in.query("SELECT state, inconclusive, COUNT(*) FROM servers WHERE org_id = ? AND name NOT LIKE 'decoy:%' GROUP BY state, inconclusive", func(r *sql.Rows) error {
		var k key
		var c int
		err := r.Scan(&k.state, &k.inc, &c)
		n[k] = c
		return err
	}, in.m.Org); err != nil {
		return err
	}
	for _, st := range fleet.States {
		for inc := range 2 {
			if err := in.batch("INSERT INTO org_states (org_id, state, inconclusive, n) VALUES ", " ON CONFLICT (org_id, state, inconclusive) DO UPDATE SET n = excluded.n",
				in.m.Org, string(st), inc, n[key{string(st), inc}]); err != nil {
				return err
			}
		}
	}
	return in.sendBatch()
}

func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// clip bounds one attacker-chosen string kept in a column.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD") // PostgreSQL text holds no NUL
	if len(s) > 4096 {
		s = strings.ToValidUTF8(s[:4096], "")
	}
	return s
}
