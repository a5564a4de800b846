// Command serveload is the load generator of bench/serve.sh: it writes a
// realistic fleet's hunt results and decoy events as ingest messages,
// prepares a store's organisations, tokens and analyst, posts the messages
// to a running `exhunt serve` through its HTTP ingest API, and drives its
// dashboard with concurrent logged-in clients, reporting latency
// percentiles.
//
//	serveload gen    -out DIR [-servers N] [-findings N] [-decoy N] [-orgs N] [-seed N]
//	serveload setup  -db DSN -dir DIR
//	serveload ingest -url URL -dir DIR [-c N]
//	serveload web    -url URL -dir DIR [-c N] [-d DURATION]
//	serveload report -dir RESULTS BACKEND...
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/auth"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: serveload gen|setup|ingest|web|report [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "setup":
		err = setup(os.Args[2:])
	case "ingest":
		err = ingest(os.Args[2:])
	case "web":
		err = web(os.Args[2:])
	case "report":
		err = report(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

// manifest is what gen wrote, for the other commands.
type manifest struct {
	Orgs     []org    `json:"orgs"`
	Servers  []string `json:"servers"` // org/name
	Findings int      `json:"findings"`
	Decoy    int      `json:"decoy_events"`
}

type org struct{ ID, Sector string }

var sectors = []string{"infectious-disease-research", "law", "higher-education", "defence", "policy-think-tank", "ngo", "manufacturing", "local-government"}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "", "output folder")
	nServers := fs.Int("servers", 10000, "servers hunted")
	perServer := fs.Int("findings", 100, "findings per server on average")
	nDecoy := fs.Int("decoy", 1000000, "decoy events")
	nOrgs := fs.Int("orgs", 0, "organisations (default: one per 50 servers, at least 12)")
	seed := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	if *out == "" {
		return errors.New("gen: -out DIR")
	}
	if *nOrgs == 0 {
		*nOrgs = max(12, *nServers/50)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(*seed, *seed^0x5deece66d))
	g := &generator{r: r}
	g.pools()
	man := manifest{}
	for i := range *nOrgs {
		man.Orgs = append(man.Orgs, org{fmt.Sprintf("cust%04d", i+1), sectors[i%len(sectors)]})
	}
	hf, err := os.Create(filepath.Join(*out, "hunt.jsonl"))
	if err != nil {
		return err
	}
	defer hf.Close()
	hw := bufio.NewWriterSize(hf, 1<<20)
	// A provider's hunt covers a customer's servers ten at a time.
	perOrg := make([]int, *nOrgs)
	for i := range *nServers {
		perOrg[i%*nOrgs]++
	}
	// Customers' hunts arrive interleaved, as from many customers at once.
	for first := 0; first < perOrg[0]; first += 10 {
		for oi, o := range man.Orgs {
			if first >= perOrg[oi] {
				continue
			}
			at := time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(7*24*60)) * time.Minute)
			res := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", StartedAt: at}
			for j := first; j < min(first+10, perOrg[oi]); j++ {
				name := fmt.Sprintf("EX%03d", j+1)
				sv := g.server(o, name, at, *perServer)
				man.Findings += len(sv.Findings)
				man.Servers = append(man.Servers, o.ID+"/"+name)
				res.Servers = append(res.Servers, sv)
			}
			if err := write(hw, &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: fmt.Sprintf("hunt-%s-%03d", o.ID, first/10), Org: o.ID, Hunt: res}); err != nil {
				return err
			}
		}
	}
	if err := hw.Flush(); err != nil {
		return err
	}
	df, err := os.Create(filepath.Join(*out, "decoy.jsonl"))
	if err != nil {
		return err
	}
	defer df.Close()
	dw := bufio.NewWriterSize(df, 1<<20)
	// Decoy sensors at a fifth of the customers, posting 1,000 events a batch.
	sensors := max(1, *nOrgs/5)
	const perBatch = 1000
	for b := 0; b*perBatch < *nDecoy; b++ {
		si := b % sensors
		o := man.Orgs[si*5%*nOrgs]
		n := min(perBatch, *nDecoy-b*perBatch)
		m := &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeDecoy, RunID: fmt.Sprintf("decoy-%s", o.ID), Batch: b / sensors, Org: o.ID}
		for range n {
			m.Decoy = append(m.Decoy, g.decoyEvent(fmt.Sprintf("mail%02d", si%7+1)))
		}
		man.Decoy += n
		if err := write(dw, m); err != nil {
			return err
		}
	}
	if err := dw.Flush(); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(man, "", " ")
	if err := os.WriteFile(filepath.Join(*out, "manifest.json"), b, 0o644); err != nil {
		return err
	}
	fmt.Printf("generated %d organisations, %d servers, %d findings, %d decoy events\n", len(man.Orgs), len(man.Servers), man.Findings, man.Decoy)
	return nil
}

