package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/scan"
)

func backends(t *testing.T, f func(t *testing.T, dsn string)) { pgtest.Backends(t, f) }

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var t0 = time.Date(2021, 3, 3, 10, 0, 0, 0, time.UTC)

func huntRun(id, org string, at time.Time, servers ...finding.Server) *fleet.Run {
	return &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: id, Org: org,
		Hunt: &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", StartedAt: at, Servers: servers}}
}

func exploitedServer(name, ip string, at time.Time) finding.Server {
	web := finding.Finding{Server: name, Rule: "proxylogon-webshell-write", Title: "Web shell written through the OAB virtual directory",
		Stage: finding.StagePersistence, Severity: finding.SeverityCritical, Time: at.Add(2 * time.Minute), ClientIP: ip, UserAgent: "ExchangeServicesClient/0.0.0.0",
		Source: finding.Source{File: "Logging/ECP/Server/ECPServer2021030310-1.LOG", Line: 17, Kind: "ecp"},
		File:   &finding.FileInfo{Path: `C:\inetpub\wwwroot\aspnet_client\supp0rt.aspx`, SHA256: "B75F163CA9B9240BF4B37AD92BC7556B40A17E27C2B8ED5C8991385FE07D17D0"}}
	ssrf := finding.Finding{Server: name, Rule: "proxylogon-ssrf", Title: "SSRF to the back end answered", Stage: finding.StageExploitation,
		Severity: finding.SeverityHigh, Time: at, ClientIP: ip, UserAgent: "python-requests/2.25.1",
		Source: finding.Source{File: "Logging/HttpProxy/Ecp/HttpProxy_2021030310-1.LOG", Line: 3, Kind: "httpproxy"}}
	use := finding.Finding{Server: name, Rule: "webshell-command", Title: "Web shell command", Stage: finding.StageExecution,
		Severity: finding.SeverityCritical, Time: at.Add(5 * time.Minute), ClientIP: ip, UserAgent: "Mozilla/5.0 <script>alert(1)</script>",
		Source: finding.Source{File: "W3SVC1/u_ex210303.log", Line: 40, Kind: "iis"}}
	return finding.Server{Name: name, Verdict: finding.VerdictExploited,
		Build:             finding.BuildHistory{Current: "15.1.2176.2", Chains: []finding.ChainStatus{{Chain: "ProxyLogon", Status: "vulnerable"}}},
		Findings:          []finding.Finding{ssrf, web, use},
		Attackers:         []finding.Attacker{{IP: ip, UserAgents: []string{"python-requests/2.25.1"}, FirstSeen: at, LastSeen: at.Add(5 * time.Minute), Requests: 3, MaxStage: finding.StageExecution}},
		MailboxesAccessed: []finding.MailboxAccess{{Mailbox: "ceo@victim.example", Answered: true, Requests: 2, FirstSeen: at, LastSeen: at}},
		Timeline:          []finding.TimelineEntry{{Time: web.Time, Rule: web.Rule, Stage: web.Stage, Summary: "supp0rt.aspx written", Source: web.Source}}}
}

func probedServer(name, ip string, at time.Time) finding.Server {
	return finding.Server{Name: name, Verdict: finding.VerdictProbed,
		Build: finding.BuildHistory{Current: "15.1.2176.9", Chains: []finding.ChainStatus{{Chain: "ProxyLogon", Status: "patched"}}},
		Findings: []finding.Finding{{Server: name, Rule: "proxylogon-probe", Title: "Probe", Stage: finding.StageReconnaissance, Severity: finding.SeverityLow,
			Time: at, ClientIP: ip, Source: finding.Source{File: "W3SVC1/u_ex210303.log", Line: 9, Kind: "iis"}}}}
}

type changeAlerts struct{}

func (changeAlerts) Alerts(cs []store.Change) []store.Alert {
	var out []store.Alert
	for _, c := range cs {
		out = append(out, store.Alert{Kind: c.Kind, At: c.At, Title: c.Kind + " " + c.Org + " " + c.Server + " " + c.Indicator, Orgs: append([]string{c.Org}, c.OtherOrgs...), Servers: []string{c.Server}, Evidence: c.Evidence})
	}
	return out
}

