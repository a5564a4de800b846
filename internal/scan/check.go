package scan

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
)

// Public check requests, as the tools that defined them send them.
const (
	// Microsoft's nmap script for CVE-2021-26855: the front end names the
	// back end it computed from the cookie in X-CalculatedBETarget.
	proxyLogonPath   = "/owa/auth/x.js"
	proxyLogonCookie = "X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;"
	// Kevin Beaumont's ProxyShell check: 302 when the path confusion
	// reaches OWA on the back end, 400 when fixed.
	proxyShellPath = "/autodiscover/autodiscover.json?@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com"
	// A URL naming autodiscover and powershell, as CronUp's ProxyNotShell
	// check sends: the EOMTv2 rule aborts it; otherwise it reaches OWA at
	// most.
	mitigationPath = "/autodiscover/autodiscover.json?a@test.com/owa/&Email=autodiscover/autodiscover.json?a@test.com&Protocol=XYZ&FooProtocol=Powershell"
	logonPath      = "/owa/auth/logon.aspx"
	manifestPath   = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
)

// run is one target's scan.
type run struct {
	c   *conn
	res *Result
	// build as known so far
	build    exchange.Build
	hasBuild bool
	logon    LogonInfo
	probes   map[string]string
	mitig    map[string]bool
	drops    []drop
}

func (r *run) evidence(check, req string, a *answer, said string) {
	if len(r.res.Evidence) >= 32 {
		return
	}
	r.res.Evidence = append(r.res.Evidence, Evidence{Check: check, Request: req, Status: a.status, Said: said})
}

func (r *run) setBuild(b exchange.Build, source string) {
	if r.hasBuild && r.build.Rev >= 0 {
		return
	}
	r.build, r.hasBuild = b, true
	if r.res.Exchange == nil {
		r.res.Exchange = &Exchange{}
	}
	r.res.Exchange.Build, r.res.Exchange.Exact, r.res.Exchange.Source = b.String(), b.Rev >= 0, source
}

// scanTarget runs the checks on one target.
func (s *Scanner) scanTarget(ctx context.Context, t *Target, res *Result) {
	c := s.newConn(t)
	c.host = s.hosts.get(t.Host)
	defer s.hosts.put(t.Host, c.host)
	defer c.close()
	r := &run{c: c, res: res, probes: map[string]string{}, mitig: map[string]bool{}}
	defer func() { res.Requests, res.IP = c.reqs, c.addr() }()

	if !r.detect(ctx) {
		return
	}
	// The ProxyShell check first: a vulnerable server's redirect names the
	// full build, which makes the version requests moot. A check tells
	// nothing about a chain the exact build already fixes, so it is not
	// sent: less load on the target, and no log line that looks like an
	// attack.
	if r.frontEnd() && s.opt.ProxyShellProbe && !r.fixed("proxyshell") {
		r.proxyShell(ctx)
	}
	if !r.hasBuild || r.build.Rev < 0 {
		r.versionHeaders(ctx)
	}
	if r.hasBuild && r.build.Rev < 0 && s.opt.SUProbe > 0 {
		r.suProbe(ctx)
	}
	if r.frontEnd() && s.opt.ProxyLogonProbe && !r.fixed("proxylogon") {
		r.proxyLogon(ctx)
	}
	if r.frontEnd() && s.opt.MitigationProbe && !(r.fixed("proxynotshell") && r.fixed("owassrf")) {
		r.mitigationProbe(ctx)
	}
	r.settleDrops(ctx)
	if s.opt.Webshells {
		r.webshells(ctx)
	}
	if c.errs >= s.opt.ErrorBudget {
		res.Status, res.Error = StatusError, errBudget.Error()
	}
	r.verdicts()
}

// fixed reports whether the exact build is known to fix chain.
func (r *run) fixed(chain string) bool {
	if !r.hasBuild || r.build.Rev < 0 {
		return false
	}
	st, _ := r.c.s.data.Builds.Status(r.build, chain)
	return st == exchange.StatusPatched
}

// frontEnd: 2013 and later (or not known), where the SSRF code paths are.
func (r *run) frontEnd() bool { return !r.hasBuild || r.build.Major >= 15 }

