package decoy

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// exchange is one request being answered: what the decoy says and what it
// writes to its logs.
type exchangeCtx struct {
	t    *Target
	p    *Profile
	w    http.ResponseWriter
	r    *http.Request
	path string // lower-cased, decoded
	host string // Host header, or the listener's address

	status  int
	written int
	aborted bool
	size    int // request line and headers, in bytes

	// HttpProxy row: protocol "" means the front end answered itself.
	proto                  string
	anchor, hint, beTarget string
	beStatus               int
	errCode, genericErr    string
	class, kind, detail    string
}

// Response headers every ASP.NET answer carries.
func (x *exchangeCtx) baseHeaders() {
	h := x.w.Header()
	h["Server"] = []string{"Microsoft-IIS/" + x.p.iisVersion()}
	h["X-Powered-By"] = []string{"ASP.NET"}
	h["Request-Id"] = []string{guidString(newGUID())}
}

func (x *exchangeCtx) feServer() {
	if x.p.frontEnd() {
		x.w.Header()["X-FEServer"] = []string{x.p.ServerName}
	}
}

func (x *exchangeCtx) owaVersion() {
	if x.p.revealHeader() {
		x.w.Header()["X-OWA-Version"] = []string{x.p.Served.Build.String()}
	}
}

func (x *exchangeCtx) reply(status int, ctype string, body []byte) {
	if ctype != "" {
		x.w.Header()["Content-Type"] = []string{ctype}
	}
	x.w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.w.WriteHeader(status)
	x.status = status
	if x.r.Method != http.MethodHead {
		n, _ := x.w.Write(body)
		x.written = n
	}
}

// tooLong answers a request over HTTP.sys's size limit as HTTP.sys does
// (400, "Request Too Long", from the kernel, so without IIS's or ASP.NET's
// headers), and marks it for the honeypot's logs: attackers send such
// requests to overflow parsers and to hide payloads from log readers.
func (x *exchangeCtx) tooLong() {
	x.class, x.kind = classProbe, "oversized-request"
	x.detail = "request of " + strconv.Itoa(x.size) + " bytes (URI " + strconv.Itoa(len(x.r.RequestURI)) + " bytes) refused as HTTP.sys refuses it"
	h := x.w.Header()
	h["Server"] = []string{"Microsoft-HTTPAPI/2.0"}
	h["Connection"] = []string{"close"}
	x.reply(http.StatusBadRequest, "text/html; charset=us-ascii", []byte("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n<HTML><HEAD><TITLE>Bad Request</TITLE>\r\n<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n<BODY><h2>Bad Request - Request Too Long</h2>\r\n<hr><p>HTTP Error 400. The size of the request headers is too long.</p>\r\n</BODY></HTML>\r\n"))
}

// proxied answers with what the back end said, with the headers an
// Exchange 2013+ front end adds to proxied answers: the back end's status
// (X-BackEndHttpStatus) and name (X-BEServer, X-DiagInfo). Sources:
// Microsoft, "Instrumenting client requests for EWS and REST in Exchange";
// msxfaq.de, "Exchange HTTP Header" (captured answers).
func (x *exchangeCtx) proxied(status int, ctype string, body []byte) {
	x.backEndHeaders(status)
	x.reply(status, ctype, body)
	x.beStatus = status
}

func (x *exchangeCtx) proxiedRedirect(loc string) {
	x.backEndHeaders(http.StatusFound)
	x.redirect(http.StatusFound, loc)
	x.beStatus = http.StatusFound
}

func (x *exchangeCtx) backEndHeaders(status int) {
	if !x.p.frontEnd() {
		return
	}
	h := x.w.Header()
	h["X-BackEndHttpStatus"] = []string{strconv.Itoa(status)}
	h["X-BEServer"] = []string{strings.ToUpper(x.p.ServerName)}
	h["X-DiagInfo"] = []string{strings.ToUpper(x.p.ServerName)}
	x.feServer()
}

// badRequest is the autodiscover.json endpoint's one 400 answer, sent
// alike for a malformed request and for the ProxyShell check on a build
// that fixes CVE-2021-34473: a fixed front end rejects the Email value in
// the same handler. The status is what the public checks read (Beaumont's
// NSE, nuclei CVE-2021-34473: 400 = not vulnerable); the JSON body is the
// handler's error shape (msxfaq.de, "Autodiscover Redirect"); that the
// fixed path answers with this same body is assumed, not captured.
func (x *exchangeCtx) badRequest() {
	x.feServer()
	x.reply(http.StatusBadRequest, "application/json; charset=utf-8", []byte(`{"ErrorCode":"InvalidRequest","ErrorMessage":"The request is invalid."}`))
}