func open(t *testing.T, dsn string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetAlerter(changeAlerts{})
	ctx := context.Background()
	for _, o := range []store.Org{{ID: "lawfirm", Name: "Law Firm LLP", Sector: "law"}, {ID: "uni", Name: "University", Sector: "higher-education"}} {
		if err := s.CreateOrg(ctx, o, t0); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestMigrationsAndNewerSchema(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		s.Close()
		// Reopening applies nothing twice.
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		s2.Close()
		var db *sql.DB
		if s2.Postgres() {
			db, _ = sql.Open("pgx", dsn)
		} else {
			db, _ = sql.Open("sqlite", dsn)
		}
		if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (9999, '9999_future.sql', 0)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if _, err := store.Open(ctx, dsn); !errors.Is(err, store.ErrNewerSchema) {
			t.Fatalf("open on a newer schema: got %v, want ErrNewerSchema", err)
		}
	})
}

func TestIngestStateHistoryIdempotence(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		first := huntRun("run-1", "lawfirm", t0, probedServer("EX01", "203.0.113.7", t0))
		res, err := s.Ingest(ctx, first, t0)
		if err != nil || res.Duplicate || res.Findings != 1 {
			t.Fatalf("first ingest: %+v %v", res, err)
		}
		later := huntRun("run-2", "lawfirm", t0.Add(24*time.Hour), exploitedServer("EX01", "198.51.100.9", t0.Add(20*time.Hour)))
		res, err = s.Ingest(ctx, later, t0)
		if err != nil || res.Findings != 3 {
			t.Fatalf("second ingest: %+v %v", res, err)
		}
		kinds := map[string]int{}
		for _, a := range res.Alerts {
			kinds[a.Kind]++
		}
		if kinds[store.ChangeServerState] != 1 || kinds[store.ChangeFirstExploitation] != 1 {
			t.Fatalf("alerts from the exploited run: %v", kinds)
		}
		// An older run arriving late is history, not the current state.
		old := huntRun("run-0", "lawfirm", t0.Add(-24*time.Hour), probedServer("EX01", "203.0.113.7", t0.Add(-25*time.Hour)))
		if _, err := s.Ingest(ctx, old, t0); err != nil {
			t.Fatal(err)
		}
		sr, doc, err := s.Server(ctx, store.All, "lawfirm", "EX01")
		if err != nil {
			t.Fatal(err)
		}
		if sr.State != fleet.StateExploited || sr.HuntRun != "run-2" || doc == nil || len(doc.Findings) != 3 || !sr.Exposed || sr.Build != "15.1.2176.2" {
			t.Fatalf("current state: %+v", sr)
		}
		hist, err := s.ServerHistory(ctx, store.All, "lawfirm", "EX01", 0, 10)
		if err != nil || len(hist) != 3 || hist[0].RunID != "run-2" || hist[2].RunID != "run-0" {
			t.Fatalf("history: %+v %v", hist, err)
		}
		before := counts(t, s)
		for _, m := range []*fleet.Run{first, later, old} {
			res, err := s.Ingest(ctx, m, t0)
			if err != nil || !res.Duplicate || len(res.Alerts) != 0 {
				t.Fatalf("resend %s: %+v %v", m.RunID, res, err)
			}
		}
		if after := counts(t, s); after != before {
			t.Fatalf("resending changed the counts: %v -> %v", before, after)
		}
	})
}

type tally struct{ servers, alerts, activity, cross, mailboxes int }

func counts(t *testing.T, s *store.Store) tally {
	ctx := context.Background()
	var c tally
	srv, _ := s.Servers(ctx, store.All, "", 0, 1000)
	al, _ := s.Alerts(ctx, store.All, store.AlertFilter{Limit: 1000})
	act, _ := s.Activity(ctx, store.All, t0.Add(-30*24*time.Hour), t0.Add(30*24*time.Hour))
	for _, a := range act {
		for _, n := range a.ByKind {
			c.activity += n
		}
	}
	cr, _ := s.CrossIndicators(ctx, store.All, "", 0, 1000)
	mb, _ := s.Search(ctx, store.All, "@", 0, 1000)
	c.servers, c.alerts, c.cross, c.mailboxes = len(srv), len(al), len(cr), len(mb)
	return c
}