// detect fetches the logon page: whether this is Exchange, and the build
// its resource paths name.
func (r *run) detect(ctx context.Context) bool {
	p := logonPath
	var a *answer
	for hop := 0; ; hop++ {
		a = r.c.do(ctx, p, nil)
		if a.err != nil {
			r.res.Status, r.res.Error = StatusUnreachable, describe(a.err)
			if strings.Contains(a.err.Error(), "server gave HTTP response to HTTPS client") && r.c.t.Scheme == "https" {
				// A plain-HTTP server on the port: try again in its language.
				// The result keeps the target as given, so --resume finds it.
				r.c.t.Scheme = "http"
				r.c.base = r.c.t.URL()
				r.c.errs--
				r.res.Evidence = append(r.res.Evidence, Evidence{Check: "detect", Request: "GET " + p, Said: "plain HTTP on this port; scanned over http://"})
				continue
			}
			return false
		}
		loc := a.get("Location")
		if a.status/100 != 3 || loc == "" || hop >= maxRedirects {
			break
		}
		next, ok := r.sameHost(loc)
		if !ok {
			r.evidence("detect", "GET "+p, a, "redirect off the target not followed: "+clip(loc))
			break
		}
		p = next
	}
	r.res.Status = StatusNotExchange
	r.logon = ParseLogon(a.body)
	fe, owa := a.get("X-FEServer"), a.get("X-OWA-Version")
	if r.logon.Markers >= 2 || owa != "" {
		r.res.Status = StatusExchange
		r.res.Exchange = &Exchange{Server: clip(fe)}
		said := fmt.Sprintf("OWA logon page (%d Exchange markers)", r.logon.Markers)
		if r.logon.HasBuild {
			said += "; resources under " + clip(r.logon.Path)
			r.setBuild(r.logon.Build, "logon-page")
		}
		r.evidence("detect", "GET "+p, a, said)
	}
	if b, ok := ParseOWAVersion(owa); ok {
		r.evidence("version", "GET "+p, a, "X-OWA-Version: "+b.String())
		r.setBuild(b, "x-owa-version")
	}
	return r.res.Status == StatusExchange
}

// sameHost resolves a redirect and accepts it only on the same scheme,
// host and port.
func (r *run) sameHost(loc string) (string, bool) {
	base, _ := url.Parse(r.c.base + "/")
	u, err := base.Parse(loc)
	if err != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) {
		return "", false
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, true
}

// versionHeaders asks the pages that carry the full build: /owa/service
// (X-OWA-Version) and the export tool's manifest.
func (r *run) versionHeaders(ctx context.Context) {
	if r.hasBuild && r.build.Major < 15 {
		return
	}
	a := r.c.do(ctx, "/owa/service", nil)
	if b, ok := ParseOWAVersion(a.get("X-OWA-Version")); ok && a.err == nil {
		r.evidence("version", "GET /owa/service", a, "X-OWA-Version: "+b.String())
		r.setBuild(b, "x-owa-version")
		return
	}
	a = r.c.do(ctx, manifestPath, nil)
	if a.err == nil && a.status == 200 {
		if b, ok := ParseManifest(a.body); ok && (!r.hasBuild || b.SameCU(r.build)) {
			r.evidence("version", "GET "+manifestPath, a, "export tool manifest version "+b.String())
			r.setBuild(b, "exporttool-manifest")
		}
	}
}

// suProbe tries the versioned ECP folder of each known update of the CU,
// newest first, within the budget.
func (r *run) suProbe(ctx context.Context) {
	var cands []exchange.Build
	for _, rel := range r.c.s.data.Builds.Releases() {
		if rel.Build.SameCU(r.build) {
			cands = append(cands, rel.Build)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Compare(cands[j]) > 0 })
	for i, b := range cands {
		if i >= r.c.s.opt.SUProbe {
			break
		}
		p := "/ecp/" + b.String() + "/exporttool/microsoft.exchange.ediscovery.exporttool.application"
		a := r.c.do(ctx, p, nil)
		if a.err != nil {
			return
		}
		if a.status == 200 {
			if mb, ok := ParseManifest(a.body); ok && mb.Compare(b) == 0 {
				r.evidence("version", "GET "+p, a, "versioned ECP folder exists for "+b.String())
				r.setBuild(b, "versioned-ecp")
				return
			}
		}
	}
}

