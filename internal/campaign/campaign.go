// Package campaign writes a replay of the 2021 Exchange campaign as a
// security provider's fleet saw it, with its ground truth: the runs that
// hunts, scans and decoys across many organisations would have sent to a
// fleet server, in time order.
//
// It follows the public timeline: internet scanning through January and
// February 2021 with a daily cycle; targeted intrusions at two
// organisations from 2021-01-06 (mailboxes read through the SSRF, no web
// shell; Volexity, "Operation Exchange Marauder"); the ramp of 26-28
// February and the spike in the night of Sunday 28 February across about
// ten organisations; disclosure and updates on 2 March; mass exploitation
// by many groups from 3 March (web shells on a large share of the servers
// still unpatched, then scanners and follow-on activity; ESET, "Exchange
// servers under siege from at least 10 APT groups", 2021-03-10), with
// servers patched on different dates.
//
// The documents are exhunt's own: hunt results (one server each, as
// `exhunt hunt --push` sends them), scan result lines and decoy events.
package campaign

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/scan"
)

// The campaign's dates.
var (
	Start      = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	Targeted   = time.Date(2021, 1, 6, 0, 0, 0, 0, time.UTC)
	RampStart  = time.Date(2021, 2, 26, 0, 0, 0, 0, time.UTC)
	SpikeStart = time.Date(2021, 2, 28, 20, 0, 0, 0, time.UTC) // Sunday night
	SpikeEnd   = time.Date(2021, 3, 1, 5, 0, 0, 0, time.UTC)
	Disclosure = time.Date(2021, 3, 2, 17, 0, 0, 0, time.UTC)
	MassStart  = time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC)
	End        = time.Date(2021, 3, 21, 0, 0, 0, 0, time.UTC)
)

// Sectors, the first six as the 2021 reports named the victims.
var Sectors = []string{
	"infectious-disease research", "law", "higher education", "defence", "policy think tank", "NGO",
	"local government", "manufacturing", "retail", "healthcare",
}

// Options say what to write.
type Options struct {
	Out     string
	Orgs    int
	Servers int
	Seed    int64
	// Builds is the build table the servers' builds come from.
	Builds *exchange.Table
}

// Org is one customer.
type Org struct {
	Name    string   `json:"name"`
	Sector  string   `json:"sector"`
	Decoy   bool     `json:"decoy"`
	Servers []Server `json:"servers"`
}

// Server is one Exchange server of an organisation.
type Server struct {
	Name    string `json:"name"`
	Build   string `json:"build"`
	Product string `json:"product"`
	// Patched is when the March 2021 update went on; zero if not by the end.
	Patched time.Time `json:"patched,omitzero"`
	// PatchedBuild is the build after the update.
	PatchedBuild string `json:"patched_build,omitempty"`
	// LogsFrom is how far back its logs reach at the end: long retention,
	// or the default of about 30 days.
	LongRetention bool `json:"long_retention"`
}

// Record is one run in the replay.
type Record struct {
	Time time.Time `json:"time"`
	Org  string    `json:"org"`
	// Kind is hunt (a finding.Result of one server), scan (a scan result
	// line) or decoy (a decoy event).
	Kind string          `json:"kind"`
	Doc  json.RawMessage `json:"doc"`
}

// States a server can end in, from the dashboard's point of view: the
// verdicts, and exposed for a server whose build was open to a chain
// during the replay but shows no activity.
const (
	StateClean   = "clean"
	StateExposed = "exposed"
)

// Truth is what a fleet server that ingested the replay must show.
type Truth struct {
	Seed    int64          `json:"seed"`
	Servers []ServerTruth  `json:"servers"`
	Orgs    []OrgTruth     `json:"orgs"`
	Sectors []SectorTruth  `json:"sectors"`
	Spike   SpikeTruth     `json:"spike"`
	Targets []string       `json:"targeted_orgs"`
	Counts  map[string]int `json:"records"`
}

// ServerTruth is one server's final state.
type ServerTruth struct {
	Org          string `json:"org"`
	Name         string `json:"name"`
	State        string `json:"state"`
	Inconclusive bool   `json:"inconclusive"`
	Build        string `json:"build"`
}

// OrgTruth counts an organisation's servers: affected (exposed or worse)
// and exploited (compromised or exploited).
type OrgTruth struct {
	Name      string `json:"name"`
	Sector    string `json:"sector"`
	Servers   int    `json:"servers"`
	Affected  int    `json:"affected"`
	Exploited int    `json:"exploited"`
}