func TestCrossCustomerAndScope(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		ip := "198.51.100.9"
		if _, err := s.Ingest(ctx, huntRun("a", "lawfirm", t0, exploitedServer("EX01", ip, t0)), t0); err != nil {
			t.Fatal(err)
		}
		res, err := s.Ingest(ctx, huntRun("b", "uni", t0.Add(time.Hour), exploitedServer("MAIL", ip, t0.Add(time.Hour))), t0)
		if err != nil {
			t.Fatal(err)
		}
		var newOrg []string
		for _, a := range res.Alerts {
			if a.Kind == store.ChangeIndicatorNewOrg {
				newOrg = append(newOrg, a.Title)
			}
		}
		if len(newOrg) != 2 { // the address and the shell hash reached uni
			t.Fatalf("indicator alerts: %q", newOrg)
		}
		cross, err := s.CrossIndicators(ctx, store.All, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string][]string{}
		for _, c := range cross {
			found[c.Kind+" "+c.Value] = c.Orgs
		}
		for _, k := range []string{"ip " + ip, "shell_hash b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0", `shell_path C:\inetpub\wwwroot\aspnet_client\supp0rt.aspx`, "ua python-requests/2.25.1"} {
			if len(found[k]) != 2 {
				t.Errorf("cross-customer %s: orgs %v", k, found[k])
			}
		}
		uni := store.Scope{Org: "uni"}
		if _, _, err := s.Server(ctx, uni, "lawfirm", "EX01"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("uni reading lawfirm's server: %v", err)
		}
		if l, err := s.Servers(ctx, uni, "", 0, 100); err != nil || len(l) != 1 || l[0].Org != "uni" {
			t.Errorf("uni's servers: %+v %v", l, err)
		}
		hits, _ := s.Search(ctx, uni, "ceo@", 0, 100)
		if len(hits) != 1 || hits[0].Org != "uni" {
			t.Errorf("uni's search: %+v", hits)
		}
		al, _ := s.Alerts(ctx, uni, store.AlertFilter{Limit: 100})
		for _, a := range al {
			if len(a.Orgs) != 1 || a.Orgs[0] != "uni" {
				t.Errorf("alert shown to uni names %v", a.Orgs)
			}
		}
		cr, _ := s.CrossIndicators(ctx, uni, "", 0, 100)
		for _, c := range cr {
			if len(c.Orgs) != 1 || c.Orgs[0] != "uni" {
				t.Errorf("indicator shown to uni names %v", c.Orgs)
			}
		}
		po, ps, err := s.Overview(ctx, store.All)
		if err != nil || len(po) != 2 || len(ps) != 2 || po[0].Exploited != 1 {
			t.Fatalf("overview %+v %+v %v", po, ps, err)
		}
	})
}

func TestScanDecoyTokens(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		m := &fleet.Run{SchemaVersion: 1, Type: fleet.TypeScan, RunID: "scan-1", Org: "uni", Scan: []scan.Result{
			{Seq: 0, Target: "https://mail.uni.example/", Status: scan.StatusExchange, Time: t0,
				Exchange: &scan.Exchange{Build: "15.2.792.3", Server: "EXCH1"}, Chains: []scan.Chain{{Chain: "ProxyLogon", Verdict: scan.VerdictVulnerable}}},
			{Seq: 1, Target: "https://owa.uni.example/", Status: scan.StatusUnreachable, Time: t0},
		}}
		if _, err := s.Ingest(ctx, m, t0); err != nil {
			t.Fatal(err)
		}
		sr, _, err := s.Server(ctx, store.All, "uni", "EXCH1")
		if err != nil || sr.State != fleet.StateExposed || sr.Patch != "vulnerable" || sr.Build != "15.2.792.3" {
			t.Fatalf("scanned server: %+v %v", sr, err)
		}
		if _, err := s.Ingest(ctx, &fleet.Run{SchemaVersion: 1, Type: fleet.TypeHunt, RunID: "x", Org: "nobody", Hunt: &finding.Result{SchemaVersion: 1}}, t0); !errors.Is(err, store.ErrUnknownOrg) {
			t.Fatalf("unknown org: %v", err)
		}
		id, secret, err := s.CreateToken(ctx, "uni", t0)
		if err != nil {
			t.Fatal(err)
		}
		if org, err := s.TokenOrg(ctx, secret); err != nil || org != "uni" {
			t.Fatalf("token: %q %v", org, err)
		}
		if _, err := s.TokenOrg(ctx, secret+"x"); !errors.Is(err, store.ErrTokenUnknown) {
			t.Fatalf("wrong token: %v", err)
		}
		if err := s.RevokeToken(ctx, id, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenOrg(ctx, secret); !errors.Is(err, store.ErrTokenRevoked) {
			t.Fatalf("revoked token: %v", err)
		}
	})
}