// proxyLogon sends Microsoft's nmap check: vulnerable when the front end
// computed localhost as the back end from the cookie.
func (r *run) proxyLogon(ctx context.Context) {
	req := "GET " + proxyLogonPath + " (Cookie: X-AnonResource=true; X-AnonResource-Backend=localhost/...; X-BEResource=localhost/...)"
	a := r.c.probe(ctx, proxyLogonPath, map[string]string{"Cookie": proxyLogonCookie})
	switch {
	case a.err != nil && a.aborted:
		r.probes["proxylogon-ssrf"] = ProbeError
		r.drops = append(r.drops, drop{MitigationEOMT, "proxylogon-ssrf", req, a,
			"connection dropped without an answer while other requests are answered: the EOMT URL-rewrite rule"})
	case a.err != nil:
		r.probes["proxylogon-ssrf"] = ProbeError
	case strings.Contains(strings.ToLower(a.get("X-CalculatedBETarget")), "localhost"):
		r.probes["proxylogon-ssrf"] = ProbeVulnerable
		r.evidence("proxylogon-ssrf", req, a, "X-CalculatedBETarget: "+clip(a.get("X-CalculatedBETarget")))
	default:
		r.probes["proxylogon-ssrf"] = ProbeNotVulnerable
		r.evidence("proxylogon-ssrf", req, a, "no X-CalculatedBETarget naming localhost")
	}
}

// proxyShell sends Kevin Beaumont's check.
func (r *run) proxyShell(ctx context.Context) {
	req := "GET " + proxyShellPath
	a := r.c.do(ctx, proxyShellPath, nil)
	switch {
	case a.err != nil:
		r.probes["proxyshell-ssrf"] = ProbeError
	case a.status == 302:
		r.probes["proxyshell-ssrf"] = ProbeVulnerable
		loc := a.get("Location")
		r.evidence("proxyshell-ssrf", req, a, "302 to "+clip(loc)+": the back end's OWA answered")
		if b, ok := owaErrorVersion(loc); ok && (!r.hasBuild || b.SameCU(r.build)) {
			r.evidence("version", req, a, "owaVer in the error redirect: "+b.String())
			r.setBuild(b, "owa-error-redirect")
		}
	case a.status == 400:
		r.probes["proxyshell-ssrf"] = ProbeNotVulnerable
		r.evidence("proxyshell-ssrf", req, a, "400: the path confusion is refused")
	default:
		r.probes["proxyshell-ssrf"] = ProbeUnknown
		r.evidence("proxyshell-ssrf", req, a, "neither 302 nor 400")
	}
}

// mitigationProbe looks for the EOMTv2 (ProxyNotShell) rewrite rule.
func (r *run) mitigationProbe(ctx context.Context) {
	a := r.c.probe(ctx, mitigationPath, nil)
	if a.err != nil && a.aborted {
		r.drops = append(r.drops, drop{MitigationEOMTv2, "", "GET " + mitigationPath, a,
			"connection dropped for a URL naming autodiscover and powershell: the EOMTv2 URL-rewrite rule"})
	}
}

// drop is a check whose connection was dropped without an answer.
type drop struct {
	mitigation, probe, req string
	a                      *answer
	said                   string
}

// settleDrops tells rewrite rules from a dead server: when an ordinary
// request after the dropped checks is answered, each drop was a rule.
func (r *run) settleDrops(ctx context.Context) {
	if len(r.drops) == 0 {
		return
	}
	// The drops are not held against the budget while the control runs.
	r.c.errs -= len(r.drops)
	if !r.control(ctx) {
		r.c.errs += len(r.drops)
		return
	}
	for _, d := range r.drops {
		r.mitig[d.mitigation] = true
		if d.probe != "" {
			r.probes[d.probe] = ProbeAborted
		}
		check := d.probe
		if check == "" {
			check = "mitigation"
		}
		r.evidence(check, d.req, d.a, d.said)
	}
}

// control checks that the server still answers an ordinary request, so a
// dropped probe means a rule, not a dead server.
func (r *run) control(ctx context.Context) bool {
	return r.c.do(ctx, logonPath, nil).err == nil
}

