package decoy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzDecoyRequest: whatever a client sends (path, query, cookies, an
// NTLM message), the decoy answers or aborts the way IIS would, and never
// panics otherwise.
func FuzzDecoyRequest(f *testing.F) {
	f.Add("GET", "/owa/auth/x.js", "", nseCookie, "")
	f.Add("POST", "/ecp/y.js", "", "X-BEResource=a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#~1941962753", "")
	f.Add("GET", "/autodiscover/autodiscover.json", "@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com", "", "")
	f.Add("RPC_IN_DATA", "/rpc/rpcproxy.dll", "", "", "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("GET", "/ecp/15.1.2176.2/exporttool/", "", "Email=autodiscover/autodiscover.json?a=x", "Negotiate !!")
	tb := table(f)
	profiles := []*Profile{}
	for _, st := range States() {
		p, err := NewProfile(tb, "15.1.2176.2", st, RevealAll, "EXCH01")
		if err != nil {
			f.Fatal(err)
		}
		p.Shells = []Shell{{Path: "/owa/auth/shel.aspx", Kind: ShellOAB}}
		profiles = append(profiles, p)
	}
	f.Fuzz(func(t *testing.T, method, path, query, cookie, auth string) {
		if !validMethod(method) {
			return
		}
		u := &url.URL{Path: "/" + path, RawQuery: query}
		for _, p := range profiles {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Method, req.URL, req.RequestURI = method, u, u.RequestURI()
			req.Header.Set("Cookie", cookie)
			req.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			func() {
				defer func() {
					if v := recover(); v != nil && v != http.ErrAbortHandler {
						t.Fatalf("panic: %v", v)
					}
				}()
				x := &exchangeCtx{t: &Target{Profile: p}, p: p, w: w, r: req, path: strings.ToLower(req.URL.Path), host: "mail.contoso.com"}
				x.serve()
				if x.status == 0 && !x.aborted {
					t.Fatalf("%s %s: no answer", method, u)
				}
			}()
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' && c != '_' {
			return false
		}
	}
	return true
}