// SectorTruth counts organisations and servers per sector.
type SectorTruth struct {
	Sector           string `json:"sector"`
	Orgs             int    `json:"orgs"`
	AffectedOrgs     int    `json:"affected_orgs"`
	ExploitedOrgs    int    `json:"exploited_orgs"`
	AffectedServers  int    `json:"affected_servers"`
	ExploitedServers int    `json:"exploited_servers"`
}

// SpikeTruth names the night's victims.
type SpikeTruth struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Orgs []string  `json:"orgs"`
}

// File names in Options.Out.
const (
	FleetFile  = "fleet.json"
	ReplayFile = "replay.jsonl.gz"
	TruthFile  = "truth.json"
)

// gen holds the generator's state.
type gen struct {
	rng  *rand.Rand
	opt  Options
	orgs []*Org
	srv  map[string]*srvState // org/name
	recs []Record
	n    int // run ids
}

type srvState struct {
	org      *Org
	s        *Server
	findings []finding.Finding
	attack   map[string]*finding.Attacker
	mailbox  map[string]*finding.MailboxAccess
	line     map[string]int64 // next line per log file
	dirty    bool
	pushHour int
	// What the last hunt said.
	verdict      finding.Verdict
	inconclusive bool
}

// Generate writes fleet.json, replay.jsonl.gz and truth.json.
func Generate(ctx context.Context, opt Options) (*Truth, error) {
	if opt.Orgs < 12 || opt.Servers < opt.Orgs {
		return nil, fmt.Errorf("campaign: need at least 12 organisations and a server each (got %d and %d)", opt.Orgs, opt.Servers)
	}
	if opt.Builds == nil {
		return nil, fmt.Errorf("campaign: no build table")
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	g := &gen{rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x2021)), opt: opt, srv: map[string]*srvState{}}
	if err := g.fleet(); err != nil {
		return nil, err
	}
	targeted := g.targeted()
	spike := g.spike(targeted)
	for h := Start; h.Before(End); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g.hour(h, targeted, spike)
	}
	slices.SortStableFunc(g.recs, func(a, b Record) int { return a.Time.Compare(b.Time) })
	truth := g.truth(targeted, spike)
	if err := g.write(truth); err != nil {
		return nil, err
	}
	return truth, nil
}

var orgWords = [][]string{
	{"Vireo", "Halcyon", "Calder", "Northgate", "Lumen", "Ardent", "Whitlock", "Meridian", "Corvid", "Tamsin", "Brightwater", "Kestrel", "Oakhurst", "Sable", "Thornbury", "Ashcombe", "Verity", "Holloway", "Pemberton", "Quillon"},
	{"Institute", "Partners", "University", "Systems", "Foundation", "Trust", "Council", "Works", "Group", "Health"},
}

func (g *gen) fleet() error {
	var builds []exchange.Release
	for _, r := range g.opt.Builds.Releases() {
		if r.Date.Before(time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)) && r.Date.After(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)) {
			builds = append(builds, r)
		}
	}
	if len(builds) == 0 {
		return fmt.Errorf("campaign: no 2019-2020 builds in the table")
	}
	used := map[string]bool{}
	for i := range g.opt.Orgs {
		name := ""
		for name == "" || used[name] {
			name = orgWords[0][g.rng.IntN(len(orgWords[0]))] + " " + orgWords[1][g.rng.IntN(len(orgWords[1]))]
			if used[name] {
				name += fmt.Sprintf(" %d", i)
			}
		}
		used[name] = true
		g.orgs = append(g.orgs, &Org{Name: name, Sector: Sectors[i%len(Sectors)], Decoy: i%3 == 0})
	}
	// Every organisation gets a server; the rest are spread unevenly.
	for i := range g.opt.Servers {
		o := g.orgs[i%len(g.orgs)]
		if i >= len(g.orgs) {
			o = g.orgs[int(math.Floor(math.Pow(g.rng.Float64(), 1.6)*float64(len(g.orgs))))]
		}
		rel := builds[g.rng.IntN(len(builds))]
		if g.rng.Float64() < 0.06 {
			// Exchange 2010, still in many fleets: no SSRF reaches it.
			rel, _, _ = g.opt.Builds.Lookup(mustBuild("14.3.509.0"))
		}
		s := Server{Name: fmt.Sprintf("EXCH%02d", len(o.Servers)+1), Build: rel.Build.String(), Product: rel.Product,
			LongRetention: g.rng.Float64() < 0.45}
		if rel.Build.Major >= 15 {
			s.Patched, s.PatchedBuild = g.patchDate(), g.patchedBuild(rel)
		}
		o.Servers = append(o.Servers, s)
	}
	for _, o := range g.orgs {
		for i := range o.Servers {
			g.srv[o.Name+"/"+o.Servers[i].Name] = &srvState{org: o, s: &o.Servers[i], attack: map[string]*finding.Attacker{},
				mailbox: map[string]*finding.MailboxAccess{}, line: map[string]int64{}, pushHour: g.rng.IntN(24)}
		}
	}
	return nil
}