func (x *exchangeCtx) redirect(status int, loc string) {
	x.w.Header()["Location"] = []string{loc}
	body := "<html><head><title>Object moved</title></head><body>\r\n<h2>Object moved to <a href=\"" + htmlEscape(loc) + "\">here</a>.</h2>\r\n</body></html>\r\n"
	x.reply(status, "text/html; charset=utf-8", []byte(body))
}

// abort drops the connection without an answer, as IIS URL Rewrite's
// AbortRequest action does.
func (x *exchangeCtx) abort() {
	x.aborted = true
	x.status = 0
	panic(http.ErrAbortHandler)
}

func (x *exchangeCtx) unauthorized(schemes ...string) {
	h := x.w.Header()
	for _, s := range schemes {
		if s == "Basic" {
			s = `Basic realm="` + x.host + `"`
		}
		h.Add("WWW-Authenticate", s)
	}
	x.reply(http.StatusUnauthorized, "text/html", nil)
}

func (x *exchangeCtx) notFound() {
	if x.p.Soft404 {
		x.reply(http.StatusOK, "text/html", soft404Page)
		return
	}
	x.reply(http.StatusNotFound, "text/html", notFound)
}

func (x *exchangeCtx) logonRedirect(target string) {
	x.owaVersion()
	u := "https://" + x.host + target
	x.redirect(http.StatusFound, "https://"+x.host+"/owa/auth/logon.aspx?url="+strings.ToLower(url.QueryEscape(u))+"&reason=0")
}

// serve answers one request.
func (x *exchangeCtx) serve() {
	x.baseHeaders()
	p, path := x.p, x.path
	cookies := parseCookies(x.r.Header.Get("Cookie"))

	if p.mitigated() {
		x.eomt(cookies)
	}
	if sh := x.shell(); sh != nil {
		x.serveShell(sh)
		return
	}
	if p.frontEnd() && (cookies.get("X-BEResource") != "" || cookies.get("X-AnonResource-Backend") != "") {
		if x.proxyLogon(cookies) {
			return
		}
	}
	switch {
	case path == "/" || path == "/iisstart.htm":
		x.reply(http.StatusOK, "text/html", p.iisStart())
	case path == "/owa":
		x.redirect(http.StatusMovedPermanently, "https://"+x.host+"/owa/")
	case path == "/owa/auth/logon.aspx":
		x.owaVersion()
		x.w.Header()["X-Frame-Options"] = []string{"SAMEORIGIN"}
		x.reply(http.StatusOK, "text/html; charset=utf-8", p.logonPage())
	case strings.HasPrefix(path, strings.ToLower(p.owaFolder())):
		x.static()
	case strings.HasPrefix(path, "/owa/auth/"):
		x.notFound()
	case strings.HasPrefix(path, "/owa/"):
		x.proto = "Owa"
		x.feServer()
		x.logonRedirect(x.r.URL.Path)
	case strings.HasPrefix(path, "/ecp/") && strings.Contains(path, "/exporttool/"):
		x.exportTool()
	case path == "/ecp" || strings.HasPrefix(path, "/ecp/"):
		if !p.frontEnd() {
			x.logonRedirect("/ecp/")
			return
		}
		x.proto = "Ecp"
		x.feServer()
		x.logonRedirect("/ecp/")
	case path == "/autodiscover/autodiscover.json" || strings.HasPrefix(path, "/autodiscover/autodiscover.json/"):
		x.autodiscoverJSON(cookies)
	case strings.HasPrefix(path, "/autodiscover/"):
		x.proto = "Autodiscover"
		x.feServer()
		if p.frontEnd() && p.Served.Date.After(julyFirst2021) {
			x.owaVersion()
		}
		x.ntlmOr("Negotiate", "NTLM", "Basic")
	case strings.HasPrefix(path, "/ews/"):
		x.proto = "Ews"
		x.feServer()
		x.ntlmOr("Negotiate", "NTLM")
	case strings.HasPrefix(path, "/mapi/"):
		if !p.frontEnd() {
			x.notFound()
			return
		}
		x.proto = "Mapi"
		x.feServer()
		x.ntlmOr("Negotiate", "NTLM")
	case path == "/rpc/rpcproxy.dll" || strings.HasPrefix(path, "/rpc/"):
		x.proto = "RpcHttp"
		x.feServer()
		x.ntlmOr("Negotiate", "NTLM", "Basic")
	case path == "/oab" || strings.HasPrefix(path, "/oab/"):
		x.proto = "Oab"
		x.feServer()
		x.ntlmOr("Negotiate", "NTLM")
	case path == "/powershell" || strings.HasPrefix(path, "/powershell/"):
		x.proto = "PowerShell"
		x.feServer()
		x.ntlmOr("Negotiate")
	case path == "/microsoft-server-activesync" || strings.HasPrefix(path, "/microsoft-server-activesync/"):
		x.proto = "Eas"
		x.feServer()
		x.unauthorized("Basic")
	case path == "/aspnet_client/" || path == "/aspnet_client/system_web/":
		x.reply(http.StatusForbidden, "text/html", forbidden)
	default:
		x.notFound()
	}
}