func write(w io.Writer, m *fleet.Run) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

type generator struct {
	r                    *rand.Rand
	scanners, exploiters []string
	scanUAs, attackUAs   []string
	shells               []string
	hashes               []string
}

func (g *generator) pools() {
	for range 400 {
		g.scanners = append(g.scanners, fmt.Sprintf("%d.%d.%d.%d", []int{45, 162, 167, 193, 71, 89}[g.r.IntN(6)], g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254)))
	}
	for range 250 {
		g.exploiters = append(g.exploiters, fmt.Sprintf("%d.%d.%d.%d", []int{5, 103, 104, 185, 211}[g.r.IntN(5)], g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254)))
	}
	g.scanUAs = []string{"Mozilla/5.0 zgrab/0.x", "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "Expanse, a Palo Alto Networks company",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.150 Safari/537.36", "curl/7.68.0", "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"}
	g.attackUAs = []string{"python-requests/2.25.1", "ExchangeServicesClient/15.00.0913.015", "antSword/v2.1", "Mozilla/5.0 (compatible; Baiduspider/2.0)", "DuckDuckBot/1.0", "Go-http-client/1.1"}
	g.shells = []string{"supp0rt.aspx", "discover.aspx", "errorEE.aspx", "RedirSuiteServerProxy.aspx", "shell.aspx", "OutlookEN.aspx", "HttpProxy.aspx", "xclkmcfldfi948398430fdjkfdkj.aspx"}
	for i := range 24 {
		g.hashes = append(g.hashes, fmt.Sprintf("%064x", uint64(i+1)*0x9e3779b97f4a7c15))
	}
}

func (g *generator) pick(l []string) string { return l[g.r.IntN(len(l))] }

