// Package decoy emulates the front end of an on-premises Exchange server
// over HTTP and HTTPS: the pages, headers and status codes a given build
// sends, the answers of the ProxyLogon and ProxyShell checks in each state
// (vulnerable, patched, mitigated by Microsoft's URL-rewrite rules),
// planted web shells and soft-404 behaviour. It serves as the scanner's
// test target and as a honeypot: every request is written to real-format
// HttpProxy and IIS W3C logs in an Exchange folder tree, and classified
// requests (probes, exploit attempts, web-shell calls) are streamed as JSON
// lines. It never executes, stores or forwards anything a client sends.
//
// One Server serves many listeners (addresses and ports), each with its own
// Profile, so one process stands in for a fleet.
package decoy

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
)

// States a decoy can be in.
const (
	// StateVulnerable runs the given build as is.
	StateVulnerable = "vulnerable"
	// StatePatched runs the newest security update of the given build's
	// CU: what "fully patched within its CU" looks like.
	StatePatched = "patched"
	// StateMitigated runs the given build behind the EOMT and EOMTv2
	// URL-rewrite rules, which abort the exploit requests.
	StateMitigated = "mitigated"
)

// States lists the states in a stable order.
func States() []string { return []string{StateVulnerable, StatePatched, StateMitigated} }

// What the server reveals of its build. Real servers differ: reverse
// proxies strip X-OWA-Version, and the ClickOnce manifest is not always
// reachable, leaving only the three-part CU level of the logon page.
const (
	// RevealAll sends X-OWA-Version and serves the export-tool manifest
	// under /ecp/Current/ and under /ecp/<build>/.
	RevealAll = "all"
	// RevealCU hides the header and /ecp/Current/, but still serves the
	// versioned /ecp/<build>/ folder, so probing candidate builds finds it.
	RevealCU = "cu"
	// RevealNone shows only the logon page's resource paths.
	RevealNone = "none"
)

// Reveals lists the reveal modes.
func Reveals() []string { return []string{RevealAll, RevealCU, RevealNone} }

// Shell kinds a planted web shell answers like.
const (
	// ShellChopper is the one-line China Chopper page
	// (eval(Request.Item["..."])): an empty 200 without its parameter.
	ShellChopper = "chopper"
	// ShellOAB is the OAB virtual-directory dump written by
	// ResetOABVirtualDirectory (CVE-2021-27065): the settings as text, the
	// JScript in ExternalUrl run by ASP.NET and so not shown.
	ShellOAB = "oab"
)

// Shell is a web shell planted at a URL path.
type Shell struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

// Profile is what one listener emulates.
type Profile struct {
	// Release is the build row asked for; Served is the build the decoy
	// runs (the CU's newest update when State is patched).
	Release exchange.Release `json:"-"`
	Served  exchange.Release `json:"-"`
	State   string           `json:"state"`
	Reveal  string           `json:"reveal"`
	Shells  []Shell          `json:"shells,omitempty"`
	// Soft404 answers 200 with a page for any unknown path, as some
	// servers and appliances do.
	Soft404 bool `json:"soft404,omitempty"`
	// Legacy restricts TLS to 1.0 with RSA key exchange and an RSA
	// certificate, as an unmaintained Exchange 2010 on Windows 2008 R2.
	Legacy bool `json:"legacy_tls,omitempty"`

	// ServerName is the NetBIOS name (X-FEServer, ServerHostName in logs);
	// Domain the AD DNS domain.
	ServerName string `json:"server"`
	Domain     string `json:"domain"`

	// Open holds the CVEs the served build is open to: an update can fix
	// part of a chain (April 2021 closed ProxyShell's SSRF, CVE-2021-34473,
	// and left CVE-2021-31207), and the checks answer by the CVE they touch.
	Open map[string]bool `json:"-"`
}

// FQDN is the server's DNS name.
func (p *Profile) FQDN() string { return strings.ToLower(p.ServerName) + "." + p.Domain }

// Build is the served build.
func (p *Profile) Build() exchange.Build { return p.Served.Build }

// frontEnd reports whether the build has the 2013+ front-end proxy
// (HttpProxy, X-FEServer, the ProxyLogon and ProxyShell code paths).
func (p *Profile) frontEnd() bool { return p.Served.Build.Major >= 15 }

