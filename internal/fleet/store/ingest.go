package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = IngestResult{}
		var exploitMS int64
		if err := tx.QueryRowContext(ctx, s.q("SELECT exploit_ms FROM orgs WHERE id = ?"), m.Org).Scan(&exploitMS); err == sql.ErrNoRows {
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
		in := &ingester{s: s, tx: tx, ctx: ctx, m: m, now: now, exploitMS: exploitMS, ind: map[indKey]*indVal{}}
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
		res.Findings = in.findings
		res.Alerts = s.alerter.Alerts(in.changes)
		for i := range res.Alerts {
			if err := s.insertAlert(ctx, tx, &res.Alerts[i], now); err != nil {
				return err
			}
		}
		return nil
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
}

func (in *ingester) exec(query string, args ...any) error {
	if err := in.sendBatch(); err != nil {
		return err
	}
	return in.execNow(query, args...)
}

func (in *ingester) execNow(query string, args ...any) error {
	if in.stmts == nil {
		in.stmts = map[string]*sql.Stmt{}
	}
	st, ok := in.stmts[query]
	if !ok {
		var err error
		st, err = in.tx.PrepareContext(in.ctx, in.s.q(query))
		if err != nil {
			return err
		}
		in.stmts[query] = st
	}
	_, err := st.ExecContext(in.ctx, args...)
	return err
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
	var e int
	err = in.tx.QueryRowContext(in.ctx, in.s.q("SELECT state, exposed, hunt_ms, scan_ms FROM servers WHERE org_id = ? AND name = ?"), in.m.Org, name).Scan(&state, &e, &huntMS, &scanMS)
	exposed = e == 1
	if err == sql.ErrNoRows {
		state, err = fleet.StateClean, in.exec("INSERT INTO servers (org_id, name, first_ms, last_ms) VALUES (?, ?, ?, ?)", in.m.Org, name, t, t)
	}
	return
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
	for si := range r.Servers {
		sv := &r.Servers[si]
		doc, err := json.Marshal(sv)
		if err != nil {
			return err
		}
		state, wasExposed, huntMS, _, err := in.server(sv.Name, started)
		if err != nil {
			return err
		}
		if err := in.exec("INSERT INTO server_runs (run_id, org_id, server, started_ms, verdict, inconclusive, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
			in.m.RunID, in.m.Org, sv.Name, started, string(sv.Verdict), b2i(sv.Inconclusive), string(doc)); err != nil {
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
		} else if exposed {
			if err := in.exec("UPDATE servers SET exposed = 1, state = CASE WHEN state = 'clean' THEN 'exposed' ELSE state END WHERE org_id = ? AND name = ?", in.m.Org, sv.Name); err != nil {
				return err
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
				if err := in.batch("INSERT INTO activity (org_id, server, fp, hour, kind) VALUES ", " ON CONFLICT DO NOTHING",
					in.m.Org, sv.Name, fp, t/3_600_000, string(f.Stage)); err != nil {
					return err
				}
			}
			ev := fmt.Sprintf("%s %s: %s (%s)", f.Time.UTC().Format(time.RFC3339), sv.Name, f.Title, f.Source)
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
		if err := in.batch("INSERT INTO activity (org_id, server, fp, hour, kind) VALUES ", " ON CONFLICT DO NOTHING", in.m.Org, server, fp, t/3_600_000, string(stage)); err != nil {
			return err
		}
		ev := fmt.Sprintf("%s decoy %s: %s %s (%s)", e.Time.UTC().Format(time.RFC3339), e.Server, e.Method, e.URI, e.Kind)
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

// pending is rows of one insert waiting to go as one statement.
type pending struct {
	head, tail string
	cols       int
	args       []any
}

// batchRows is how many rows one statement carries: fewer round trips to
// PostgreSQL, fewer statements for SQLite; under both's parameter limits.
const batchRows = 80

// batch queues one row of an INSERT; each statement's rows go together.
// Every other statement sends the queued rows first.
func (in *ingester) batch(head, tail string, args ...any) error {
	key := head + tail
	p := in.pend[key]
	if p == nil {
		if in.pend == nil {
			in.pend = map[string]*pending{}
		}
		p = &pending{head: head, tail: tail, cols: len(args)}
		in.pend[key] = p
		in.order = append(in.order, key)
	}
	p.args = append(p.args, args...)
	if len(p.args)/p.cols >= batchRows {
		return in.send(p)
	}
	return nil
}

func (in *ingester) send(p *pending) error {
	if len(p.args) == 0 {
		return nil
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", p.cols), ", ") + ")"
	rows := len(p.args) / p.cols
	q := p.head + strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ") + p.tail
	args := p.args
	p.args = p.args[:0:0]
	return in.execNow(q, args...)
}

func (in *ingester) sendBatch() error {
	for _, k := range in.order {
		if err := in.send(in.pend[k]); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the run's indicators and notes attackers and web shells
// reaching a new organisation.
func (in *ingester) flush() error {
	if err := in.sendBatch(); err != nil {
		return err
	}
	keys := make([]indKey, 0, len(in.ind))
	for k := range in.ind {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.value != b.value {
			return a.value < b.value
		}
		return a.server < b.server
	})
	noted := map[[2]string]bool{}
	for _, k := range keys {
		v := in.ind[k]
		watch := (k.kind == "ip" && v.rank >= finding.StageExploitation.Rank()) || k.kind == "shell_hash"
		if watch && !noted[[2]string{k.kind, k.value}] {
			noted[[2]string{k.kind, k.value}] = true
			rows, err := in.tx.QueryContext(in.ctx, in.s.q("SELECT DISTINCT org_id FROM indicators WHERE kind = ? AND value = ? AND max_rank >= ? ORDER BY org_id"), k.kind, k.value, finding.StageExploitation.Rank())
			if err != nil {
				return err
			}
			var orgs []string
			seenHere := false
			for rows.Next() {
				var o string
				if err := rows.Scan(&o); err != nil {
					rows.Close()
					return err
				}
				if o == in.m.Org {
					seenHere = true
				}
				orgs = append(orgs, o)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if !seenHere && len(orgs) > 0 {
				var ev []string
				if v.evidence != "" {
					ev = append(ev, v.evidence)
				}
				in.changes = append(in.changes, Change{Kind: ChangeIndicatorNewOrg, Org: in.m.Org, Server: k.server, At: fromMS(v.first),
					IndicatorKind: k.kind, Indicator: k.value, OtherOrgs: orgs, Evidence: ev})
			}
		}
		if err := in.exec(`INSERT INTO indicators (kind, value, org_id, server, first_ms, last_ms, max_rank) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, value, org_id, server) DO UPDATE SET
			first_ms = CASE WHEN excluded.first_ms <> 0 AND (indicators.first_ms = 0 OR excluded.first_ms < indicators.first_ms) THEN excluded.first_ms ELSE indicators.first_ms END,
			last_ms = CASE WHEN excluded.last_ms > indicators.last_ms THEN excluded.last_ms ELSE indicators.last_ms END,
			max_rank = CASE WHEN excluded.max_rank > indicators.max_rank THEN excluded.max_rank ELSE indicators.max_rank END`,
			k.kind, k.value, in.m.Org, k.server, v.first, v.last, v.rank); err != nil {
			return err
		}
	}
	for _, st := range in.stmts {
		st.Close()
	}
	return nil
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