// julyFirst2021: builds from July 2021 on add X-OWA-Version to
// Autodiscover answers.
var julyFirst2021 = time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)

// static serves the logon page's versioned resources.
func (x *exchangeCtx) static() {
	name := x.path[strings.LastIndexByte(x.path, '/')+1:]
	switch {
	case strings.HasSuffix(name, ".css"):
		x.reply(http.StatusOK, "text/css", []byte("/* Copyright (c) Microsoft Corporation. All rights reserved. */\r\nbody{font-family:\"Segoe UI\",\"Segoe WP\",Tahoma,Arial,sans-serif}\r\n"))
	case strings.HasSuffix(name, ".js"):
		x.reply(http.StatusOK, "application/javascript", []byte("function clkLgn(){document.logonForm.submit();}\r\n"))
	case strings.HasSuffix(name, ".ico"), strings.HasSuffix(name, ".png"), strings.HasSuffix(name, ".gif"):
		x.reply(http.StatusOK, "image/x-icon", icon)
	default:
		x.notFound()
	}
}

var icon = []byte("\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00\x68\x04\x00\x00\x16\x00\x00\x00")

// exportTool serves the ClickOnce manifest under /ecp/Current/ and under
// the folder named after the exact build, as far as the profile reveals.
func (x *exchangeCtx) exportTool() {
	p := x.p
	x.class, x.kind = classProbe, "build-fingerprint"
	rest := strings.TrimPrefix(x.path, "/ecp/")
	dir, file, _ := strings.Cut(rest, "/exporttool/")
	ok := false
	switch {
	case dir == "current":
		ok = p.revealCurrent()
	case dir == strings.ToLower(p.Served.Build.String()):
		ok = p.revealVersioned()
	}
	if !ok || strings.Contains(dir, "/") {
		x.notFound()
		return
	}
	switch file {
	case "microsoft.exchange.ediscovery.exporttool.application":
		x.reply(http.StatusOK, "application/x-ms-application", p.manifest())
	case "":
		x.reply(http.StatusOK, "text/html", []byte("<html><head><title>exporttool</title></head><body></body></html>\r\n"))
	default:
		x.notFound()
	}
}

// eomt applies the EOMT (ProxyLogon) and EOMTv2 (ProxyNotShell) URL-rewrite
// rules: abort on the X-AnonResource-Backend cookie, on an X-BEResource
// cookie shaped host/path~n, and on any URL naming both autodiscover and
// powershell.
func (x *exchangeCtx) eomt(c cookieList) {
	if c.has("X-AnonResource-Backend") || eomtBEResource.MatchString(c.get("X-BEResource")) {
		x.class, x.kind, x.detail = classProbe, "proxylogon-ssrf", "aborted by the EOMT rewrite rule"
		if x.r.Method != http.MethodGet || !strings.HasPrefix(strings.ToLower(c.get("X-AnonResource-Backend")+c.get("X-BEResource")), "localhost") {
			x.class = classExploit
		}
		x.abort()
	}
	uri := x.r.RequestURI
	if d, err := url.PathUnescape(uri); err == nil {
		uri += d
	}
	uri = strings.ToLower(uri)
	if strings.Contains(uri, "autodiscover") && strings.Contains(uri, "powershell") {
		x.class, x.kind, x.detail = classExploit, "proxynotshell-ssrf", "aborted by the EOMTv2 rewrite rule"
		if x.r.Method == http.MethodGet {
			x.class = classProbe
		}
		x.abort()
	}
}

var eomtBEResource = regexp.MustCompile(`(.+)/(.+)~(.+)`)

