package web

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/auth"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var t0 = time.Date(2021, 3, 3, 10, 0, 0, 0, time.UTC)

// Attacker-written strings as they arrive in evidence.
const (
	hostileUA   = `Mozilla/5.0 <script>alert("ua")</script>`
	hostileMail = `"><img src=x onerror=alert(1)>@victim.example`
	hostileFile = "javascript:alert(1)//\x1b[31mred\u202egpj.aspx"
)

func hostileServer(name, ip string, at time.Time) finding.Server {
	f := []finding.Finding{
		{Rule: "proxylogon-ssrf", Title: "SSRF <b>answered</b>", Stage: finding.StageExploitation, Severity: finding.SeverityHigh, Time: at, ClientIP: ip, UserAgent: hostileUA,
			Mailbox: hostileMail, Source: finding.Source{File: "Logging/HttpProxy/Ecp/HttpProxy_2021030310-1.LOG", Line: 3, Kind: "httpproxy"}},
		{Rule: "webshell-write", Title: "Web shell written", Stage: finding.StagePersistence, Severity: finding.SeverityCritical, Time: at.Add(time.Minute), ClientIP: ip, UserAgent: hostileUA,
			Source: finding.Source{File: "Logging/ECP/Server/ECPServer2021030310-1.LOG", Line: 9, Kind: "ecp"},
			File:   &finding.FileInfo{Path: hostileFile, SHA256: "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0"}},
	}
	return finding.Server{Name: name, Verdict: finding.VerdictCompromised, Findings: f,
		Build:             finding.BuildHistory{Current: "15.1.2176.2", Chains: []finding.ChainStatus{{Chain: "ProxyLogon", Status: "vulnerable"}}},
		Attackers:         []finding.Attacker{{IP: ip, UserAgents: []string{hostileUA}, FirstSeen: at, LastSeen: at, MaxStage: finding.StagePersistence}},
		MailboxesAccessed: []finding.MailboxAccess{{Mailbox: hostileMail, Answered: true, FirstSeen: at, LastSeen: at}},
		Timeline:          []finding.TimelineEntry{{Time: at.Add(time.Minute), Rule: "webshell-write", Stage: finding.StagePersistence, Summary: hostileFile, Source: f[1].Source}}}
}