// webshells requests each known web-shell path, after a random name in
// its folder: a shell counts only when it answers 200 and unlike the
// random name.
func (r *run) webshells(ctx context.Context) {
	type base struct {
		status int
		body   []byte
		name   string
	}
	baselines := map[string]*base{}
	for _, p := range r.c.s.data.Shells {
		dir := path.Dir(p) + "/"
		b := baselines[dir]
		if b == nil {
			name := randomName() + ".aspx"
			a := r.c.do(ctx, dir+name, nil)
			if a.err != nil {
				if r.c.errs >= r.c.s.opt.ErrorBudget {
					return
				}
				continue
			}
			b = &base{status: a.status, body: a.body, name: name}
			baselines[dir] = b
		}
		a := r.c.do(ctx, p, nil)
		if a.err != nil {
			if r.c.errs >= r.c.s.opt.ErrorBudget {
				return
			}
			continue
		}
		if a.status != 200 {
			continue
		}
		if b.status == 200 && sameAnswer(b.body, b.name, a.body, path.Base(p)) {
			continue
		}
		w := Webshell{Path: p, Status: a.status, Length: len(a.body), Baseline: fmt.Sprintf("%s%s answered %d", dir, b.name, b.status)}
		r.res.Webshells = append(r.res.Webshells, w)
		r.evidence("webshell", "GET "+p, a, fmt.Sprintf("200 with %d bytes; %s", len(a.body), w.Baseline))
	}
}

// sameAnswer compares two bodies, each with the requested name blanked,
// since soft-404 pages often repeat it.
func sameAnswer(a []byte, an string, b []byte, bn string) bool {
	x := strings.ReplaceAll(string(a), an, "")
	y := strings.ReplaceAll(string(b), bn, "")
	return x == y
}

func randomName() string {
	var b [12]byte
	rand.Read(b[:])
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

// verdicts turns the build and the probes into one verdict per chain.
func (r *run) verdicts() {
	if r.res.Status != StatusExchange && r.res.Status != StatusError {
		return
	}
	if r.res.Exchange == nil {
		return
	}
	t := r.c.s.data.Builds
	if r.hasBuild {
		if rel, exact, ok := t.Lookup(r.build); ok {
			r.res.Exchange.Product = rel.Product
			if exact || r.build.Rev < 0 {
				r.res.Exchange.Update = rel.Update
				if r.build.Rev < 0 {
					r.res.Exchange.Update = strings.Fields(rel.Update)[0]
				}
			}
		}
	}
	for _, ch := range exchange.Chains {
		v := Chain{Chain: ch.Name, CVEs: ch.CVEs}
		if r.hasBuild {
			v.CVEs = exchange.CVEs(r.build, ch.Name)
		}
		if !r.hasBuild {
			v.Verdict, v.Reason = VerdictIndeterminate, "build unknown"
		} else {
			st, note := t.Status(r.build, ch.Name)
			v.Reason = "build " + r.build.String() + ": " + note
			v.Verdict = VerdictOf(st)
		}
		probe := map[string]string{"proxylogon": "proxylogon-ssrf", "proxyshell": "proxyshell-ssrf"}[ch.Name]
		if probe != "" && r.probes[probe] == ProbeVulnerable {
			if v.Verdict != VerdictVulnerable {
				v.Reason = "the " + probe + " check succeeded (" + v.Reason + ")"
			}
			v.Verdict = VerdictVulnerable
		}
		switch ch.Name {
		case "proxylogon":
			v.Mitigated = r.mitig[MitigationEOMT]
		case "proxynotshell", "owassrf":
			v.Mitigated = r.mitig[MitigationEOMTv2]
		}
		r.res.Chains = append(r.res.Chains, v)
	}
	names := make([]string, 0, len(r.probes))
	for n := range r.probes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.res.Probes = append(r.res.Probes, Probe{Name: n, Result: r.probes[n]})
	}
	for _, m := range []string{MitigationEOMT, MitigationEOMTv2} {
		if r.mitig[m] {
			r.res.Mitigations = append(r.res.Mitigations, m)
		}
	}
}

// clip keeps server-controlled text short and printable in results.
func clip(s string) string {
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return strconv.QuoteToGraphic(s)[1 : len(strconv.QuoteToGraphic(s))-1]
}
