package decoy

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/exchange"
)

func table(t testing.TB) *exchange.Table {
	t.Helper()
	d, err := catalog.LoadData()
	if err != nil {
		t.Fatal(err)
	}
	return d.Builds
}

// start serves each profile on its own loopback port.
func start(t testing.TB, cfg Config, profiles ...*Profile) (*Server, []*Target) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*Target
	for _, p := range profiles {
		tg, err := s.Listen("https", "127.0.0.1:0", p)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tg)
	}
	s.Serve()
	t.Cleanup(func() { s.Close() })
	return s, ts
}

func profile(t testing.TB, build, state, reveal string) *Profile {
	t.Helper()
	p, err := NewProfile(table(t), build, state, reveal, "EXCH01")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// client is what the scripts use: no certificate check, redirects
// followed or not.
func client(follow bool) *http.Client {
	c := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
	}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

type reply struct {
	status int
	header http.Header
	body   string
	err    error
}

func get(t *testing.T, c *http.Client, method, url string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

const nseCookie = "X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;"

// TestPublicChecks sends the requests of the public checks, shaped as
// remote-scanning notes describe them, and applies each tool's own
// verdict rule.
func TestPublicChecks(t *testing.T) {
	cases := []struct {
		build, state string
		proxyLogon   bool // the checks should report vulnerable
		proxyShell   bool
		aborted      bool // EOMT drops the ProxyLogon request
	}{
		{"15.1.2176.2", StateVulnerable, true, true, false},    // 2016 CU19
		{"15.1.2176.2", StatePatched, false, false, false},     // CU19 May21SU
		{"15.1.2176.2", StateMitigated, false, true, true},     // EOMT does not cover ProxyShell
		{"15.0.1497.2", StateVulnerable, true, true, false},    // 2013 CU23
		{"15.1.2176.12", StateVulnerable, false, false, false}, // 2016 CU19 Apr21SU: CVE-2021-34473 fixed
		{"15.2.858.10", StateVulnerable, false, false, false},  // 2019 CU9 Apr21SU
		{"15.2.792.10", StateVulnerable, false, true, false},   // 2019 CU8 Mar21SU
		{"15.2.1118.20", StateVulnerable, false, false, false}, // 2019 CU12 Nov22SU
	}
	for _, tc := range cases {
		t.Run(tc.build+"-"+tc.state, func(t *testing.T) {
			p := profile(t, tc.build, tc.state, RevealAll)
			_, ts := start(t, Config{}, p)
			base := ts[0].URL
			nofollow, follow := client(false), client(true)

			// Microsoft's NSE, every version of its matcher.
			r := get(t, nofollow, "GET", base+"/owa/auth/x.js", "Cookie", nseCookie)
			if tc.aborted {
				if r.err == nil {
					t.Fatalf("mitigated: want the connection dropped, got %d", r.status)
				}
			} else {
				if r.err != nil {
					t.Fatal(r.err)
				}
				v1 := r.status == 500 && strings.Contains(r.body, "NegotiateSecurityContext")
				v2 := r.status == 500 && strings.Contains(r.header.Get("X-CalculatedBETarget"), "localhost")
				v3 := strings.Contains(r.header.Get("X-CalculatedBETarget"), "localhost")
				if v1 != tc.proxyLogon || v2 != tc.proxyLogon || v3 != tc.proxyLogon {
					t.Errorf("nse matchers v1 %v v2 %v v3 %v, want %v (status %d, header %q)", v1, v2, v3, tc.proxyLogon, r.status, r.header.Get("X-CalculatedBETarget"))
				}
				// Metasploit's scanner: POST, vulnerable on 500.
				m := get(t, nofollow, "POST", base+"/owa/auth/x.js", "Cookie", nseCookie)
				if (m.status == 500) != tc.proxyLogon {
					t.Errorf("msf exchange_proxylogon: status %d, want vulnerable %v", m.status, tc.proxyLogon)
				}
			}

			// Beaumont's ProxyShell NSE: 302 vulnerable, 400 not.
			r = get(t, nofollow, "GET", base+"/autodiscover/autodiscover.json?@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com")
			if r.err != nil {
				t.Fatal(r.err)
			}
			want := 400
			if tc.proxyShell {
				want = 302
			}
			if r.status != want {
				t.Errorf("ProxyShell NSE: status %d, want %d", r.status, want)
			}
			// nuclei CVE-2021-34473: either body word over two requests.
			r2 := get(t, nofollow, "GET", base+"/autodiscover/autodiscover.json?@test.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@test.com")
			hit := strings.Contains(r.body, "Microsoft.Exchange.Clients.Owa2.Server.Core.OwaADUserNotFoundException") ||
				strings.Contains(r2.body, "Exchange MAPI/HTTP Connectivity Endpoint")
			if hit != tc.proxyShell {
				t.Errorf("nuclei CVE-2021-34473: matched %v, want %v", hit, tc.proxyShell)
			}
			// Metasploit's ProxyShell check: the email in the cookie.
			email := "wkzj@qxbcz.com"
			r = get(t, nofollow, "GET", base+"/Autodiscover/autodiscover.json?a="+email+"/mapi/nspi/",
				"Cookie", "Email=Autodiscover/autodiscover.json?a="+email, "Cache-Control", "no-cache")
			msf := r.status == 200 && regexp.MustCompile(`<head>\s*<title>Exchange MAPI/HTTP Connectivity Endpoint</title>`).MatchString(r.body)
			if msf != tc.proxyShell {
				t.Errorf("msf proxyshell check: %v (status %d), want %v", msf, r.status, tc.proxyShell)
			}

			// CronUp's ProxyNotShell NSE: /owa/ must give 200 (nmap follows
			// redirects), then x-feserver on the probe means reachable.
			r = get(t, follow, "GET", base+"/owa/")
			if r.status != 200 {
				t.Errorf("GET /owa/ followed: %d", r.status)
			}
			r = get(t, nofollow, "GET", base+"/autodiscover/autodiscover.json?a@foo.var/owa/&Email=autodiscover/autodiscover.json?a@foo.var&Protocol=XYZ&FooProtocol=Powershell")
			if tc.state == StateMitigated {
				if r.err == nil {
					t.Errorf("EOMTv2: autodiscover+powershell answered %d, want dropped", r.status)
				}
			} else if r.err != nil || r.header.Get("X-FEServer") == "" {
				t.Errorf("CronUp probe: err %v, X-FEServer %q", r.err, r.header.Get("X-FEServer"))
			}
		})
	}
}

// TestFingerprints checks what each version-detection tool reads.
func TestFingerprints(t *testing.T) {
	for _, tc := range []struct {
		build, state, reveal string
		owa, manifest        bool
		path                 *regexp.Regexp
	}{
		{"15.2.986.5", StateVulnerable, RevealAll, true, true, regexp.MustCompile(`href="/owa/auth/(15\.2\.986)/themes/resources/favicon\.ico"`)},
		{"15.1.2176.2", StatePatched, RevealCU, false, false, regexp.MustCompile(`/owa/auth/(15\.1\.2176)/themes/`)},
		{"15.0.1497.2", StateVulnerable, RevealNone, false, false, regexp.MustCompile(`/owa/auth/(15\.0\.1497)/themes/`)},
		{"14.3.513.0", StateVulnerable, RevealAll, true, false, regexp.MustCompile(`/owa/(14\.3\.513\.0)/themes/base/`)},
	} {
		p := profile(t, tc.build, tc.state, tc.reveal)
		_, ts := start(t, Config{}, p)
		base, c := ts[0].URL, client(false)
		served := p.Served.Build.String()

		// nuclei ms-exchange-server: any of header, path or title.
		r := get(t, c, "GET", base+"/owa/auth/logon.aspx")
		if r.status != 200 || !strings.Contains(r.body, "<!-- OwaPage = ASP.auth_logon_aspx -->") || !strings.Contains(r.body, "function IsOwaPremiumBrowser") {
			t.Fatalf("%s: logon page %d lacks the markers", tc.build, r.status)
		}
		m := tc.path.FindStringSubmatch(r.body)
		if m == nil || !strings.HasPrefix(served, m[1]) {
			t.Errorf("%s: resource path %v, want the served build's folder %s", tc.build, m, served)
		}
		if got := r.header.Get("X-OWA-Version"); (got == served) != tc.owa || (got != "" && got != served) {
			t.Errorf("%s: X-OWA-Version %q (reveal %s)", tc.build, got, tc.reveal)
		}
		// Metasploit: /owa/service.
		if got := get(t, c, "GET", base+"/owa/service").header.Get("X-OWA-Version"); (got != "") != tc.owa {
			t.Errorf("%s: /owa/service X-OWA-Version %q", tc.build, got)
		}
		// Metasploit and ms-exchange-version.nse: the manifest.
		r = get(t, c, "GET", base+"/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application")
		msf := regexp.MustCompile(`name="microsoft.exchange.ediscovery.exporttool" version="(\d+(\.\d+){3})"`).FindStringSubmatch(r.body)
		rgh := regexp.MustCompile(`<assemblyIdentity.*version="(\d+\.\d+\.\d+\.\d+)"`).FindStringSubmatch(r.body)
		if tc.manifest {
			if r.status != 200 || msf == nil || msf[1] != served || rgh == nil || rgh[1] != served {
				t.Errorf("%s: manifest %d msf %v rgh %v", tc.build, r.status, msf, rgh)
			}
		} else if r.status == 200 {
			t.Errorf("%s: manifest served with reveal %s", tc.build, tc.reveal)
		}
		// The versioned folder answers for the served build only.
		vers := get(t, c, "GET", base+"/ecp/"+served+"/exporttool/microsoft.exchange.ediscovery.exporttool.application")
		wantVers := tc.reveal != RevealNone && p.Served.Build.Major >= 15
		if (vers.status == 200) != wantVers {
			t.Errorf("%s: versioned folder %d (reveal %s)", tc.build, vers.status, tc.reveal)
		}
		if other := get(t, c, "GET", base+"/ecp/15.1.1.1/exporttool/microsoft.exchange.ediscovery.exporttool.application"); other.status == 200 {
			t.Errorf("%s: another build's folder answered", tc.build)
		}
	}
}

// TestAuthEndpoints: EWS, MAPI and RPC ask for NTLM/Negotiate, and an
// NTLM negotiate message gets a challenge naming the server.
func TestAuthEndpoints(t *testing.T) {
	p := profile(t, "15.2.986.5", StateVulnerable, RevealAll)
	_, ts := start(t, Config{}, p)
	base, c := ts[0].URL, client(false)
	for _, path := range []string{"/EWS/Exchange.asmx", "/mapi/emsmdb/", "/rpc/rpcproxy.dll", "/autodiscover/autodiscover.xml"} {
		r := get(t, c, "GET", base+path)
		auth := strings.Join(r.header.Values("WWW-Authenticate"), ",")
		if r.status != 401 || !strings.Contains(auth, "NTLM") || !strings.Contains(auth, "Negotiate") {
			t.Errorf("%s: %d %q", path, r.status, auth)
		}
	}
	// NTLM NEGOTIATE with the usual flags.
	neg := []byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	r := get(t, c, "RPC_IN_DATA", base+"/rpc/rpcproxy.dll", "Authorization", "NTLM "+base64.StdEncoding.EncodeToString(neg))
	ch, ok := strings.CutPrefix(r.header.Get("WWW-Authenticate"), "NTLM ")
	if r.status != 401 || !ok {
		t.Fatalf("no NTLM challenge: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	raw, err := base64.StdEncoding.DecodeString(ch)
	if err != nil || len(raw) < 48 || binary.LittleEndian.Uint32(raw[8:]) != 2 {
		t.Fatalf("challenge is not an NTLM CHALLENGE message: %v", err)
	}
	ilen, ioff := binary.LittleEndian.Uint16(raw[40:]), binary.LittleEndian.Uint32(raw[44:])
	info := raw[ioff : ioff+uint32(ilen)]
	names := map[uint16]string{}
	for len(info) >= 4 {
		id, n := binary.LittleEndian.Uint16(info), binary.LittleEndian.Uint16(info[2:])
		v := info[4 : 4+n]
		var s []rune
		for i := 0; i+1 < len(v); i += 2 {
			s = append(s, rune(binary.LittleEndian.Uint16(v[i:])))
		}
		names[id] = string(s)
		info = info[4+n:]
		if id == 0 {
			break
		}
	}
	if names[3] != p.FQDN() || names[1] != "EXCH01" {
		t.Errorf("target info names %v", names)
	}
}

// TestShellsAndSoft404: a planted shell answers 200, a random name in the
// same folder 404, unless the server answers 200 for everything.
func TestShellsAndSoft404(t *testing.T) {
	p := profile(t, "15.1.2176.2", StateVulnerable, RevealAll)
	p.Shells = []Shell{{Path: "/owa/auth/shel.aspx", Kind: ShellChopper}, {Path: "/aspnet_client/supp0rt.aspx", Kind: ShellOAB}}
	soft := profile(t, "15.1.2176.2", StateVulnerable, RevealAll)
	soft.Soft404 = true
	_, ts := start(t, Config{}, p, soft)
	c := client(false)
	if r := get(t, c, "GET", ts[0].URL+"/owa/auth/SHEL.aspx"); r.status != 200 || r.body != "" {
		t.Errorf("chopper: %d %q", r.status, r.body)
	}
	if r := get(t, c, "POST", ts[0].URL+"/aspnet_client/supp0rt.aspx"); r.status != 200 || !strings.Contains(r.body, "ExternalUrl                     : http://f/") || strings.Contains(r.body, "<script") {
		t.Errorf("oab shell: %d %q", r.status, r.body)
	}
	if r := get(t, c, "GET", ts[0].URL+"/owa/auth/k3j4h5g6.aspx"); r.status != 404 {
		t.Errorf("random name: %d", r.status)
	}
	if r := get(t, c, "GET", ts[1].URL+"/owa/auth/k3j4h5g6.aspx"); r.status != 200 {
		t.Errorf("soft-404 random name: %d", r.status)
	}
}

// TestHoneypotEvents: classified requests reach the event stream and
// every request the logs.
func TestHoneypotEvents(t *testing.T) {
	dir := t.TempDir()
	var ev bytes.Buffer
	p := profile(t, "15.1.2176.2", StateVulnerable, RevealAll)
	p.Shells = []Shell{{Path: "/owa/auth/shel.aspx", Kind: ShellChopper}}
	s, ts := start(t, Config{LogDir: dir, Events: &ev}, p)
	c := client(false)
	base := ts[0].URL
	get(t, c, "GET", base+"/owa/auth/logon.aspx")
	get(t, c, "GET", base+"/owa/auth/x.js", "Cookie", nseCookie)
	get(t, c, "POST", base+"/ecp/y.js", "Cookie", "X-BEResource=a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#~1941962753")
	get(t, c, "POST", base+"/owa/auth/shel.aspx?code=Response.Write(1)")
	s.Close()
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(ev.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		kinds = append(kinds, e.Class+"/"+e.Kind)
	}
	want := []string{"probe/proxylogon-ssrf", "exploit/proxylogon-ssrf", "webshell/webshell-command"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", kinds, want)
	}
	iis, _ := filepath.Glob(filepath.Join(dir, "EXCH01", "C", "inetpub", "logs", "LogFiles", "W3SVC1", "u_ex*.log"))
	if len(iis) != 1 {
		t.Fatalf("IIS logs %v", iis)
	}
	data, _ := os.ReadFile(iis[0])
	if n := strings.Count(string(data), "\r\n") - 4; n != 4 {
		t.Errorf("IIS log has %d request lines, want 4:\n%s", n, data)
	}
}

// TestFixedAnswers: a build that fixes CVE-2021-34473 answers the
// ProxyShell check with the endpoint's one 400, the same headers and body
// as any malformed autodiscover.json request; a vulnerable build's proxied
// answers carry the back-end headers of a 2013+ front end.
func TestFixedAnswers(t *testing.T) {
	fixed := profile(t, "15.1.2176.12", StateVulnerable, RevealAll) // Apr21SU
	vuln := profile(t, "15.1.2176.2", StateVulnerable, RevealAll)
	_, ts := start(t, Config{}, fixed, vuln)
	c := client(false)
	check := "/autodiscover/autodiscover.json?@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com"
	a := get(t, c, "GET", ts[0].URL+check)
	b := get(t, c, "GET", ts[0].URL+"/autodiscover/autodiscover.json")
	if a.status != 400 || b.status != 400 {
		t.Fatalf("statuses %d and %d, want 400", a.status, b.status)
	}
	if a.body != b.body {
		t.Errorf("two 400 bodies:\n%s\n%s", a.body, b.body)
	}
	for _, h := range []string{"Content-Type", "Server", "X-Powered-By", "X-FEServer"} {
		if a.header.Get(h) != b.header.Get(h) || a.header.Get(h) == "" {
			t.Errorf("%s: %q vs %q", h, a.header.Get(h), b.header.Get(h))
		}
	}
	for _, h := range []string{"X-BackEndHttpStatus", "X-BEServer", "X-CalculatedBETarget"} {
		if a.header.Get(h) != "" {
			t.Errorf("a refused check is not proxied, but carries %s", h)
		}
	}

	r := get(t, c, "GET", ts[1].URL+check)
	if r.status != 302 {
		t.Fatalf("vulnerable build: %d", r.status)
	}
	want := map[string]string{"X-BackEndHttpStatus": "302", "X-BEServer": "EXCH01", "X-DiagInfo": "EXCH01", "X-FEServer": "EXCH01",
		"X-CalculatedBETarget": "exch01.contoso.local"}
	for h, v := range want {
		if got := r.header.Get(h); got != v {
			t.Errorf("proxied answer %s = %q, want %q", h, got, v)
		}
	}
	r = get(t, c, "POST", ts[1].URL+"/ecp/y.js", "Cookie", "X-BEResource=a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#~1941962753")
	if r.status != 241 || r.header.Get("X-BackEndHttpStatus") != "241" || r.header.Get("X-BEServer") != "EXCH01" {
		t.Errorf("ProxyLogon back-end step: %d, X-BackEndHttpStatus %q, X-BEServer %q", r.status, r.header.Get("X-BackEndHttpStatus"), r.header.Get("X-BEServer"))
	}
	// The front end's own answers are not proxied.
	r = get(t, c, "GET", ts[1].URL+"/owa/auth/logon.aspx")
	if r.header.Get("X-BackEndHttpStatus") != "" {
		t.Errorf("logon page carries X-BackEndHttpStatus %q", r.header.Get("X-BackEndHttpStatus"))
	}
}

// TestExchange2010: Exchange 2010 has no HttpProxy; before SP3 RU32 it is
// open to CVE-2021-26857 alone, which the profile reflects.
func TestExchange2010(t *testing.T) {
	old := profile(t, "14.3.509.0", StateVulnerable, RevealAll)
	if len(old.Open) != 0 {
		t.Errorf("Exchange 2010 RU31 open to %v through the chains' SSRFs", old.Open)
	}
	st, note := table(t).Status(old.Served.Build, "proxylogon")
	if st != exchange.StatusCVEOnly || !strings.Contains(note, "CVE-2021-26857") {
		t.Errorf("2010 RU31: %s (%s)", st, note)
	}
	_, ts := start(t, Config{}, old)
	r := get(t, client(false), "GET", ts[0].URL+"/owa/auth/x.js", "Cookie", nseCookie)
	if r.err == nil && strings.Contains(r.header.Get("X-CalculatedBETarget"), "localhost") {
		t.Error("Exchange 2010 reflected the ProxyLogon cookie")
	}
}

// TestOverlongRequest: a request far past HTTP.sys's limit is refused as
// HTTP.sys refuses it, and still logged, cut, with its size.
func TestOverlongRequest(t *testing.T) {
	dir := t.TempDir()
	var ev bytes.Buffer
	p := profile(t, "15.1.2176.2", StateVulnerable, RevealAll)
	s, ts := start(t, Config{LogDir: dir, Events: &ev}, p)
	long := "/owa/auth/x.js?" + strings.Repeat("A", 900<<10)
	r := get(t, client(false), "GET", ts[0].URL+long)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.status != 400 || !strings.Contains(r.body, "Request Too Long") || r.header.Get("Server") != "Microsoft-HTTPAPI/2.0" {
		t.Errorf("answer %d, Server %q, body %q", r.status, r.header.Get("Server"), r.body)
	}
	if r.header.Get("X-Powered-By") != "" {
		t.Error("HTTP.sys answers before ASP.NET: no X-Powered-By")
	}
	s.Close()
	var e Event
	if err := json.Unmarshal(bytes.TrimSpace(ev.Bytes()), &e); err != nil {
		t.Fatalf("event %q: %v", ev.String(), err)
	}
	if e.Kind != "oversized-request" || !e.URITruncated || len(e.URI) > 4<<10 || e.RequestBytes < 900<<10 {
		t.Errorf("event kind %s truncated %v uri %d bytes, request %d bytes", e.Kind, e.URITruncated, len(e.URI), e.RequestBytes)
	}
	if !strings.HasPrefix(long, e.URI) {
		t.Error("the logged URI is not the start of the request's")
	}
	iis, _ := filepath.Glob(filepath.Join(dir, "EXCH01", "C", "inetpub", "logs", "LogFiles", "W3SVC1", "u_ex*.log"))
	if len(iis) != 1 {
		t.Fatalf("IIS logs %v", iis)
	}
	data, _ := os.ReadFile(iis[0])
	if !strings.Contains(string(data), "/owa/auth/x.js AAAA") || len(data) > 16<<10 {
		t.Errorf("IIS log (%d bytes) lacks the cut request", len(data))
	}
}