type fixture struct {
	s   *store.Store
	url string
	srv *httptest.Server
	d   *Dashboard
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetAlerter(detect.Changes{})
	for _, o := range []store.Org{{ID: "lawfirm", Name: "Law Firm", Sector: "law"}, {ID: "uni", Name: "University", Sector: "higher-education"}} {
		s.CreateOrg(ctx, o, t0)
	}
	for i, o := range []string{"lawfirm", "uni"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		m := &fleet.Run{SchemaVersion: 1, Type: fleet.TypeHunt, RunID: "run-" + o, Org: o, Hunt: &finding.Result{SchemaVersion: 1, StartedAt: at.Add(time.Hour),
			Servers: []finding.Server{hostileServer("EX01", "198.51.100.9", at)}}}
		if _, err := s.Ingest(ctx, m, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []store.User{{Name: "admin", Role: auth.RoleAdmin}, {Name: "analyst", Role: auth.RoleAnalyst}, {Name: "viewer", Role: auth.RoleViewer, Org: "uni"}} {
		u.Hash, _ = auth.HashPassword("password of " + u.Name)
		if err := s.CreateUser(ctx, u, t0); err != nil {
			t.Fatal(err)
		}
	}
	d := &Dashboard{Store: s}
	srv := httptest.NewTLSServer(d.Handler())
	t.Cleanup(srv.Close)
	return &fixture{s: s, url: srv.URL, srv: srv, d: d}
}

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (f *fixture) login(t *testing.T, user string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := *f.srv.Client() // a copy: each browser has its own cookies
	c.Jar = jar
	b := &browser{t: t, c: &c, base: f.url}
	_, body := b.get("/login")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("login page has no CSRF token")
	}
	code, body := b.post("/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {"password of " + user}})
	if code != 200 || !strings.Contains(body, "Fleet overview") {
		t.Fatalf("login as %s: %d %s", user, code, body)
	}
	b.csrf = csrfRe.FindStringSubmatch(body)[1]
	return b
}

func (b *browser) get(path string) (int, string) {
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, v url.Values) (int, string) {
	resp, err := b.c.PostForm(b.base+path, v)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (f *fixture) alertOf(t *testing.T, org string) string {
	al, err := f.s.Alerts(context.Background(), store.Scope{Org: org}, store.AlertFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range al {
		full, _ := f.s.Alert(context.Background(), store.All, a.ID)
		if len(full.Orgs) == 1 && full.Orgs[0] == org {
			return a.ID
		}
	}
	t.Fatalf("no alert of %s alone", org)
	return ""
}

// TestViewerGets403ForEveryRouteOfAnotherOrg walks every route the
// dashboard serves, as uni's viewer aimed at lawfirm.
func TestViewerGets403ForEveryRouteOfAnotherOrg(t *testing.T) {
	pgtest.Backends(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		b := f.login(t, "viewer")
		lawAlert := f.alertOf(t, "lawfirm")
		// The routes whose answer is the viewer's own view, not refused:
		// what they show must hold nothing of lawfirm.
		scoped := map[string]bool{"/{$}": true, "/servers": true, "/indicators": true, "/indicators/{kind}": true, "/alerts": true, "/search": true, "/api/v1/alerts": true}
		for _, rt := range f.d.Routes() {
			if rt.Pattern == "/logout" {
				continue // checked below: it only ends the viewer's own session
			}
			p := strings.NewReplacer("{org}", "lawfirm", "{server}", "EX01", "{id}", lawAlert, "{kind}", "ip", "{$}", "").Replace(rt.Pattern)
			var code int
			var body string
			if rt.Method == "POST" {
				code, body = b.post(p, url.Values{"csrf": {b.csrf}, "org": {"lawfirm"}, "id": {"x"}, "name": {"x"}})
			} else {
				q := "?q=EX01&v=198.51.100.9"
				code, body = b.get(p + q)
			}
			switch {
			case rt.Org || rt.Admin || rt.Pattern == "/alerts/{id}/ack":
				if code != http.StatusForbidden {
					t.Errorf("%s %s: %d, want 403", rt.Method, p, code)
				}
			case scoped[rt.Pattern]:
				if code != 200 || strings.Contains(body, "lawfirm") || strings.Contains(body, "Law Firm") {
					t.Errorf("%s %s: %d, or shows lawfirm", rt.Method, p, code)
				}
			default:
				t.Errorf("route %s %s has no expectation in this test: add it", rt.Method, rt.Pattern)
			}
		}
		if a, _ := f.s.Alert(context.Background(), store.All, lawAlert); a.AckedBy != "" {
			t.Fatal("viewer acknowledged lawfirm's alert")
		}
		// Their own organisation works.
		if code, body := b.get("/orgs/uni/servers/EX01"); code != 200 || !strings.Contains(body, "compromised") {
			t.Fatalf("own server: %d", code)
		}
	})
}

func TestCSRFLoginLimitAndInertStrings(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/f.db")
	b := f.login(t, "analyst")
	id := f.alertOf(t, "lawfirm")
	if code, body := b.post("/alerts/"+id+"/ack", url.Values{}); code != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("ack without CSRF: %d %s", code, body)
	}
	if a, _ := f.s.Alert(context.Background(), store.All, id); a.AckedBy != "" {
		t.Fatal("acknowledged without CSRF")
	}
	if code, _ := b.post("/alerts/"+id+"/ack", url.Values{"csrf": {b.csrf}}); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	if a, _ := f.s.Alert(context.Background(), store.All, id); a.AckedBy != "analyst" {
		t.Fatal("not acknowledged")
	}
	for _, p := range []string{"/", "/orgs/lawfirm/servers/EX01", "/alerts", "/indicators", "/search?q=victim", "/indicators/ua?v=" + url.QueryEscape(hostileUA)} {
		code, body := b.get(p)
		if code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "\x1b", "\u202e", `href="javascript:`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q unescaped", p, bad)
			}
		}
	}
	if _, body := b.get("/orgs/lawfirm/servers/EX01"); !strings.Contains(body, "&lt;script&gt;alert") {
		t.Error("server page lost the user agent")
	}
	if _, body := b.get("/indicators"); !strings.Contains(body, "198.51.100.9") || !strings.Contains(body, "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0") {
		t.Error("cross-customer indicators missing")
	}
	resp, _ := b.c.Get(f.url + "/")
	resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") != CSP {
		t.Error("no CSP")
	}
	// Cookies are Secure, HttpOnly, SameSite.
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	lb := &browser{t: t, c: c, base: f.url}
	lresp, _ := c.Get(f.url + "/login")
	lresp.Body.Close()
	for _, ck := range lresp.Cookies() {
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s: %+v", ck.Name, ck)
		}
	}
	// Admin actions are audited.
	ab := f.login(t, "admin")
	if code, _ := ab.post("/admin/orgs", url.Values{"csrf": {ab.csrf}, "id": {"ngo"}, "name": {"NGO"}, "sector": {"ngo"}}); code != 200 {
		t.Fatalf("add org: %d", code)
	}
	audit, _ := f.s.AuditLog(context.Background(), 0, 10)
	if len(audit) == 0 || audit[0].Action != "org.create" || audit[0].Actor != "admin" {
		t.Fatalf("audit: %+v", audit)
	}
	// Logins are rate limited.
	_, body := lb.get("/login")
	tok := csrfRe.FindStringSubmatch(body)[1]
	limited := false
	for range 8 {
		code, _ := lb.post("/login", url.Values{"csrf": {tok}, "user": {"admin"}, "password": {"wrong password!"}})
		if code == http.StatusTooManyRequests {
			limited = true
			break
		}
		_, body = lb.get("/login")
		tok = csrfRe.FindStringSubmatch(body)[1]
	}
	if !limited {
		t.Fatal("login attempts not limited")
	}
}