func mustBuild(s string) exchange.Build {
	b, _ := exchange.ParseBuild(s)
	return b
}

// patchDate: a third within three days of disclosure, most within a month,
// some not by the end.
func (g *gen) patchDate() time.Time {
	r := g.rng.Float64()
	day := time.Duration(0)
	switch {
	case r < 0.3:
		day = time.Duration(g.rng.IntN(3)) * 24 * time.Hour
	case r < 0.7:
		day = time.Duration(3+g.rng.IntN(11)) * 24 * time.Hour
	case r < 0.88:
		day = time.Duration(14+g.rng.IntN(5)) * 24 * time.Hour
	default:
		return time.Time{}
	}
	return Disclosure.Add(6*time.Hour + day + time.Duration(g.rng.IntN(12))*time.Hour)
}

// patchedBuild is the March 2021 update of the server's CU, or failing
// one, the first later update in the table that fixes ProxyLogon.
func (g *gen) patchedBuild(rel exchange.Release) string {
	for _, r := range g.opt.Builds.Releases() {
		if r.Build.SameCU(rel.Build) && slices.Contains(r.Fixes, "proxylogon") {
			return r.Build.String()
		}
	}
	for _, r := range g.opt.Builds.Releases() {
		if r.Build.Major == rel.Build.Major && r.Build.Minor == rel.Build.Minor && slices.Contains(r.Fixes, "proxylogon") && r.Date.After(Disclosure.Add(-48*time.Hour)) {
			return r.Build.String()
		}
	}
	return rel.Build.String()
}

func (st *srvState) vulnerable(t time.Time) bool {
	return st.s.Product != "Exchange 2010" && (st.s.Patched.IsZero() || t.Before(st.s.Patched))
}

func (st *srvState) build(t time.Time) string {
	if !st.s.Patched.IsZero() && !t.Before(st.s.Patched) {
		return st.s.PatchedBuild
	}
	return st.s.Build
}

// targeted picks the two organisations of the January intrusions: a
// disease-research institute and a think tank, on long-retention servers.
func (g *gen) targeted() []*srvState {
	var out []*srvState
	for _, sector := range []string{"infectious-disease research", "policy think tank"} {
		for _, o := range g.orgs {
			if o.Sector != sector {
				continue
			}
			for i := range o.Servers {
				st := g.srv[o.Name+"/"+o.Servers[i].Name]
				if st.s.Product != "Exchange 2010" {
					st.s.LongRetention = true
					out = append(out, st)
					break
				}
			}
			if len(out) > 0 && out[len(out)-1].org == o {
				break
			}
		}
	}
	return out
}

// spike picks the night's victims: ten organisations (not the targeted
// two) with a vulnerable server.
func (g *gen) spike(targeted []*srvState) []*srvState {
	skip := map[*Org]bool{}
	for _, t := range targeted {
		skip[t.org] = true
	}
	var out []*srvState
	for _, i := range g.rng.Perm(len(g.orgs)) {
		o := g.orgs[i]
		if skip[o] || len(out) == 10 {
			continue
		}
		for j := range o.Servers {
			st := g.srv[o.Name+"/"+o.Servers[j].Name]
			if st.vulnerable(SpikeEnd) {
				out = append(out, st)
				skip[o] = true
				break
			}
		}
	}
	return out
}

