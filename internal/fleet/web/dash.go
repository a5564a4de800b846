package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/auth"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/report"
)

//go:embed assets
var assets embed.FS

var (
	style = func() string { b, _ := assets.ReadFile("assets/style.css"); return string(b) }()
	// CSP is the HTML report's policy (nothing but the page's own inline
	// style, by hash; no script; Trusted Types), with forms allowed to post
	// back to the server, which the dashboard's changes need.
	CSP  = "default-src 'none'; style-src '" + cspHash(style) + "'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
	tmpl = template.Must(template.New("").Funcs(template.FuncMap{"fmtTime": fmtTime, "vis": vis}).ParseFS(assets, "assets/*.tmpl"))
)

// vis shows control, format and line-separator characters in
// attacker-chosen text as escapes: html/template makes text safe to
// render, not safe to read (a terminal escape, a bidi override).
func vis(s string) string {
	if !strings.ContainsFunc(s, needsVis) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			if r < 0x100 {
				fmt.Fprintf(&b, "\\x%02x", r)
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsVis(r rune) bool {
	return r == utf8.RuneError || r < 0x20 || (r >= 0x7f && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'))
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

const (
	sessionCookie = "exhunt_session"
	loginCookie   = "exhunt_login"
	sessionTTL    = 12 * time.Hour
	pageSize      = 50
)

// Dashboard is the web interface and the read API.
type Dashboard struct {
	Store *store.Store
	// Insecure drops the Secure cookie flag (plain HTTP on loopback for
	// browsers that refuse Secure cookies there).
	Insecure bool
	Ingest   *ingest.Handler
	Now      func() time.Time

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter

	ovMu    sync.Mutex
	ovCache map[string]*overviewEntry
}

// Route is one route of the dashboard: Org says the pattern holds an
// {org} and must be refused outside the caller's scope; Admin that only
// admins may use it.
type Route struct {
	Method, Pattern string
	Org, Admin      bool
	h               func(w http.ResponseWriter, r *http.Request, c *caller)
}

type caller struct {
	User  store.User
	Scope store.Scope
	CSRF  string
}

// Routes lists every authenticated route; Handler serves exactly these.
func (d *Dashboard) Routes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/{$}", h: d.overview},
		{Method: "GET", Pattern: "/servers", h: d.servers},
		{Method: "GET", Pattern: "/orgs/{org}", Org: true, h: d.servers},
		{Method: "GET", Pattern: "/orgs/{org}/servers/{server}", Org: true, h: d.server},
		{Method: "GET", Pattern: "/orgs/{org}/servers/{server}/card", Org: true, h: d.card},
		{Method: "GET", Pattern: "/indicators", h: d.indicators},
		{Method: "GET", Pattern: "/indicators/{kind}", h: d.sightings},
		{Method: "GET", Pattern: "/alerts", h: d.alerts},
		{Method: "POST", Pattern: "/alerts/{id}/ack", h: d.ack},
		{Method: "GET", Pattern: "/search", h: d.search},
		{Method: "POST", Pattern: "/logout", h: d.logout},
		{Method: "GET", Pattern: "/admin", Admin: true, h: d.admin},
		{Method: "POST", Pattern: "/admin/orgs", Admin: true, h: d.adminOrg},
		{Method: "POST", Pattern: "/admin/users", Admin: true, h: d.adminUser},
		{Method: "POST", Pattern: "/admin/tokens", Admin: true, h: d.adminToken},
		{Method: "POST", Pattern: "/admin/tokens/{id}/revoke", Admin: true, h: d.adminRevoke},
		{Method: "GET", Pattern: "/api/v1/orgs/{org}/servers", Org: true, h: d.apiServers},
		{Method: "GET", Pattern: "/api/v1/orgs/{org}/servers/{server}", Org: true, h: d.apiServer},
		{Method: "GET", Pattern: "/api/v1/alerts", h: d.apiAlerts},
	}
}

// Handler is the whole server: login, the dashboard routes, and ingest.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	if d.Ingest != nil {
		mux.Handle("POST "+ingest.Path, d.Ingest)
	}
	mux.HandleFunc("GET /login", d.loginPage)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	for _, rt := range d.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, d.guard(rt))
	}
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (d *Dashboard) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// guard authenticates, checks CSRF on changes and the route's scope.
func (d *Dashboard) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		var ss store.Session
		var u store.User
		if err == nil {
			ss, u, err = d.Store.SessionByCookie(r.Context(), ck.Value, d.now())
		}
		api := strings.HasPrefix(r.URL.Path, "/api/")
		if err != nil {
			if api || r.Method != "GET" {
				http.Error(w, "not logged in", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		c := &caller{User: u, Scope: auth.Scope(u), CSRF: ss.CSRF}
		if r.Method != "GET" && r.Method != "HEAD" {
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(ss.CSRF)) != 1 {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		if rt.Admin && u.Role != auth.RoleAdmin {
			http.Error(w, "admins only", http.StatusForbidden)
			return
		}
		if rt.Org && !c.Scope.Allows(r.PathValue("org")) {
			http.Error(w, "not your organisation", http.StatusForbidden)
			return
		}
		rt.h(w, r, c)
	})
}

type page struct {
	Title, Flash, Query string
	User                *store.User
	CSRF                string
	Style               template.CSS
	Data                any
}

func (d *Dashboard) render(w http.ResponseWriter, name string, c *caller, title string, data any) {
	p := page{Title: title, Style: template.CSS(style), Data: data}
	if c != nil {
		p.User, p.CSRF = &c.User, c.CSRF
	}
	b := pageBufs.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= 1<<20 {
			b.Reset()
			pageBufs.Put(b)
		}
	}()
	if err := tmpl.ExecuteTemplate(b, name, p); err != nil {
		http.Error(w, "page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", CSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// pageBufs keeps page buffers: growing a fresh one to an overview's size
// for every request cost more than filling it.
var pageBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func fail(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	http.Error(w, "failed: "+err.Error(), http.StatusInternalServerError)
}

// pager reads ?page= and links the neighbours.
type pager struct {
	Prev, Next string
	n          int
}

func newPager(r *http.Request) pager {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	return pager{n: max(n, 0)}
}

func (p pager) offset() int { return p.n * pageSize }

func (p pager) links(r *http.Request, got int) pager {
	q := r.URL.Query()
	if p.n > 0 {
		q.Set("page", strconv.Itoa(p.n-1))
		p.Prev = r.URL.Path + "?" + q.Encode()
	}
	if got >= pageSize {
		q.Set("page", strconv.Itoa(p.n+1))
		p.Next = r.URL.Path + "?" + q.Encode()
	}
	return p
}

func randToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (d *Dashboard) cookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(ttl.Seconds()), HttpOnly: true, Secure: !d.Insecure, SameSite: http.SameSiteStrictMode})
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := randToken()
	d.cookie(w, loginCookie, tok, 30*time.Minute)
	p := page{Title: "Log in", Style: template.CSS(style), CSRF: tok}
	if r.URL.Query().Get("failed") != "" {
		p.Flash = "Wrong user or password, or too many attempts: wait and try again."
	}
	var b bytes.Buffer
	tmpl.ExecuteTemplate(&b, "login.tmpl", p)
	w.Header().Set("Content-Security-Policy", CSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// limiter allows 5 login attempts at once per client address and one
// more every 10 seconds.
func (d *Dashboard) limiter(key string) *rate.Limiter {
	d.limMu.Lock()
	defer d.limMu.Unlock()
	if d.limiters == nil || len(d.limiters) > 100000 {
		d.limiters = map[string]*rate.Limiter{}
	}
	l := d.limiters[key]
	if l == nil {
		l = rate.NewLimiter(rate.Every(10*time.Second), 5)
		d.limiters[key] = l
	}
	return l
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		http.Error(w, "missing or wrong CSRF token: reload the login page", http.StatusForbidden)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	name := r.PostFormValue("user")
	if !d.limiter("ip "+host).Allow() || !d.limiter("user "+name).Allow() {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many login attempts: wait and try again", http.StatusTooManyRequests)
		return
	}
	u, err := d.Store.UserByName(r.Context(), name)
	if err != nil || !auth.CheckPassword(u.Hash, r.PostFormValue("password")) {
		http.Redirect(w, r, "/login?failed=1", http.StatusSeeOther)
		return
	}
	sid := randToken()
	if err := d.Store.CreateSession(r.Context(), sid, store.Session{User: u.Name, CSRF: randToken(), Expires: d.now().Add(sessionTTL)}); err != nil {
		fail(w, err)
		return
	}
	d.cookie(w, sessionCookie, sid, sessionTTL)
	d.cookie(w, loginCookie, "", -time.Second)
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, c *caller) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		d.Store.DeleteSession(r.Context(), ck.Value)
	}
	d.cookie(w, sessionCookie, "", -time.Second)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type alertList struct {
	Items []store.Alert
	CSRF  string
}

type table struct {
	By   string
	Rows []store.StateCounts
}

// overviewData is the overview's figures, the same for every caller of a
// scope.
type overviewData struct {
	States                                                    []fleet.State
	Tables                                                    []table
	Servers, Affected, Exploited, OrgsAffected, OrgsExploited int
	Chart                                                     template.HTML
	Hours                                                     int
	End                                                       time.Time
	Latest                                                    []store.Alert
	// Body is the page between header and footer, rendered once per
	// scope and cut where each caller's CSRF token goes: rendering the
	// tables, not reading them, was most of an overview's cost.
	Body []template.HTML
}

// csrfSlot stands for the caller's CSRF token in a cached page body:
// random, so that no ingested text can hold it.
var csrfSlot = "csrf-" + randToken()

type overviewEntry struct {
	version uint64
	at      time.Time
	data    *overviewData
	// ready closes when data is read; refreshing marks a reread under way.
	ready      chan struct{}
	err        error
	refreshing bool
}

// overviewTTL bounds how stale a cached overview may be: changes made
// through this process are seen at once (the store's version moves), those
// of another replica of the same database within this time.
const overviewTTL = 2 * time.Second

// overviewFigures reads the overview of a scope, or takes it from the
// cache: twenty analysts reloading it cost one read of the store, not
// twenty. Callers arriving while it is read wait for that one read; once
// it is older than overviewTTL (and the store unchanged here) they get it
// while one of them rereads it.
func (d *Dashboard) overviewFigures(ctx context.Context, sc store.Scope, endParam string) (*overviewData, error) {
	key := sc.Org + "\x00" + endParam
	v := d.Store.Version()
	d.ovMu.Lock()
	if d.ovCache == nil || len(d.ovCache) > 1000 {
		d.ovCache = map[string]*overviewEntry{}
	}
	e := d.ovCache[key]
	if e != nil {
		select {
		case <-e.ready:
			if e.version == v {
				if e.err == nil && time.Since(e.at) >= overviewTTL && !e.refreshing {
					e.refreshing = true
					go d.refreshOverview(sc, endParam, key, e)
				}
				d.ovMu.Unlock()
				return e.data, e.err
			}
		default:
			if e.version == v { // the same read: wait for it
				d.ovMu.Unlock()
				select {
				case <-e.ready:
					return e.data, e.err
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
	}
	e = &overviewEntry{version: v, ready: make(chan struct{})}
	d.ovCache[key] = e
	d.ovMu.Unlock()
	// Read detached from this request, which may go away while others wait.
	e.data, e.err = d.readOverview(context.WithoutCancel(ctx), sc, endParam)
	e.at = time.Now()
	close(e.ready)
	if e.err != nil {
		d.ovMu.Lock()
		if d.ovCache[key] == e {
			delete(d.ovCache, key)
		}
		d.ovMu.Unlock()
	}
	return e.data, e.err
}

func (d *Dashboard) refreshOverview(sc store.Scope, endParam, key string, old *overviewEntry) {
	data, err := d.readOverview(context.Background(), sc, endParam)
	d.ovMu.Lock()
	defer d.ovMu.Unlock()
	old.refreshing = false
	if err != nil || d.ovCache[key] != old {
		return
	}
	ready := make(chan struct{})
	close(ready)
	d.ovCache[key] = &overviewEntry{version: old.version, at: time.Now(), data: data, ready: ready}
}

func (d *Dashboard) readOverview(ctx context.Context, sc store.Scope, endParam string) (*overviewData, error) {
	perOrg, perSector, err := d.Store.Overview(ctx, sc)
	if err != nil {
		return nil, err
	}
	data := &overviewData{States: fleet.States[1:], Tables: []table{{"organisation", perOrg}}}
	if sc.Org == "" {
		data.Tables = append(data.Tables, table{"sector", perSector})
	}
	for _, o := range perOrg {
		data.Servers += o.Servers
		data.Affected += o.Affected
		data.Exploited += o.Exploited
		if o.Affected > 0 {
			data.OrgsAffected++
		}
		if o.Exploited > 0 {
			data.OrgsExploited++
		}
	}
	end, err := d.Store.LatestActivity(ctx)
	if err != nil {
		return nil, err
	}
	if t, err := time.Parse("2006-01-02", endParam); err == nil {
		end = t
	}
	data.Hours = 14 * 24
	end = end.Add(time.Hour).Truncate(time.Hour)
	data.End = end
	acts, err := d.Store.Activity(ctx, sc, end.Add(-time.Duration(data.Hours)*time.Hour), end)
	if err != nil {
		return nil, err
	}
	marks, err := d.Store.AlertMarks(ctx, sc, end.Add(-time.Duration(data.Hours)*time.Hour), end)
	if err != nil {
		return nil, err
	}
	data.Chart = chart(acts, marks, end, data.Hours)
	latest, err := d.Store.Alerts(ctx, sc, store.AlertFilter{Limit: 10, Newest: true})
	if err != nil {
		return nil, err
	}
	slices.Reverse(latest)
	data.Latest = latest
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "overview-body", struct {
		Data any
	}{struct {
		*overviewData
		Alerts alertList
	}{data, alertList{data.Latest, csrfSlot}}}); err != nil {
		return nil, err
	}
	for _, part := range strings.Split(b.String(), csrfSlot) {
		data.Body = append(data.Body, template.HTML(part))
	}
	return data, nil
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, c *caller) {
	data, err := d.overviewFigures(r.Context(), c.Scope, r.URL.Query().Get("end"))
	if err != nil {
		fail(w, err)
		return
	}
	d.render(w, "overview.tmpl", c, "Fleet overview", data.Body)
}

func (d *Dashboard) servers(w http.ResponseWriter, r *http.Request, c *caller) {
	org := r.PathValue("org")
	pg := newPager(r)
	var data struct {
		Org     *store.Org
		Servers []store.ServerRow
		Pager   pager
	}
	title := "Servers"
	if org != "" {
		o, err := d.Store.OrgByID(r.Context(), c.Scope, org)
		if err != nil {
			fail(w, err)
			return
		}
		data.Org, title = &o, o.ID+" · "+o.Name
	}
	l, err := d.Store.Servers(r.Context(), c.Scope, org, pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	data.Servers, data.Pager = l, pg.links(r, len(l))
	d.render(w, "servers.tmpl", c, title, data)
}

func (d *Dashboard) server(w http.ResponseWriter, r *http.Request, c *caller) {
	org, name := r.PathValue("org"), r.PathValue("server")
	row, doc, err := d.Store.ServerView(r.Context(), c.Scope, org, name)
	if err != nil {
		fail(w, err)
		return
	}
	pg := newPager(r)
	hist, err := d.Store.ServerHistory(r.Context(), c.Scope, org, name, pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	var rows template.HTML
	if doc != nil {
		rows = attackerRows(doc.Attackers)
	}
	d.render(w, "server.tmpl", c, org+" / "+name, struct {
		Row          store.ServerRow
		Doc          *finding.Server
		AttackerRows template.HTML
		History      []store.RunRow
		Pager        pager
	}{row, doc, rows, hist, pg.links(r, len(hist))})
}

// attackerRows is the rows of a server page's attacker table. A server
// has tens of attackers, and html/template's reflective escaping of each
// cell was most of the page's cost; like the chart, the rows are written
// here, every value escaped for where it goes.
func attackerRows(as []finding.Attacker) template.HTML {
	var b strings.Builder
	b.Grow(len(as) * 256)
	esc := template.HTMLEscapeString
	for _, a := range as {
		b.WriteString(`<tr><td class="mono"><a href="/indicators/ip?v=`)
		b.WriteString(esc(url.QueryEscape(a.IP)))
		b.WriteString(`">`)
		b.WriteString(esc(a.IP))
		b.WriteString(`</a></td><td class="mono">`)
		for _, ua := range a.UserAgents {
			b.WriteString("<div>")
			b.WriteString(esc(vis(ua)))
			b.WriteString("</div>")
		}
		b.WriteString(`</td><td class="mono">`)
		b.WriteString(fmtTime(a.FirstSeen))
		b.WriteString(`</td><td class="mono">`)
		b.WriteString(fmtTime(a.LastSeen))
		b.WriteString(`</td><td>`)
		b.WriteString(esc(string(a.MaxStage)))
		b.WriteString("</td></tr>")
	}
	return template.HTML(b.String())
}

// card serves the HTML report's own page for the server's current hunt:
// the same server card, not a second rendering of it. The report page
// carries its own CSP (by hash of its inline style and script).
func (d *Dashboard) card(w http.ResponseWriter, r *http.Request, c *caller) {
	_, doc, err := d.Store.Server(r.Context(), c.Scope, r.PathValue("org"), r.PathValue("server"))
	if err == nil && doc == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := report.Render(&b, &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt serve", Servers: []finding.Server{*doc}}, "html", report.Options{}); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (d *Dashboard) indicators(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	l, err := d.Store.CrossIndicators(r.Context(), c.Scope, r.URL.Query().Get("kind"), pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	d.render(w, "indicators.tmpl", c, "Cross-customer indicators", struct {
		Indicators []store.Indicator
		Pager      pager
	}{l, pg.links(r, len(l))})
}

func (d *Dashboard) sightings(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	kind, v := r.PathValue("kind"), r.URL.Query().Get("v")
	l, err := d.Store.Sightings(r.Context(), c.Scope, kind, v, pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	d.render(w, "sightings.tmpl", c, "Where it was seen", struct {
		Kind, Value string
		Sightings   []store.IndicatorSighting
		Pager       pager
	}{kind, v, l, pg.links(r, len(l))})
}

func (d *Dashboard) alerts(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	l, err := d.Store.Alerts(r.Context(), c.Scope, store.AlertFilter{Kind: r.URL.Query().Get("kind"), Offset: pg.offset(), Limit: pageSize})
	if err != nil {
		fail(w, err)
		return
	}
	d.render(w, "alerts.tmpl", c, "Alerts", struct {
		Alerts alertList
		Pager  pager
	}{alertList{l, c.CSRF}, pg.links(r, len(l))})
}

func (d *Dashboard) ack(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	if err := d.Store.Ack(r.Context(), c.Scope, id, c.User.Name, d.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.Error(w, "no such alert to acknowledge in your scope", http.StatusForbidden)
			return
		}
		fail(w, err)
		return
	}
	d.Store.Audit(r.Context(), store.AuditEntry{Time: d.now(), Actor: c.User.Name, Action: "alert.ack", Detail: id})
	http.Redirect(w, r, "/alerts#alert-"+id, http.StatusSeeOther)
}

func (d *Dashboard) search(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	q := r.URL.Query().Get("q")
	l, err := d.Store.Search(r.Context(), c.Scope, q, pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	p := struct {
		Hits  []store.Hit
		Pager pager
	}{l, pg.links(r, len(l))}
	d.render(w, "search.tmpl", c, "Search", p)
}

type orgAdmin struct {
	Org    store.Org
	Tokens []store.Token
}

func (d *Dashboard) admin(w http.ResponseWriter, r *http.Request, c *caller) {
	d.adminPage(w, r, c, "")
}

func (d *Dashboard) adminPage(w http.ResponseWriter, r *http.Request, c *caller, newToken string) {
	ctx := r.Context()
	orgs, err := d.Store.Orgs(ctx, store.All)
	if err != nil {
		fail(w, err)
		return
	}
	var oa []orgAdmin
	for _, o := range orgs {
		t, _ := d.Store.Tokens(ctx, o.ID)
		oa = append(oa, orgAdmin{o, t})
	}
	users, _ := d.Store.Users(ctx)
	audit, _ := d.Store.AuditLog(ctx, 0, 100)
	d.render(w, "admin.tmpl", c, "Administration", struct {
		Orgs     []orgAdmin
		Users    []store.User
		Audit    []store.AuditEntry
		NewToken string
	}{oa, users, audit, newToken})
}

func (d *Dashboard) audit(ctx context.Context, c *caller, action, detail string) {
	d.Store.Audit(ctx, store.AuditEntry{Time: d.now(), Actor: c.User.Name, Action: action, Detail: detail})
}

func (d *Dashboard) adminOrg(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PostFormValue("id")
	if !fleet.ValidID(id) {
		http.Error(w, "organisation id: letters, digits or ._:-", http.StatusBadRequest)
		return
	}
	if err := d.Store.CreateOrg(r.Context(), store.Org{ID: id, Name: r.PostFormValue("name"), Sector: r.PostFormValue("sector")}, d.now()); err != nil {
		http.Error(w, "organisation not created: "+err.Error(), http.StatusBadRequest)
		return
	}
	d.audit(r.Context(), c, "org.create", id)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (d *Dashboard) adminUser(w http.ResponseWriter, r *http.Request, c *caller) {
	u := store.User{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"), Org: r.PostFormValue("org")}
	if !fleet.ValidID(u.Name) || !auth.ValidRole(u.Role) || (u.Role == auth.RoleViewer) != (u.Org != "") {
		http.Error(w, "user: a name, a role (admin, analyst, viewer), and an organisation for viewers only", http.StatusBadRequest)
		return
	}
	h, err := auth.HashPassword(r.PostFormValue("password"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	u.Hash = h
	if err := d.Store.CreateUser(r.Context(), u, d.now()); err != nil {
		http.Error(w, "user not created: "+err.Error(), http.StatusBadRequest)
		return
	}
	d.audit(r.Context(), c, "user.create", u.Name+" ("+u.Role+" "+u.Org+")")
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (d *Dashboard) adminToken(w http.ResponseWriter, r *http.Request, c *caller) {
	org := r.PostFormValue("org")
	if _, err := d.Store.OrgByID(r.Context(), store.All, org); err != nil {
		http.Error(w, "no such organisation", http.StatusBadRequest)
		return
	}
	id, secret, err := d.Store.CreateToken(r.Context(), org, d.now())
	if err != nil {
		fail(w, err)
		return
	}
	d.audit(r.Context(), c, "token.create", org+" "+id)
	d.adminPage(w, r, c, secret)
}

func (d *Dashboard) adminRevoke(w http.ResponseWriter, r *http.Request, c *caller) {
	id := r.PathValue("id")
	if err := d.Store.RevokeToken(r.Context(), id, d.now()); err != nil {
		fail(w, err)
		return
	}
	d.audit(r.Context(), c, "token.revoke", id)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (d *Dashboard) apiServers(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	l, err := d.Store.Servers(r.Context(), c.Scope, r.PathValue("org"), pg.offset(), pageSize)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, l)
}

func (d *Dashboard) apiServer(w http.ResponseWriter, r *http.Request, c *caller) {
	row, doc, err := d.Store.Server(r.Context(), c.Scope, r.PathValue("org"), r.PathValue("server"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, struct {
		store.ServerRow
		Current *finding.Server `json:"current,omitempty"`
	}{row, doc})
}

func (d *Dashboard) apiAlerts(w http.ResponseWriter, r *http.Request, c *caller) {
	pg := newPager(r)
	l, err := d.Store.Alerts(r.Context(), c.Scope, store.AlertFilter{Offset: pg.offset(), Limit: pageSize})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, l)
}

// Because the chart is drawn on the server as inline SVG, it needs no
// script (the CSP allows none), loads nothing and works without JS;
// a vendored chart library would add script, a CSP exception and code to
// keep up to date, for hover effects the <title> tooltips give anyway.
func chart(acts []store.HourActivity, alerts []store.AlertMark, end time.Time, hours int) template.HTML {
	const W, H, pad = 1200, 160, 24
	start := end.Add(-time.Duration(hours) * time.Hour)
	maxOrgs := 1
	for _, a := range acts {
		maxOrgs = max(maxOrgs, a.Orgs)
	}
	bw := float64(W-2*pad) / float64(hours)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="organisations touched per hour">`, W, H+20)
	for _, a := range acts {
		i := a.Hour.Sub(start).Hours()
		if i < 0 || i >= float64(hours) {
			continue
		}
		h := float64(H-pad) * float64(a.Orgs) / float64(maxOrgs)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.2f" height="%.1f"><title>%s UTC: %d organisations, %d servers; %s</title></rect>`,
			float64(pad)+i*bw, float64(H)-h, max(bw-0.3, 0.5), h, a.Hour.Format("2006-01-02 15:00"), a.Orgs, a.Servers, template.HTMLEscapeString(kinds(a.ByKind)))
	}
	for _, al := range alerts {
		i := al.Hour.Sub(start).Hours()
		if i < 0 || i >= float64(hours) {
			continue
		}
		title := al.Title
		if al.N > 1 {
			title = fmt.Sprintf("%d alerts, among them: %s", al.N, al.Title)
		}
		fmt.Fprintf(&b, `<rect class="alert" x="%.1f" y="%d" width="%.2f" height="6"><title>%s</title></rect>`, float64(pad)+i*bw, H+2, max(bw, 2), template.HTMLEscapeString(vis(title)))
	}
	for day := start.Truncate(24 * time.Hour).Add(24 * time.Hour); day.Before(end); day = day.Add(48 * time.Hour) {
		x := float64(pad) + day.Sub(start).Hours()*bw
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`, x, H+18, day.Format("01-02"))
	}
	fmt.Fprintf(&b, `<text x="0" y="%d">%d</text></svg>`, pad, maxOrgs)
	return template.HTML(b.String())
}

func kinds(m map[string]int) string {
	var parts []string
	for _, k := range []string{"reconnaissance", "attempt", "exploitation", "persistence", "collection", "execution"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}