// The overview's body is rendered once per scope and shared: each caller
// must still get its own CSRF token in every form, the alerts' included.
func TestOverviewCarriesEachCallersCSRF(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/f.db")
	a, b := f.login(t, "analyst"), f.login(t, "analyst")
	if a.csrf == b.csrf {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, br := range []*browser{a, b, a} {
		_, body := br.get("/")
		got := csrfRe.FindAllStringSubmatch(body, -1)
		if len(got) < 2 || !strings.Contains(body, `action="/alerts/`) {
			t.Fatalf("overview has %d CSRF fields and no acknowledge form", len(got))
		}
		for _, m := range got {
			if m[1] != br.csrf {
				t.Fatalf("overview holds CSRF %q, the session's is %q", m[1], br.csrf)
			}
		}
	}
}

// Attacker rows are written without html/template: each value must be
// escaped for where it goes, and the indicator link must name the address.
func TestAttackerRowsEscape(t *testing.T) {
	ip := `"><script>alert(1)</script>&x=1`
	got := string(attackerRows([]finding.Attacker{{IP: ip, UserAgents: []string{hostileUA, "curl\x1b[31m\u202e"}, FirstSeen: t0, MaxStage: finding.StageAttempt}}))
	for _, bad := range []string{"<script>", `"><script`, "\x1b", "\u202e"} {
		if strings.Contains(got, bad) {
			t.Errorf("row holds %q unescaped: %s", bad, got)
		}
	}
	m := regexp.MustCompile(`href="/indicators/ip\?v=([^"]*)"`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("no indicator link: %s", got)
	}
	v, err := url.ParseQuery("v=" + html.UnescapeString(m[1]))
	if err != nil || v.Get("v") != ip {
		t.Errorf("link names %q, want %q", v.Get("v"), ip)
	}
	for _, want := range []string{`curl\x1b[31m\u202e`, "2021-03-03 10:00", "attempt", "&lt;script&gt;alert(&#34;ua&#34;)"} {
		if !strings.Contains(got, want) {
			t.Errorf("row lacks %q: %s", want, got)
		}
	}
}