// Attacker pools.
var (
	hafniumIPs  = []string{"103.77.192.219", "104.140.114.110", "104.250.191.110", "108.61.246.56", "149.28.14.163", "157.230.221.198", "167.99.168.251", "185.250.151.72", "192.81.208.169", "203.160.69.66", "211.56.98.146", "5.254.43.18", "80.92.205.81"}
	hafniumUAs  = []string{"python-requests/2.25.1", "ExchangeServicesClient/0.0.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36"}
	massUAs     = []string{"python-requests/2.25.1", "Mozilla/5.0 zgrab/0.x", "antSword/v2.1", "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "curl/7.68.0"}
	scannerUAs  = []string{"Mozilla/5.0 zgrab/0.x", "Expanse indexes the network perimeter of our customers.", "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "python-requests/2.25.1"}
	shellPaths  = []string{`\aspnet_client\system_web\supp0rt.aspx`, `\owa\auth\errorPage.aspx`, `\aspnet_client\discover.aspx`, `\owa\auth\8Lw7tAhF9i1pJnRo.aspx`, `\aspnet_client\shell.aspx`, `\owa\auth\OutlookEN.aspx`}
	shellHashes = []string{
		"b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0", // China Chopper variants from Microsoft's feed
		"097549cf7d0f76f0d99edf8b2d91c60977fd6a96e4b8c3c94b0b1733dc026d3e",
		"2b6f1ebb2208e93ade4a6424555d6a8341fd6d9f60c25e44afe11008f5c1aad1",
		"65149e036fff06026d80ac9ad4d156332822dc93142cf1a122b1841ec8de34b5",
	}
)

// ip returns an address from one of a group's /24 ranges, drawn per call.
func (g *gen) massIP() string {
	prefixes := []string{"45.77.112", "86.105.18", "139.59.56", "161.35.1", "165.232.154", "182.239.124", "194.87.69", "45.144.224", "103.212.223", "112.66.255"}
	return fmt.Sprintf("%s.%d", prefixes[g.rng.IntN(len(prefixes))], 2+g.rng.IntN(250))
}

func (g *gen) scannerIP() string {
	prefixes := []string{"162.142.125", "167.94.138", "198.20.69", "71.6.199", "184.105.247", "45.155.205", "89.248.165", "193.118.53"}
	return fmt.Sprintf("%s.%d", prefixes[g.rng.IntN(len(prefixes))], 2+g.rng.IntN(250))
}

// hour generates one hour's activity and the runs it causes.
func (g *gen) hour(h time.Time, targeted, spike []*srvState) {
	day := 1 + 0.6*math.Sin(2*math.Pi*float64(h.Hour()-3)/24)
	for _, o := range g.orgs {
		// Decoys see internet scanning all along: NTLM and version probes.
		if o.Decoy && g.rng.Float64() < 0.12*day {
			g.decoy(h, o, "probe", "ntlm-info", "NTLM negotiate answered with the server's names", "GET", "/rpc/rpcproxy.dll", 401, g.scannerIP(), scannerUAs[g.rng.IntN(len(scannerUAs))])
		}
	}
	for _, st := range targeted {
		// A few nights a week from 6 January: mailboxes read through the
		// SSRF, as Volexity described.
		if !h.Before(Targeted) && h.Before(Disclosure) && h.Hour() == 2 && g.rng.Float64() < 0.3 {
			g.intrusion(h, st)
		}
	}
	switch {
	case !h.Before(RampStart) && h.Before(SpikeStart):
		// The ramp: a few more organisations a day, one at a time.
		if g.rng.Float64() < 0.04 {
			if st := g.anyVulnerable(h); st != nil {
				g.exploit(h, st, hafniumIPs, hafniumUAs, false)
			}
		}
	case !h.Before(SpikeStart) && h.Before(SpikeEnd):
		per := (len(spike) + 8) / 9
		for i := 0; i < per; i++ {
			idx := int(h.Sub(SpikeStart)/time.Hour)*per + i
			if idx < len(spike) {
				g.exploit(h.Add(time.Duration(g.rng.IntN(50))*time.Minute), spike[idx], hafniumIPs, hafniumUAs, true)
			}
		}
	case !h.Before(MassStart):
		g.mass(h, day)
	}
	// Hunts push once a day, and within the hour after new activity.
	for _, o := range g.orgs {
		for i := range o.Servers {
			st := g.srv[o.Name+"/"+o.Servers[i].Name]
			if st.dirty || h.Hour() == st.pushHour {
				g.push(h.Add(time.Hour-time.Minute), st)
			}
		}
	}
	// The provider's weekly external scan, Monday mornings.
	if h.Weekday() == time.Monday && h.Hour() == 6 {
		for _, o := range g.orgs {
			for i := range o.Servers {
				g.scan(h.Add(time.Duration(g.rng.IntN(50))*time.Minute), g.srv[o.Name+"/"+o.Servers[i].Name])
			}
		}
	}
}

func (g *gen) anyVulnerable(h time.Time) *srvState {
	for range 20 {
		o := g.orgs[g.rng.IntN(len(g.orgs))]
		st := g.srv[o.Name+"/"+o.Servers[g.rng.IntN(len(o.Servers))].Name]
		if st.vulnerable(h) {
			return st
		}
	}
	return nil
}

// mass is the exploitation by many groups after disclosure: every hour a
// share of the servers is scanned for ProxyLogon and known shells; the
// unpatched are exploited, many get a web shell, some see it used.
func (g *gen) mass(h time.Time, day float64) {
	for _, o := range g.orgs {
		for i := range o.Servers {
			st := g.srv[o.Name+"/"+o.Servers[i].Name]
			if st.s.Product == "Exchange 2010" {
				continue
			}
			if g.rng.Float64() < 0.05*day {
				g.probe(h.Add(time.Duration(g.rng.IntN(3600))*time.Second), st)
			}
			if st.vulnerable(h) && g.rng.Float64() < 0.0012 {
				g.exploit(h.Add(time.Duration(g.rng.IntN(3600))*time.Second), st, nil, massUAs, g.rng.Float64() < 0.6)
			} else if !st.vulnerable(h) && g.rng.Float64() < 0.004 {
				g.failed(h.Add(time.Duration(g.rng.IntN(3600))*time.Second), st)
			}
		}
		if o.Decoy && g.rng.Float64() < 0.3*day {
			g.decoy(h.Add(time.Duration(g.rng.IntN(3600))*time.Second), o, "exploit", "proxylogon-ssrf", "back end exch01.corp.local path /ecp/proxyLogon.ecp", "POST", "/ecp/y.js", 241, g.massIP(), massUAs[g.rng.IntN(len(massUAs))])
		}
	}
}

func (g *gen) logFile(st *srvState, kind string, t time.Time) string {
	switch kind {
	case "proxy-ecp":
		return fmt.Sprintf("%s/C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/HttpProxy_%s00-1.LOG", st.s.Name, t.Format("20060102"))
	case "proxy-ews":
		return fmt.Sprintf("%s/C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ews/HttpProxy_%s00-1.LOG", st.s.Name, t.Format("20060102"))
	case "proxy-owa":
		return fmt.Sprintf("%s/C/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Owa/HttpProxy_%s00-1.LOG", st.s.Name, t.Format("20060102"))
	}
	return fmt.Sprintf("%s/C/inetpub/logs/LogFiles/W3SVC1/u_ex%s.log", st.s.Name, t.Format("060102"))
}

func (g *gen) add(st *srvState, t time.Time, rule, title, outcome string, stage finding.Stage, sev finding.Severity, file, ip, ua string, cves []string) *finding.Finding {
	st.line[file] += int64(20 + g.rng.IntN(4000))
	kind := "httpproxy"
	if strings.Contains(file, "W3SVC") {
		kind = "iis"
	}
	f := finding.Finding{Server: st.s.Name, Rule: rule, Title: title, Stage: stage, Outcome: outcome, CVEs: cves, Chain: "proxylogon",
		Severity: sev, Time: t.UTC().Truncate(time.Millisecond), Source: finding.Source{File: file, Line: st.line[file], Kind: kind},
		ClientIP: ip, UserAgent: ua, Fields: map[string]string{}}
	st.findings = append(st.findings, f)
	st.dirty = true
	a := st.attack[ip]
	if a == nil {
		a = &finding.Attacker{IP: ip, FirstSeen: f.Time, MaxStage: stage}
		if slices.Contains(hafniumIPs, ip) {
			a.IOCs = []string{"volexity-2021-03-02"}
		}
		st.attack[ip] = a
	}
	a.Requests++
	a.LastSeen = f.Time
	if stage.Rank() > a.MaxStage.Rank() {
		a.MaxStage = stage
	}
	if ua != "" && !slices.Contains(a.UserAgents, ua) {
		a.UserAgents = append(a.UserAgents, ua)
	}
	return &st.findings[len(st.findings)-1]
}

const ssrfTitle = "ProxyLogon SSRF (CVE-2021-26855) in HttpProxy logs"

var ssrfCVE = []string{"CVE-2021-26855"}

// intrusion is the January pattern: the SSRF reading mailboxes over EWS.
func (g *gen) intrusion(h time.Time, st *srvState) {
	ip, ua := hafniumIPs[g.rng.IntN(len(hafniumIPs))], hafniumUAs[1]
	t := h.Add(time.Duration(g.rng.IntN(40)) * time.Minute)
	g.add(st, t, "cve-2021-26855-ssrf", ssrfTitle, "autodiscover step (legacy DN lookup)", finding.StageAttempt, finding.SeverityMedium, g.logFile(st, "proxy-ecp", t), ip, ua, ssrfCVE)
	for i := range 1 + g.rng.IntN(3) {
		mb := fmt.Sprintf("%s@%s", []string{"director", "research.lead", "j.moreau", "policy", "a.chen", "grants"}[g.rng.IntN(6)], domain(st.org))
		tt := t.Add(time.Duration(i+1) * time.Minute)
		f := g.add(st, tt, "cve-2021-26855-ssrf", ssrfTitle, "mailbox accessed through EWS by SSRF", finding.StageCollection, finding.SeverityCritical, g.logFile(st, "proxy-ews", tt), ip, ua, ssrfCVE)
		f.Mailbox = mb
		m := st.mailbox[mb]
		if m == nil {
			m = &finding.MailboxAccess{Mailbox: mb, Answered: true, FirstSeen: tt, Via: []string{"cve-2021-26855-ssrf"}}
			st.mailbox[mb] = m
		}
		m.Requests++
		m.LastSeen = tt
	}
}

func domain(o *Org) string {
	return strings.ToLower(strings.ReplaceAll(o.Name, " ", "")) + ".example"
}

// exploit is the full chain: an ECP session through the SSRF, the OAB
// virtual directory rewritten, a web shell written, perhaps used.
func (g *gen) exploit(t time.Time, st *srvState, ips, uas []string, shell bool) {
	ip := g.massIP()
	if ips != nil {
		ip = ips[g.rng.IntN(len(ips))]
	}
	ua := uas[g.rng.IntN(len(uas))]
	g.add(st, t, "cve-2021-26855-ssrf", ssrfTitle, "ECP session obtained through proxyLogon.ecp (241)", finding.StageExploitation, finding.SeverityCritical, g.logFile(st, "proxy-ecp", t), ip, ua, ssrfCVE)
	if !shell {
		return
	}
	t = t.Add(time.Duration(1+g.rng.IntN(5)) * time.Minute)
	g.add(st, t, "cve-2021-26855-ssrf", ssrfTitle, "virtual directory reset through SSRF (file write)", finding.StagePersistence, finding.SeverityCritical, g.logFile(st, "proxy-ecp", t), ip, ua, []string{"CVE-2021-26855", "CVE-2021-27065"})
	path := shellPaths[g.rng.IntN(len(shellPaths))]
	hash := shellHashes[g.rng.IntN(len(shellHashes))]
	if g.rng.Float64() < 0.5 {
		// Most shells differ by a few bytes from host to host.
		s := sha256.Sum256(fmt.Appendf(nil, "%s%s%d", st.org.Name, path, g.rng.Int()))
		hash = hex.EncodeToString(s[:])
	}
	t = t.Add(time.Duration(1+g.rng.IntN(30)) * time.Second)
	f := g.add(st, t, "file-ioc-path", "File at a web-shell path from Microsoft's IOC feed", "", finding.StagePersistence, finding.SeverityCritical,
		st.s.Name+"/C/inetpub/wwwroot"+strings.ReplaceAll(path, `\`, "/"), ip, "", nil)
	f.Source = finding.Source{File: f.Source.File, Kind: "file"}
	f.File = &finding.FileInfo{Path: `C:\inetpub\wwwroot` + path, Size: int64(600 + g.rng.IntN(3000)), Modified: t, Created: t, SHA256: hash}
	if g.rng.Float64() < 0.45 {
		t = t.Add(time.Duration(5+g.rng.IntN(600)) * time.Minute)
		g.add(st, t, "webshell-known-path", "Request to a known web-shell path", "web shell used", finding.StageExecution, finding.SeverityCritical,
			g.logFile(st, "iis", t), ip, "antSword/v2.1", nil)
	}
}

// probe is a scanner looking for ProxyLogon or for shells.
func (g *gen) probe(t time.Time, st *srvState) {
	ip, ua := g.scannerIP(), scannerUAs[g.rng.IntN(len(scannerUAs))]
	if g.rng.Float64() < 0.5 {
		g.add(st, t, "cve-2021-26855-ssrf", ssrfTitle, "scanner probe (ServerInfo~localhost)", finding.StageReconnaissance, finding.SeverityLow, g.logFile(st, "proxy-owa", t), ip, ua, ssrfCVE)
		return
	}
	g.add(st, t, "webshell-known-path", "Request to a known web-shell path", "probe for a known web shell (not answered 200)", finding.StageReconnaissance, finding.SeverityMedium, g.logFile(st, "iis", t), ip, ua, nil)
}

// failed is an exploit against a patched server.
func (g *gen) failed(t time.Time, st *srvState) {
	g.add(st, t, "cve-2021-26855-ssrf", ssrfTitle, "failed attempt (error answer)", finding.StageAttempt, finding.SeverityMedium, g.logFile(st, "proxy-ecp", t), g.massIP(), massUAs[g.rng.IntN(len(massUAs))], ssrfCVE)
}

func (g *gen) runID() string {
	g.n++
	s := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g.opt.Seed, g.n))
	return hex.EncodeToString(s[:16])
}

func (g *gen) record(t time.Time, org, kind string, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // the documents are built here from plain values
	}
	g.recs = append(g.recs, Record{Time: t.UTC(), Org: org, Kind: kind, Doc: b})
}

// logStart is how far back a server's logs reach at t.
func (st *srvState) logStart(t time.Time) time.Time {
	if st.s.LongRetention {
		return time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	return t.Add(-30 * 24 * time.Hour)
}

// push sends the server's hunt result at t: what its logs then hold.
func (g *gen) push(t time.Time, st *srvState) {
	st.dirty = false
	from := st.logStart(t)
	srv := finding.Server{Name: st.s.Name, Verdict: finding.VerdictClean}
	worst := -1
	for _, f := range st.findings {
		if f.Time.Before(from) || f.Time.After(t) {
			continue
		}
		srv.Findings = append(srv.Findings, f)
		if r := f.Stage.Rank(); r > worst {
			worst = r
			srv.Verdict = f.Stage.Verdict()
		}
	}
	build := st.build(t)
	b, _ := exchange.ParseBuild(build)
	rel, _, _ := g.opt.Builds.Lookup(b)
	srv.Build.Current = build
	srv.Build.Seen = append(srv.Build.Seen, finding.BuildSeen{Build: st.s.Build, Product: rel.Product, First: from, Last: t, Source: "httpproxy"})
	if build != st.s.Build {
		srv.Build.Seen[0].Last = st.s.Patched
		srv.Build.Seen = append(srv.Build.Seen, finding.BuildSeen{Build: build, Product: rel.Product, Update: rel.Update, First: st.s.Patched, Last: t, Source: "httpproxy"})
		srv.Build.Changes = append(srv.Build.Changes, fmt.Sprintf("%s: %s -> %s", st.s.Patched.Format(time.RFC3339), st.s.Build, build))
	}
	first, _ := exchange.ParseBuild(st.s.Build)
	for _, c := range exchange.Chains {
		status, note := g.opt.Builds.Status(b, c.Name)
		srv.Build.Chains = append(srv.Build.Chains, finding.ChainStatus{Chain: c.Name, Status: status, Note: note})
		if st0, _ := g.opt.Builds.Status(first, c.Name); exchange.Exposed(st0) && from.After(c.Start) && c.Start.Before(t) {
			srv.Inconclusive = true
			srv.Reasons = append(srv.Reasons, fmt.Sprintf("build %s was exposed to %s, exploited since %s, but the logs begin %s",
				st.s.Build, c.Name, c.Start.Format("2006-01-02"), from.Format("2006-01-02")))
		}
	}
	for _, src := range []string{"httpproxy", "iis"} {
		srv.Coverage = append(srv.Coverage, finding.Coverage{Source: src, Files: int(t.Sub(from).Hours()/24) + 1, First: from, Last: t})
	}
	for _, a := range st.attack {
		if !a.LastSeen.Before(from) && !a.FirstSeen.After(t) {
			srv.Attackers = append(srv.Attackers, *a)
		}
	}
	slices.SortFunc(srv.Attackers, func(a, b finding.Attacker) int { return cmp.Compare(a.IP, b.IP) })
	for _, m := range st.mailbox {
		if !m.LastSeen.Before(from) {
			srv.MailboxesAccessed = append(srv.MailboxesAccessed, *m)
		}
	}
	slices.SortFunc(srv.MailboxesAccessed, func(a, b finding.MailboxAccess) int { return cmp.Compare(a.Mailbox, b.Mailbox) })
	for _, f := range srv.Findings {
		srv.Timeline = append(srv.Timeline, finding.TimelineEntry{Time: f.Time, Rule: f.Rule, Stage: f.Stage, Severity: f.Severity, Summary: f.Outcome, Source: f.Source})
	}
	st.verdict, st.inconclusive = srv.Verdict, srv.Inconclusive
	srv.Attackers = nonNil(srv.Attackers)
	srv.MailboxesAccessed = nonNil(srv.MailboxesAccessed)
	srv.Findings = nonNil(srv.Findings)
	srv.Timeline = nonNil(srv.Timeline)
	res := runDoc{Result: finding.Result{SchemaVersion: 1, Tool: "exhunt", Version: "campaign-replay", StartedAt: t.Add(-2 * time.Minute),
		DurationMS: 40000, Roots: []string{`C:\Program Files\Microsoft\Exchange Server\V15`}, Servers: []finding.Server{srv}}, RunID: g.runID()}
	g.record(t, st.org.Name, "hunt", res)
}

// runDoc is a hunt result with the run id `exhunt hunt` gives each run.
type runDoc struct {
	finding.Result
	RunID string `json:"run_id"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// scanLine is a scan result line with the run id each run carries.
type scanLine struct {
	RunID string `json:"run_id"`
	scan.Result
}

// scan is the provider's weekly external check of a server.
func (g *gen) scan(t time.Time, st *srvState) {
	build := st.build(t)
	b, _ := exchange.ParseBuild(build)
	line := scanLine{RunID: g.runID(), Result: scan.Result{Target: "https://mail." + domain(st.org) + ":443", Status: scan.StatusExchange, Requests: 4, Time: t,
		Exchange: &scan.Exchange{Build: build, Exact: true, Source: "x-owa-version", Product: st.s.Product, Server: st.s.Name}}}
	if len(st.org.Servers) > 1 {
		line.Target = fmt.Sprintf("https://%s.%s:443", strings.ToLower(st.s.Name), domain(st.org))
	}
	for _, c := range exchange.Chains {
		status, note := g.opt.Builds.Status(b, c.Name)
		line.Chains = append(line.Chains, scan.Chain{Chain: c.Name, CVEs: exchange.CVEs(b, c.Name), Verdict: scan.VerdictOf(status), Reason: "build " + build + ": " + note})
	}
	g.record(t, st.org.Name, "scan", line)
}

// decoyEvent is a decoy event with the run id of the decoy's run.
type decoyEvent struct {
	RunID string `json:"run_id"`
	decoy.Event
}

func (g *gen) decoy(t time.Time, o *Org, class, kind, detail, method, uri string, status int, ip, ua string) {
	g.record(t, o.Name, "decoy", decoyEvent{RunID: "decoy-" + domain(o), Event: decoy.Event{Time: t.UTC(), Listener: "https://decoy." + domain(o) + ":443",
		Server: "DECOY01", Client: ip, Method: method, URI: uri, UserAgent: ua, Status: status, Class: class, Kind: kind, Detail: detail}})
}

func (g *gen) truth(targeted, spike []*srvState) *Truth {
	tr := &Truth{Seed: g.opt.Seed, Counts: map[string]int{}}
	for _, r := range g.recs {
		tr.Counts[r.Kind]++
	}
	for _, st := range targeted {
		tr.Targets = append(tr.Targets, st.org.Name)
	}
	tr.Spike = SpikeTruth{From: SpikeStart, To: SpikeEnd}
	for _, st := range spike {
		tr.Spike.Orgs = append(tr.Spike.Orgs, st.org.Name)
	}
	slices.Sort(tr.Spike.Orgs)
	sectors := map[string]*SectorTruth{}
	for _, o := range g.orgs {
		ot := OrgTruth{Name: o.Name, Sector: o.Sector, Servers: len(o.Servers)}
		for i := range o.Servers {
			st := g.srv[o.Name+"/"+o.Servers[i].Name]
			state, inconclusive := g.finalState(st)
			tr.Servers = append(tr.Servers, ServerTruth{Org: o.Name, Name: st.s.Name, State: state, Inconclusive: inconclusive, Build: st.build(End)})
			if state != StateClean {
				ot.Affected++
			}
			if state == string(finding.VerdictCompromised) || state == string(finding.VerdictExploited) {
				ot.Exploited++
			}
		}
		tr.Orgs = append(tr.Orgs, ot)
		s := sectors[o.Sector]
		if s == nil {
			s = &SectorTruth{Sector: o.Sector}
			sectors[o.Sector] = s
		}
		s.Orgs++
		s.AffectedServers += ot.Affected
		s.ExploitedServers += ot.Exploited
		if ot.Affected > 0 {
			s.AffectedOrgs++
		}
		if ot.Exploited > 0 {
			s.ExploitedOrgs++
		}
	}
	for _, name := range Sectors {
		if s := sectors[name]; s != nil {
			tr.Sectors = append(tr.Sectors, *s)
		}
	}
	return tr
}

// finalState is what the server's last hunt says, with exposed for a
// quiet server whose build was open to a chain.
func (g *gen) finalState(st *srvState) (string, bool) {
	switch {
	case st.verdict != finding.VerdictClean && st.verdict != "":
		return string(st.verdict), st.inconclusive
	case st.s.Product != "Exchange 2010":
		return StateExposed, st.inconclusive
	}
	return StateClean, st.inconclusive
}

func (g *gen) write(tr *Truth) error {
	orgs := make([]Org, len(g.orgs))
	for i, o := range g.orgs {
		orgs[i] = *o
	}
	if err := writeJSON(filepath.Join(g.opt.Out, FleetFile), orgs); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(g.opt.Out, TruthFile), tr); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(g.opt.Out, ReplayFile))
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 1<<20)
	for _, r := range g.recs {
		// The documents are already JSON: written as they are rather than
		// re-validated by an encoder.
		head, _ := json.Marshal(struct {
			Time time.Time `json:"time"`
			Org  string    `json:"org"`
			Kind string    `json:"kind"`
		}{r.Time, r.Org, r.Kind})
		bw.Write(head[:len(head)-1])
		bw.WriteString(`,"doc":`)
		bw.Write(r.Doc)
		bw.WriteString("}\n")
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Read streams a replay's records in time order.
func Read(path string, fn func(Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(zr, 1<<20))
	for n := 1; ; n++ {
		var r Record
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: record %d: %w", path, n, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}