// The per-organisation indicator summary, kept up at ingest, must equal
// what the per-server rows add up to, whatever order runs arrive in.
func TestIndicatorOrgSummary(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		ip := "198.51.100.9"
		runs := []*fleet.Run{
			huntRun("a", "lawfirm", t0, exploitedServer("EX01", ip, t0)),
			huntRun("b", "lawfirm", t0.Add(time.Hour), probedServer("EX02", ip, t0.Add(-5*time.Hour)), probedServer("EX03", "203.0.113.7", t0)),
			huntRun("c", "lawfirm", t0.Add(2*time.Hour), exploitedServer("EX01", ip, t0.Add(3*time.Hour))),
			huntRun("d", "uni", t0, probedServer("MAIL", ip, t0.Add(-9*time.Hour))),
			huntRun("e", "lawfirm", t0.Add(-time.Hour), probedServer("EX01", ip, t0.Add(-7*time.Hour))),
		}
		for _, m := range append(runs, runs[0], runs[2]) {
			if _, err := s.Ingest(ctx, m, t0); err != nil {
				t.Fatal(err)
			}
		}
		driver := "sqlite"
		if s.Postgres() {
			driver = "pgx"
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		read := func(q string) map[string]string {
			rows, err := db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := map[string]string{}
			for rows.Next() {
				var o, k, v string
				var f, l, n, r int64
				if err := rows.Scan(&o, &k, &v, &f, &l, &n, &r); err != nil {
					t.Fatal(err)
				}
				out[o+" "+k+" "+v] = fmt.Sprint(f, l, n, r)
			}
			return out
		}
		got := read("SELECT org_id, kind, value, first_ms, last_ms, servers, max_rank FROM indicator_orgs")
		want := read(`SELECT org_id, kind, value, COALESCE(MIN(CASE WHEN first_ms = 0 THEN NULL ELSE first_ms END), 0), MAX(last_ms), COUNT(*), MAX(max_rank)
			FROM indicators GROUP BY org_id, kind, value`)
		if len(want) == 0 || !maps.Equal(got, want) {
			t.Fatalf("indicator_orgs\n got %v\nwant %v", got, want)
		}
		cross, err := s.CrossIndicators(ctx, store.All, "ip", 0, 10)
		if err != nil || len(cross) != 1 || cross[0].Servers != 3 || len(cross[0].Orgs) != 2 || !cross[0].First.Equal(t0.Add(-9*time.Hour)) || !cross[0].Last.Equal(t0.Add(3*time.Hour+5*time.Minute)) {
			t.Fatalf("cross-customer address: %+v %v", cross, err)
		}
		sights, err := s.Sightings(ctx, store.Scope{Org: "lawfirm"}, "ip", ip, 0, 10)
		if err != nil || len(sights) != 2 || sights[0].Server != "EX01" || sights[0].Stage != finding.StageExecution || sights[1].Server != "EX02" {
			t.Fatalf("lawfirm's sightings: %+v %v", sights, err)
		}
	})
}

// An exploiting address or web-shell hash alerts once per organisation it
// reaches, naming every organisation that had it before; later runs at an
// organisation that has it already raise nothing.
func TestIndicatorReachesNewOrgOnce(t *testing.T) {
	backends(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := open(t, dsn)
		if err := s.CreateOrg(ctx, store.Org{ID: "ngo", Name: "Relief NGO", Sector: "ngo"}, t0); err != nil {
			t.Fatal(err)
		}
		ip := "203.0.113.77"
		// each alert's organisations, the one reached first
		newOrg := func(id, org, server string, at time.Time) [][]string {
			t.Helper()
			res, err := s.Ingest(ctx, huntRun(id, org, at, exploitedServer(server, ip, at)), at)
			if err != nil {
				t.Fatal(err)
			}
			var orgs [][]string
			for _, a := range res.Alerts {
				if a.Kind == store.ChangeIndicatorNewOrg {
					orgs = append(orgs, a.Orgs)
				}
			}
			return orgs
		}
		if got := newOrg("a1", "lawfirm", "EX01", t0); len(got) != 0 {
			t.Fatalf("first sighting anywhere: %q", got)
		}
		if got := newOrg("b1", "uni", "MAIL", t0.Add(time.Hour)); len(got) != 2 {
			t.Fatalf("reaching uni: %q", got)
		}
		for i, org := range []string{"lawfirm", "uni"} {
			if got := newOrg(fmt.Sprint("again", i), org, "EX09", t0.Add(2*time.Hour)); len(got) != 0 {
				t.Errorf("another server at %s, which had it already: %q", org, got)
			}
		}
		got := newOrg("c1", "ngo", "EXCH", t0.Add(3*time.Hour))
		if len(got) != 2 {
			t.Fatalf("reaching ngo: %q", got)
		}
		for _, orgs := range got {
			if !slices.Equal(orgs, []string{"ngo", "lawfirm", "uni"}) {
				t.Errorf("alert for ngo names %q, want ngo, then lawfirm and uni", orgs)
			}
		}
	})
}