// server is one hunted server: mostly internet scanning, and by its fate
// attempts, SSRF exploitation with mailbox reads, or a web shell in use.
func (g *generator) server(o org, name string, at time.Time, mean int) finding.Server {
	fate := g.r.IntN(100)
	n := mean/2 + g.r.IntN(mean+1)
	start := time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC)
	span := at.Sub(start)
	sv := finding.Server{Name: name, Verdict: finding.VerdictProbed}
	patched := g.r.IntN(4) != 0
	st := "vulnerable"
	if patched {
		st = "patched"
	}
	sv.Build = finding.BuildHistory{Current: map[bool]string{true: "15.1.2176.9", false: "15.1.2176.2"}[patched], Chains: []finding.ChainStatus{{Chain: "ProxyLogon", Status: st}, {Chain: "ProxyShell", Status: "patched"}}}
	sv.Coverage = []finding.Coverage{{Source: "iis", Files: 60, Bytes: 900 << 20, Lines: 4_000_000, First: start, Last: at}, {Source: "httpproxy", Files: 200, Bytes: 300 << 20, Lines: 900_000, First: start, Last: at}}
	if g.r.IntN(12) == 0 {
		sv.Inconclusive, sv.Reasons = true, []string{"IIS logs start after 2021-01-06: the first weeks of exposure are not covered"}
	}
	att := map[string]*finding.Attacker{}
	add := func(f finding.Finding) {
		f.Server = name
		sv.Findings = append(sv.Findings, f)
		a := att[f.ClientIP]
		if a == nil {
			a = &finding.Attacker{IP: f.ClientIP, FirstSeen: f.Time, LastSeen: f.Time, MaxStage: f.Stage}
			att[f.ClientIP] = a
		}
		a.Requests++
		if !slices.Contains(a.UserAgents, f.UserAgent) {
			a.UserAgents = append(a.UserAgents, f.UserAgent)
		}
		a.FirstSeen, a.LastSeen = minT(a.FirstSeen, f.Time), maxT(a.LastSeen, f.Time)
		if f.Stage.Rank() > a.MaxStage.Rank() {
			a.MaxStage = f.Stage
		}
		if f.Stage.Verdict().Rank() > sv.Verdict.Rank() {
			sv.Verdict = f.Stage.Verdict()
		}
		if f.Stage.Rank() >= finding.StagePersistence.Rank() {
			sv.Timeline = append(sv.Timeline, finding.TimelineEntry{Time: f.Time, Rule: f.Rule, Stage: f.Stage, Severity: f.Severity, Summary: f.Title, Source: f.Source})
		}
	}
	for i := range n {
		t := start.Add(time.Duration(g.r.Int64N(int64(span))))
		switch {
		case fate >= 45 && i%10 == 0: // attempts
			add(finding.Finding{Rule: "proxylogon-ssrf-attempt", Title: "CVE-2021-26855 SSRF attempt (X-BEResource cookie)", Stage: finding.StageAttempt, Severity: finding.SeverityMedium,
				CVEs: []string{"CVE-2021-26855"}, Time: t, ClientIP: g.pick(g.exploiters), UserAgent: g.pick(g.attackUAs),
				Source: finding.Source{File: "W3SVC1/u_ex" + t.Format("060102") + ".log", Line: int64(1 + g.r.IntN(200000)), Kind: "iis"}})
		default:
			add(finding.Finding{Rule: "exchange-autodiscover-probe", Title: "Autodiscover probe for the SSRF", Stage: finding.StageReconnaissance, Severity: finding.SeverityLow,
				Time: t, ClientIP: g.pick(g.scanners), UserAgent: g.pick(g.scanUAs), Source: finding.Source{File: "W3SVC1/u_ex" + t.Format("060102") + ".log", Line: int64(1 + g.r.IntN(200000)), Kind: "iis"}})
		}
	}
	if fate >= 75 { // SSRF answered: mailboxes read
		ip := g.pick(g.exploiters)
		t := time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.IntN(72*60)) * time.Minute)
		add(finding.Finding{Rule: "proxylogon-ssrf-answered", Title: "CVE-2021-26855 SSRF answered by the back end", Stage: finding.StageExploitation, Severity: finding.SeverityHigh,
			CVEs: []string{"CVE-2021-26855"}, Time: t, ClientIP: ip, UserAgent: "python-requests/2.25.1", Source: finding.Source{File: "Logging/HttpProxy/Ecp/HttpProxy_" + t.Format("2006010215") + "-1.LOG", Line: int64(2 + g.r.IntN(5000)), Kind: "httpproxy"}})
		for k := range 1 + g.r.IntN(3) {
			mb := fmt.Sprintf("%s@%s.example", []string{"ceo", "cfo", "director", "counsel", "research.lead"}[(k+g.r.IntN(5))%5], o.ID)
			tm := t.Add(time.Duration(k+1) * time.Minute)
			add(finding.Finding{Rule: "proxylogon-ews-mailbox-read", Title: "Mailbox read through EWS via the SSRF", Stage: finding.StageCollection, Severity: finding.SeverityCritical,
				CVEs: []string{"CVE-2021-26855"}, Time: tm, ClientIP: ip, UserAgent: "ExchangeServicesClient/15.00.0913.015", Mailbox: mb,
				Source: finding.Source{File: "Logging/HttpProxy/Ews/HttpProxy_" + tm.Format("2006010215") + "-1.LOG", Line: int64(5 + g.r.IntN(5000)), Kind: "httpproxy"}})
			sv.MailboxesAccessed = append(sv.MailboxesAccessed, finding.MailboxAccess{Mailbox: mb, Answered: true, Requests: int64(1 + g.r.IntN(40)), FirstSeen: tm, LastSeen: tm.Add(time.Minute), Via: []string{"ews"}})
		}
		if fate >= 88 { // a web shell written and used
			hi := g.r.IntN(len(g.hashes))
			tw := t.Add(5 * time.Minute)
			add(finding.Finding{Rule: "proxylogon-oab-webshell-write", Title: "Web shell written through the OAB virtual directory", Stage: finding.StagePersistence, Severity: finding.SeverityCritical,
				CVEs: []string{"CVE-2021-27065"}, Time: tw, ClientIP: ip, UserAgent: "python-requests/2.25.1",
				Source: finding.Source{File: "Logging/ECP/Server/ECPServer" + tw.Format("2006010215") + "-1.LOG", Line: 12, Kind: "ecp"},
				File:   &finding.FileInfo{Path: `C:\inetpub\wwwroot\aspnet_client\system_web\` + g.shells[hi%len(g.shells)], Size: 2341, SHA256: g.hashes[hi]}})
			for k := range 1 + g.r.IntN(4) {
				tc := tw.Add(time.Duration(20+k*7) * time.Minute)
				add(finding.Finding{Rule: "webshell-command", Title: "Commands run through the web shell", Stage: finding.StageExecution, Severity: finding.SeverityCritical,
					Time: tc, ClientIP: ip, UserAgent: "antSword/v2.1", Source: finding.Source{File: "W3SVC1/u_ex" + tc.Format("060102") + ".log", Line: int64(900 + k), Kind: "iis"}})
			}
		}
	}
	slices.SortFunc(sv.Findings, func(a, b finding.Finding) int { return a.Time.Compare(b.Time) })
	for _, a := range att {
		sv.Attackers = append(sv.Attackers, *a)
	}
	slices.SortFunc(sv.Attackers, func(a, b finding.Attacker) int { return b.MaxStage.Rank() - a.MaxStage.Rank() })
	if len(sv.Attackers) > 50 { // the report keeps the worst attackers
		sv.Attackers = sv.Attackers[:50]
	}
	return sv
}

func (g *generator) decoyEvent(server string) decoy.Event {
	t := time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.Int64N(int64(65 * 24 * time.Hour))))
	e := decoy.Event{Time: t, Listener: "443", Server: server, Method: "GET", Status: 200, RequestBytes: 300 + g.r.IntN(900)}
	switch k := g.r.IntN(100); {
	case k < 80:
		e.Client, e.UserAgent, e.Class, e.Kind, e.URI = g.pick(g.scanners)+":"+fmt.Sprint(1024+g.r.IntN(60000)), g.pick(g.scanUAs), "probe", "autodiscover", "/autodiscover/autodiscover.json?@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com"
	case k < 95:
		e.Client, e.UserAgent, e.Class, e.Kind, e.Method, e.URI = g.pick(g.exploiters)+":"+fmt.Sprint(1024+g.r.IntN(60000)), g.pick(g.attackUAs), "exploit", "proxylogon-ssrf", "POST", "/ecp/y.js"
	case k < 98:
		e.Client, e.UserAgent, e.Class, e.Kind, e.Method, e.URI = g.pick(g.exploiters)+":"+fmt.Sprint(1024+g.r.IntN(60000)), "antSword/v2.1", "webshell", "webshell-call", "POST", "/aspnet_client/system_web/"+g.pick(g.shells)
	default:
		e.Client, e.UserAgent, e.Class, e.Kind, e.URI = g.pick(g.scanners)+":"+fmt.Sprint(1024+g.r.IntN(60000)), g.pick(g.scanUAs), "other", "static", "/owa/auth/logon.aspx"
	}
	return e
}

func minT(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func readManifest(dir string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	return &m, json.Unmarshal(b, &m)
}

const benchUser, benchPassword = "bench-analyst", "correct horse battery staple 2021"

// setup creates the organisations, one ingest token each (written to
// DIR/tokens.json) and an analyst, before the server starts.
func setup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	dsn := fs.String("db", "", "database")
	dir := fs.String("dir", "", "folder gen wrote")
	fs.Parse(args)
	man, err := readManifest(*dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	s, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now().UTC()
	tokens := map[string]string{}
	for _, o := range man.Orgs {
		if err := s.CreateOrg(ctx, store.Org{ID: o.ID, Name: "Customer " + o.ID, Sector: o.Sector}, now); err != nil {
			return err
		}
		_, secret, err := s.CreateToken(ctx, o.ID, now)
		if err != nil {
			return err
		}
		tokens[o.ID] = secret
	}
	h, err := auth.HashPassword(benchPassword)
	if err != nil {
		return err
	}
	if err := s.CreateUser(ctx, store.User{Name: benchUser, Role: auth.RoleAnalyst, Hash: h}, now); err != nil {
		return err
	}
	b, _ := json.Marshal(tokens)
	return os.WriteFile(filepath.Join(*dir, "tokens.json"), b, 0o600)
}

// ingest posts every message of DIR/hunt.jsonl, then DIR/decoy.jsonl,
// with c clients, and reports the rates.
func ingest(args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	base := fs.String("url", "", "server URL")
	dir := fs.String("dir", "", "folder gen wrote")
	c := fs.Int("c", 4, "concurrent clients")
	fs.Parse(args)
	var tokens map[string]string
	b, err := os.ReadFile(filepath.Join(*dir, "tokens.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &tokens); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
	out := map[string]any{}
	for _, part := range []string{"hunt", "decoy"} {
		n, items, d, err := post(client, *base, filepath.Join(*dir, part+".jsonl"), tokens, *c)
		if err != nil {
			return err
		}
		out[part+"_messages"] = n
		out[part+"_items"] = items
		out[part+"_seconds"] = d.Seconds()
		out[part+"_per_second"] = float64(items) / d.Seconds()
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// post sends the file's messages; items counts findings stored (hunts) or
// events sent (decoys).
func post(client *http.Client, base, file string, tokens map[string]string, c int) (msgs, items int64, d time.Duration, err error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	type job struct {
		org  string
		body []byte
		n    int
	}
	jobs := make(chan job, c)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var nItems, nMsgs atomic.Int64
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if firstErr.Load() != nil {
					continue
				}
				req, _ := http.NewRequest("POST", base+"/api/v1/runs", bytes.NewReader(j.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[j.org])
				resp, err := client.Do(req)
				if err != nil {
					firstErr.Store(err)
					continue
				}
				var r struct {
					Stored   bool   `json:"stored"`
					Findings int    `json:"findings"`
					Error    string `json:"error"`
				}
				json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || !r.Stored {
					firstErr.Store(fmt.Errorf("POST: %s: %s", resp.Status, r.Error))
					continue
				}
				nMsgs.Add(1)
				if r.Findings > 0 {
					nItems.Add(int64(r.Findings))
				} else {
					nItems.Add(int64(j.n))
				}
			}
		}()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var head struct {
			Org   string            `json:"org"`
			Decoy []json.RawMessage `json:"decoy"`
		}
		body := slices.Clone(sc.Bytes())
		if err := json.Unmarshal(body, &head); err != nil {
			return 0, 0, 0, err
		}
		jobs <- job{head.Org, body, len(head.Decoy)}
	}
	close(jobs)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, 0, 0, e.(error)
	}
	return nMsgs.Load(), nItems.Load(), time.Since(start), sc.Err()
}

// web logs in once and has c clients fetch the overview and random
// server pages for the duration; it reports percentiles per page.
func web(args []string) error {
	fs := flag.NewFlagSet("web", flag.ExitOnError)
	base := fs.String("url", "", "server URL")
	dir := fs.String("dir", "", "folder gen wrote")
	c := fs.Int("c", 20, "concurrent clients")
	dur := fs.Duration("d", 20*time.Second, "how long")
	fs.Parse(args)
	man, err := readManifest(*dir)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *c}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookie, err := login(client, *base)
	if err != nil {
		return err
	}
	pages := map[string][]time.Duration{}
	var mu sync.Mutex
	var fails atomic.Int64
	var firstFail atomic.Value
	end := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for i := range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for k := 0; time.Now().Before(end); k++ {
				page, path := "overview", "/"
				if k%2 == 1 {
					sv := man.Servers[r.IntN(len(man.Servers))]
					o, name, _ := strings.Cut(sv, "/")
					page, path = "server", "/orgs/"+url.PathEscape(o)+"/servers/"+url.PathEscape(name)
				}
				req, _ := http.NewRequest("GET", *base+path, nil)
				req.Header.Set("Cookie", cookie)
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", path, resp.Status)
					}
				}
				d := time.Since(t)
				if err != nil {
					fails.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				pages[page] = append(pages[page], d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out := map[string]any{"clients": *c, "seconds": dur.Seconds(), "failures": fails.Load()}
	if f := firstFail.Load(); f != nil {
		out["first_failure"] = f
	}
	for page, ds := range pages {
		slices.Sort(ds)
		q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
		out[page] = map[string]any{"requests": len(ds), "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": q(1)}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// login goes through the login form as a browser does and returns the
// session cookie to send.
func login(client *http.Client, base string) (string, error) {
	resp, err := client.Get(base + "/login")
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var csrf string
	for _, ck := range resp.Cookies() {
		if ck.Name == "exhunt_login" {
			csrf = ck.Value
		}
	}
	form := url.Values{"user": {benchUser}, "password": {benchPassword}, "csrf": {csrf}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "exhunt_login="+csrf)
	resp, err = client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "exhunt_session" && ck.Value != "" {
			return "exhunt_session=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("login failed: %s", resp.Status)
}

// report prints the table of bench/serve.sh from its result files:
// DIR/<backend>.ingest.json, .web.json and .rss (VmHWM in kB).
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	dir := fs.String("dir", "", "results folder")
	fs.Parse(args)
	fmt.Printf("%-14s %10s %9s %14s %9s %14s %13s %13s %10s %22s %6s\n", "backend", "findings", "hunt s", "findings/s", "decoy s", "decoy events/s", "overview p95", "server p95", "serve RSS", "CPU ms/page serve+db", "load")
	for _, be := range fs.Args() {
		var in, w map[string]any
		b, _ := os.ReadFile(filepath.Join(*dir, be+".ingest.json"))
		json.Unmarshal(b, &in) // absent for a base run: its ingest is the backend's
		b, err := os.ReadFile(filepath.Join(*dir, be+".web.json"))
		if err != nil {
			return err
		}
		json.Unmarshal(b, &w)
		rss, _ := os.ReadFile(filepath.Join(*dir, be+".rss"))
		var kb float64
		fmt.Sscan(string(rss), &kb)
		p95 := func(page string) string {
			m, _ := w[page].(map[string]any)
			if m == nil {
				return "-"
			}
			return fmt.Sprintf("%.1f ms", m["p95_ms"])
		}
		num := func(k string) float64 { f, _ := in[k].(float64); return f }
		// .cpu: serve ticks, database ticks, ticks a second, load generator
		// CPU seconds, load average at the end.
		cpu, _ := os.ReadFile(filepath.Join(*dir, be+".cpu"))
		var st, dt, hz, gen, load float64
		fmt.Sscan(string(cpu), &st, &dt, &hz, &gen, &load)
		var reqs float64
		for _, page := range []string{"overview", "server"} {
			if m, _ := w[page].(map[string]any); m != nil {
				f, _ := m["requests"].(float64)
				reqs += f
			}
		}
		perReq := "-"
		if reqs > 0 && hz > 0 {
			perReq = fmt.Sprintf("%.2f+%.2f (gen %.2f)", 1000*st/hz/reqs, 1000*dt/hz/reqs, 1000*gen/reqs)
		}
		fmt.Printf("%-14s %10.0f %9.1f %14.0f %9.1f %14.0f %13s %13s %7.0f MB %22s %6.1f\n", be, num("hunt_items"), num("hunt_seconds"), num("hunt_per_second"),
			num("decoy_seconds"), num("decoy_per_second"), p95("overview"), p95("server"), kb/1024, perReq, load)
	}
	return nil
}