// proxyLogon emulates CVE-2021-26855: the front end takes the back end
// from the X-BEResource or X-AnonResource-Backend cookie and names it in
// X-CalculatedBETarget. It returns false when the build is not exposed, so
// the request is answered as if the cookie were not there.
func (x *exchangeCtx) proxyLogon(c cookieList) bool {
	p := x.p
	raw, hint := c.get("X-BEResource"), "X-BEResource-Cookie"
	if a := c.get("X-AnonResource-Backend"); a != "" && (raw == "" || strings.EqualFold(c.get("X-AnonResource"), "true")) {
		raw, hint = a, "X-AnonResource-Backend-Cookie"
	}
	target := raw
	if i := strings.LastIndexByte(target, '~'); i >= 0 {
		target = target[:i]
	}
	host, bePath, _ := strings.Cut(target, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	hostOnly := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(hostOnly); err == nil {
		hostOnly = h
	}
	local := hostOnly == "localhost" || hostOnly == "127.0.0.1"
	x.class, x.kind = classExploit, "proxylogon-ssrf"
	if local && x.r.Method == http.MethodGet {
		x.class = classProbe
	}
	x.detail = "back end " + host
	x.proto = protoOf(x.path)
	x.anchor, x.hint = "ServerInfo~"+target, hint
	if !p.Open["CVE-2021-26855"] {
		x.detail += "; refused: the build is patched"
		x.errCode = "ServerNotFound"
		return false
	}
	h := x.w.Header()
	h["X-CalculatedBETarget"] = []string{hostOnly}
	x.feServer()
	x.beTarget = hostOnly
	if hostOnly != strings.ToLower(p.FQDN()) && hostOnly != strings.ToLower(p.ServerName) {
		// No back end answers there: the proxy fails authenticating to it.
		x.errCode = "ServerNotFound"
		x.genericErr = "System.Exception: NegotiateSecurityContext failed with for host '" + hostOnly + "' with status 'TargetUnknown'"
		x.reply(http.StatusInternalServerError, "text/html", []byte("<html><head><title>Exchange</title></head><body>"+htmlEscape(x.genericErr)+"</body></html>\r\n"))
		return true
	}
	// The exploit's back-end steps, answered without doing anything.
	be := "/" + strings.ToLower(bePath)
	x.detail += " path /" + bePath
	switch {
	case strings.HasPrefix(be, "/autodiscover/autodiscover.xml"):
		x.proxied(http.StatusOK, "text/xml; charset=utf-8", p.autodiscoverXML())
	case strings.HasPrefix(be, "/mapi/emsmdb"):
		x.proxied(http.StatusOK, "application/mapi-http", []byte("PROCESSING\r\nDONE\r\nX-ElapsedTime: 2\r\nX-StartTime: "+time.Now().UTC().Format(time.RFC1123)+"\r\n\r\n with SID S-1-5-21-2725560159-1428537199-2260736313-500 and MasterAccountSid S-1-5-21-2725560159-1428537199-2260736313-500\r\n"))
	case strings.HasPrefix(be, "/ecp/proxylogon.ecp"):
		h.Add("Set-Cookie", "ASP.NET_SessionId="+strings.ReplaceAll(guidString(newGUID()), "-", "")[:24]+"; path=/; secure; HttpOnly")
		h.Add("Set-Cookie", "msExchEcpCanary="+strings.ReplaceAll(guidString(newGUID()), "-", "")+"; path=/ecp")
		x.proxied(241, "text/html", nil)
	case strings.HasPrefix(be, "/ecp/ddi/ddiservice.svc"):
		x.proxied(http.StatusOK, "application/json; charset=utf-8", []byte(`{"d":{"__type":"JsonDictionaryOfanyType:#Microsoft.Exchange.Management.ControlPanel","ErrorRecords":[],"Output":[]}}`))
	case strings.HasPrefix(be, "/ews/"):
		x.proxied(http.StatusOK, "text/xml; charset=utf-8", []byte(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></s:Body></s:Envelope>`))
	default:
		x.proxied(http.StatusOK, "text/html", nil)
	}
	return true
}

// autodiscoverJSON emulates ProxyShell's path confusion (CVE-2021-34473):
// an Email parameter (or cookie) naming autodiscover.json itself makes a
// vulnerable front end drop the prefix and proxy the rest of the URL to
// the back end as SYSTEM.
func (x *exchangeCtx) autodiscoverJSON(c cookieList) {
	p := x.p
	if !p.frontEnd() {
		x.notFound()
		return
	}
	x.proto = "Autodiscover"
	x.feServer()
	q, err := url.QueryUnescape(x.r.URL.RawQuery)
	if err != nil {
		q = x.r.URL.RawQuery
	}
	lq := strings.ToLower(q)
	ssrf := strings.Contains(lq, "autodiscover/autodiscover.json") ||
		strings.Contains(strings.ToLower(c.get("Email")), "autodiscover/autodiscover.json")
	if !ssrf {
		if strings.Contains(lq, "email=") || strings.HasPrefix(x.path, "/autodiscover/autodiscover.json/v1.0/") {
			x.reply(http.StatusOK, "application/json; charset=utf-8", p.autodiscoverJSON(x.host))
			return
		}
		x.badRequest()
		return
	}
	// The back-end path: from the first '/' of the query to its end or
	// the next '?' or '&'.
	be := ""
	if i := strings.IndexByte(lq, '/'); i >= 0 {
		be = lq[i:]
		if j := strings.IndexAny(be, "?&"); j >= 0 {
			be = be[:j]
		}
	}
	x.class, x.kind, x.detail = classExploit, "proxyshell-ssrf", "back-end path "+be
	if x.r.Method == http.MethodGet && (strings.HasPrefix(be, "/owa") || strings.HasPrefix(be, "/mapi/nspi")) {
		x.class = classProbe
	}
	x.anchor, x.hint = "", "Url-Email"
	if !p.Open["CVE-2021-34473"] {
		x.detail += "; refused: the build fixes CVE-2021-34473"
		x.badRequest()
		return
	}
	x.w.Header()["X-CalculatedBETarget"] = []string{strings.ToLower(p.FQDN())}
	x.beTarget = strings.ToLower(p.FQDN())
	switch {
	case strings.HasPrefix(be, "/owa"):
		// OWA finds no mailbox for SYSTEM and sends the browser to its
		// error page; the address names the exception and the build.
		loc := "https://" + x.host + "/owa/auth/errorFE.aspx?httpCode=500&owaError=Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException&owaVer=" + p.Served.Build.String() + "&be=" + p.ServerName + "&ts=" + strconv.FormatInt(time.Now().UnixMilli()*10000+116444736000000000, 10)
		x.w.Header()["X-OWA-Error"] = []string{"Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException"}
		x.proxiedRedirect(loc)
	case strings.HasPrefix(be, "/mapi/nspi"):
		x.proxied(http.StatusOK, "text/html", p.mapiPage())
	case strings.HasPrefix(be, "/autodiscover/autodiscover.xml"):
		x.proxied(http.StatusOK, "text/xml; charset=utf-8", p.autodiscoverXML())
	case strings.HasPrefix(be, "/powershell"), strings.HasPrefix(be, "/ews/"), strings.HasPrefix(be, "/mapi/"):
		x.proxied(http.StatusOK, "text/html", nil)
	default:
		x.proxied(http.StatusNotFound, "text/html", notFound)
	}
}

// ntlmOr answers an NTLM negotiate message with a challenge that names the
// server (what tools read the internal FQDN from), else asks to log in.
func (x *exchangeCtx) ntlmOr(schemes ...string) {
	auth := x.r.Header.Get("Authorization")
	for _, pre := range []string{"NTLM ", "Negotiate "} {
		if msg, ok := strings.CutPrefix(auth, pre); ok {
			if ch := ntlmChallenge(msg, x.p); ch != "" {
				x.class, x.kind, x.detail = classProbe, "ntlm-info", "NTLM negotiate answered with the server's names"
				x.w.Header()["WWW-Authenticate"] = []string{strings.TrimSpace(pre) + " " + ch}
				x.reply(http.StatusUnauthorized, "text/html", nil)
				return
			}
		}
	}
	x.unauthorized(schemes...)
}

// protoOf names the HttpProxy protocol folder for a path.
func protoOf(path string) string {
	seg := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	switch seg {
	case "owa":
		return "Owa"
	case "ecp":
		return "Ecp"
	case "ews":
		return "Ews"
	case "mapi":
		return "Mapi"
	case "oab":
		return "Oab"
	case "powershell":
		return "PowerShell"
	case "rpc":
		return "RpcHttp"
	case "microsoft-server-activesync":
		return "Eas"
	}
	return "Autodiscover"
}

// cookieList is a Cookie header split into pairs, in order. Exploit
// cookies hold characters net/http's parser rejects, so it is read by hand.
type cookieList []string

func parseCookies(h string) cookieList {
	if h == "" {
		return nil
	}
	var out cookieList
	for len(h) > 0 && len(out) < 128 {
		var part string
		part, h, _ = strings.Cut(h, ";")
		part = strings.TrimSpace(part)
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (c cookieList) get(name string) string {
	for _, kv := range c {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (c cookieList) has(name string) bool {
	for _, kv := range c {
		k, _, _ := strings.Cut(kv, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return true
		}
	}
	return false
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