func (p *Profile) revealHeader() bool  { return p.Reveal == RevealAll }
func (p *Profile) revealCurrent() bool { return p.Reveal == RevealAll && p.frontEnd() }
func (p *Profile) revealVersioned() bool {
	return (p.Reveal == RevealAll || p.Reveal == RevealCU) && p.frontEnd()
}

// mitigated reports whether the URL-rewrite rules are in place.
func (p *Profile) mitigated() bool { return p.State == StateMitigated }

// iisVersion is the IIS of the Windows release the product usually ran on.
func (p *Profile) iisVersion() string {
	b := p.Served.Build
	switch {
	case b.Major == 14:
		return "7.5"
	case b.Minor >= 2:
		return "10.0"
	}
	return "8.5"
}

// owaFolder is the versioned folder the logon page's resources come from:
// /owa/auth/15.1.2176/ (three parts) on 2013 and later, /owa/14.3.123.4/
// (four parts) on 2010.
func (p *Profile) owaFolder() string {
	b := p.Served.Build
	if b.Major == 14 {
		return fmt.Sprintf("/owa/%d.%d.%d.%d/", b.Major, b.Minor, b.Build, b.Rev)
	}
	return fmt.Sprintf("/owa/auth/%d.%d.%d/", b.Major, b.Minor, b.Build)
}

// NewProfile resolves a build (any row of the table, by build number) and
// a state into a Profile. name names the server (EXCH01).
func NewProfile(t *exchange.Table, build, state, reveal, name string) (*Profile, error) {
	b, ok := exchange.ParseBuild(build)
	if !ok || b.Rev < 0 {
		return nil, fmt.Errorf("decoy: build %q: want a four-part build number from the build table", build)
	}
	rel, exact, ok := t.Lookup(b)
	if !ok || !exact {
		return nil, fmt.Errorf("decoy: build %s is not a row of the build table", build)
	}
	if state == "" {
		state = StateVulnerable
	}
	if reveal == "" {
		reveal = RevealAll
	}
	if !contains(States(), state) {
		return nil, fmt.Errorf("decoy: unknown state %q (want %s)", state, strings.Join(States(), ", "))
	}
	if !contains(Reveals(), reveal) {
		return nil, fmt.Errorf("decoy: unknown reveal mode %q (want %s)", reveal, strings.Join(Reveals(), ", "))
	}
	p := &Profile{Release: rel, Served: rel, State: state, Reveal: reveal, ServerName: name, Domain: "contoso.local"}
	if state == StatePatched {
		for _, r := range t.Releases() {
			if r.Build.SameCU(rel.Build) && r.Build.Compare(p.Served.Build) > 0 {
				p.Served = r
			}
		}
	}
	p.Open = map[string]bool{}
	for _, c := range exchange.Chains {
		st, _ := t.Status(p.Served.Build, c.Name)
		if !exchange.Exposed(st) {
			continue
		}
		for _, cve := range c.CVEs {
			if !t.FixesCVE(p.Served.Build, cve) {
				p.Open[cve] = true
			}
		}
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newGUID returns a random version-4 GUID as 16 bytes.
func newGUID() [16]byte {
	var g [16]byte
	rand.Read(g[:])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

func guidString(g [16]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, v := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[v>>4], hex[v&15])
	}
	return string(b)
}

// Description is a listener as the decoy's manifest lists it: the ground
// truth a scan of it can be checked against.
type Description struct {
	URL          string  `json:"url"`
	Server       string  `json:"server"`
	Product      string  `json:"product"`
	Update       string  `json:"update"`
	Build        string  `json:"build"`
	ServedUpdate string  `json:"served_update"`
	ServedBuild  string  `json:"served_build"`
	State        string  `json:"state"`
	Reveal       string  `json:"reveal"`
	Shells       []Shell `json:"shells,omitempty"`
	Soft404      bool    `json:"soft404,omitempty"`
	LegacyTLS    bool    `json:"legacy_tls,omitempty"`
}

// Describe returns t's description.
func Describe(t *Target) Description {
	p := t.Profile
	return Description{URL: t.URL, Server: p.ServerName, Product: p.Release.Product, Update: p.Release.Update,
		Build: p.Release.Build.String(), ServedUpdate: p.Served.Update, ServedBuild: p.Served.Build.String(),
		State: p.State, Reveal: p.Reveal, Shells: p.Shells, Soft404: p.Soft404, LegacyTLS: p.Legacy}
}
