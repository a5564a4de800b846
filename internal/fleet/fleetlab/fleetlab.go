// Package fleetlab writes a replay of the 2021 Exchange campaign across a
// fleet of customers, with its ground truth: what the fleet server must
// show and when it must alert.
package fleetlab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
)

// FleetOptions sizes the fleet replay.
type FleetOptions struct {
	Out     string
	Orgs    int
	Servers int
	Seed    uint64
}

// FleetOrg is one organisation of the replay.
type FleetOrg struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Sector string `json:"sector"`
}

// FleetTruth is what the replay holds, for tests and the demo to check.
type FleetTruth struct {
	Orgs    []FleetOrg          `json:"orgs"`
	Servers []FleetServerTruth  `json:"servers"`
	Spike   FleetSpikeTruth     `json:"spike"`
	Targets []string            `json:"targeted_orgs"`
	Runs    int                 `json:"runs"`
	PerOrg  map[string][2]int   `json:"affected_exploited_per_org"`
	PerSec  map[string][2]int   `json:"affected_exploited_per_sector"`
	Notes   map[string]string   `json:"notes"`
	byKey   map[string]*fsState `json:"-"`
}

// FleetServerTruth is one server's expected end state.
type FleetServerTruth struct {
	Org     string      `json:"org"`
	Name    string      `json:"name"`
	State   fleet.State `json:"state"`
	Patched time.Time   `json:"patched,omitzero"`
}

// FleetSpikeTruth is the night of 28 February.
type FleetSpikeTruth struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Orgs  []string  `json:"orgs"`
}

// The campaign's public timeline.
var (
	fleetStart      = time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC)
	fleetTargeted   = time.Date(2021, 1, 6, 0, 0, 0, 0, time.UTC)
	fleetRamp       = time.Date(2021, 2, 26, 0, 0, 0, 0, time.UTC)
	fleetSpike      = time.Date(2021, 2, 28, 22, 0, 0, 0, time.UTC)
	fleetDisclosure = time.Date(2021, 3, 2, 17, 0, 0, 0, time.UTC)
	fleetMass       = time.Date(2021, 3, 3, 0, 0, 0, 0, time.UTC)
	fleetEnd        = time.Date(2021, 3, 10, 0, 0, 0, 0, time.UTC)
)

var fleetSectors = []string{"infectious-disease-research", "law", "higher-education", "defence", "policy-think-tank", "ngo", "manufacturing", "local-government"}

type fsState struct {
	org, name string
	findings  []finding.Finding
	patched   time.Time
	dirty     bool
}

const (
	buildVulnerable = "15.1.2176.2" // Exchange 2016 CU19, before March 2021
	buildPatched    = "15.1.2176.9" // CU19 Mar21SU
	shellHash       = "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0"
)

// GenerateFleet writes DIR/orgs.json, DIR/replay.jsonl (ingest messages in
// time order) and DIR/truth.json.
func GenerateFleet(opt FleetOptions) (*FleetTruth, error) {
	if opt.Orgs < 12 || opt.Servers < opt.Orgs {
		return nil, fmt.Errorf("lab fleet: want at least 12 organisations and one server each")
	}
	r := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	tr := &FleetTruth{PerOrg: map[string][2]int{}, PerSec: map[string][2]int{}, byKey: map[string]*fsState{}, Notes: map[string]string{
		"baseline": "internet scanning January-February 2021 with a daily cycle",
		"targeted": "two organisations from 2021-01-06: mailboxes read through the SSRF, no web shell",
		"spike":    "exploitation across about ten organisations in the night of Sunday 2021-02-28",
		"mass":     "web shells on unpatched servers from 2021-03-03",
	}}
	var servers [][]*fsState
	for i := range opt.Orgs {
		o := FleetOrg{ID: fmt.Sprintf("org%02d", i+1), Sector: fleetSectors[i%len(fleetSectors)]}
		o.Name = fmt.Sprintf("Customer %02d (%s)", i+1, o.Sector)
		tr.Orgs = append(tr.Orgs, o)
		n := opt.Servers / opt.Orgs
		if i < opt.Servers%opt.Orgs {
			n++
		}
		var list []*fsState
		for j := range n {
			s := &fsState{org: o.ID, name: fmt.Sprintf("EX%02d", j+1)}
			// Patched on different dates after disclosure; a quarter never.
			if r.Float64() < 0.75 {
				s.patched = fleetDisclosure.Add(time.Duration(r.IntN(8*24)) * time.Hour)
			}
			tr.byKey[o.ID+"/"+s.name] = s
			list = append(list, s)
		}
		servers = append(servers, list)
	}
	perm := r.Perm(opt.Orgs)
	targeted := []int{perm[0], perm[1]}
	spikeOrgs := perm[2:12]
	for _, i := range targeted {
		tr.Targets = append(tr.Targets, tr.Orgs[i].ID)
	}
	for _, i := range spikeOrgs {
		tr.Spike.Orgs = append(tr.Spike.Orgs, tr.Orgs[i].ID)
	}
	sort.Strings(tr.Spike.Orgs)
	tr.Spike.Start, tr.Spike.End = fleetSpike, fleetSpike.Add(5*time.Hour)

	scanners := []string{"45.146.164.110", "193.118.53.202", "162.142.125.10", "167.94.138.35", "71.6.199.23"}
	add := func(s *fsState, f finding.Finding) {
		f.Server = s.name
		s.findings = append(s.findings, f)
		s.dirty = true
	}
	probe := func(s *fsState, at time.Time, ip string) {
		add(s, finding.Finding{Rule: "exchange-autodiscover-probe", Title: "Autodiscover probe for the SSRF", Stage: finding.StageReconnaissance, Severity: finding.SeverityLow,
			Time: at, ClientIP: ip, UserAgent: "Mozilla/5.0 zgrab/0.x", Source: finding.Source{File: "W3SVC1/u_ex" + at.Format("060102") + ".log", Line: int64(at.Minute()*60 + at.Second() + 1), Kind: "iis"}})
	}
	ssrf := func(s *fsState, at time.Time, ip, ua string) {
		add(s, finding.Finding{Rule: "proxylogon-ssrf-answered", Title: "CVE-2021-26855 SSRF answered by the back end", Stage: finding.StageExploitation, Severity: finding.SeverityHigh,
			CVEs: []string{"CVE-2021-26855"}, Time: at, ClientIP: ip, UserAgent: ua, Source: finding.Source{File: "Logging/HttpProxy/Ecp/HttpProxy_" + at.Format("2006010215") + "-1.LOG", Line: int64(at.Minute() + 2), Kind: "httpproxy"}})
	}
	mailbox := func(s *fsState, at time.Time, ip, mb string) {
		add(s, finding.Finding{Rule: "proxylogon-ews-mailbox-read", Title: "Mailbox read through EWS via the SSRF", Stage: finding.StageCollection, Severity: finding.SeverityCritical,
			CVEs: []string{"CVE-2021-26855"}, Time: at, ClientIP: ip, UserAgent: "ExchangeServicesClient/15.00.0913.015", Mailbox: mb,
			Source: finding.Source{File: "Logging/HttpProxy/Ews/HttpProxy_" + at.Format("2006010215") + "-1.LOG", Line: int64(at.Minute() + 5), Kind: "httpproxy"}})
	}
	shell := func(s *fsState, at time.Time, ip string, use bool) {
		path := `C:\inetpub\wwwroot\aspnet_client\system_web\` + []string{"supp0rt.aspx", "discover.aspx", "errorEE.aspx"}[r.IntN(3)]
		add(s, finding.Finding{Rule: "proxylogon-oab-webshell-write", Title: "Web shell written through the OAB virtual directory", Stage: finding.StagePersistence, Severity: finding.SeverityCritical,
			CVEs: []string{"CVE-2021-27065"}, Time: at, ClientIP: ip, UserAgent: "python-requests/2.25.1",
			Source: finding.Source{File: "Logging/ECP/Server/ECPServer" + at.Format("2006010215") + "-1.LOG", Line: 12, Kind: "ecp"},
			File:   &finding.FileInfo{Path: path, Size: 2341, SHA256: shellHash}})
		if use {
			add(s, finding.Finding{Rule: "webshell-command", Title: "Commands run through the web shell", Stage: finding.StageExecution, Severity: finding.SeverityCritical,
				Time: at.Add(20 * time.Minute), ClientIP: ip, UserAgent: "antSword/v2.1", Source: finding.Source{File: "W3SVC1/u_ex" + at.Format("060102") + ".log", Line: 900, Kind: "iis"}})
		}
	}
	pick := func(list []*fsState) *fsState { return list[r.IntN(len(list))] }

	f, err := prepareFleetOut(opt.Out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	emit := func(m *fleet.Run) error {
		b, err := m.Marshal()
		if err != nil {
			return err
		}
		tr.Runs++
		_, err = w.Write(b)
		return err
	}
	hunt := func(s *fsState, at time.Time, id string) *finding.Server {
		v := finding.VerdictClean
		for _, f := range s.findings {
			if f.Stage.Verdict().Rank() > v.Rank() {
				v = f.Stage.Verdict()
			}
		}
		b, st := buildVulnerable, "vulnerable"
		if !s.patched.IsZero() && !at.Before(s.patched) {
			b, st = buildPatched, "patched"
		}
		// Keep the evidence of every stage beyond reconnaissance and the
		// latest probes: a hunt result stays a bounded document.
		var fs []finding.Finding
		recon := 0
		for i := len(s.findings) - 1; i >= 0; i-- {
			if s.findings[i].Stage != finding.StageReconnaissance || recon < 20 {
				fs = append(fs, s.findings[i])
			}
			if s.findings[i].Stage == finding.StageReconnaissance {
				recon++
			}
		}
		slices.Reverse(fs)
		var tl []finding.TimelineEntry
		for _, f := range fs {
			if f.Stage.Rank() >= finding.StagePersistence.Rank() {
				tl = append(tl, finding.TimelineEntry{Time: f.Time, Rule: f.Rule, Stage: f.Stage, Severity: f.Severity, Summary: f.Title, Source: f.Source})
			}
		}
		return &finding.Server{Name: s.name, Verdict: v, Findings: fs, Timeline: tl,
			Build: finding.BuildHistory{Current: b, Chains: []finding.ChainStatus{{Chain: "ProxyLogon", Status: st}}}}
	}
	// The first hunt of every organisation: vulnerable builds, nothing yet.
	for oi, list := range servers {
		res := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", StartedAt: fleetStart}
		for _, s := range list {
			res.Servers = append(res.Servers, *hunt(s, fleetStart, ""))
			s.dirty = false
		}
		if err := emit(&fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: fmt.Sprintf("hunt-%s-initial", tr.Orgs[oi].ID), Org: tr.Orgs[oi].ID, Hunt: res}); err != nil {
			return nil, err
		}
	}
	isSpikeOrg := map[int]bool{}
	for _, i := range spikeOrgs {
		isSpikeOrg[i] = true
	}
	for h := fleetStart.Add(time.Hour); h.Before(fleetEnd); h = h.Add(time.Hour) {
		at := func() time.Time { return h.Add(time.Duration(r.IntN(3600)) * time.Second) }
		// Internet scanning with a daily cycle.
		n := r.IntN(2)
		if hr := h.Hour(); hr >= 7 && hr < 19 {
			n = 1 + r.IntN(3)
		}
		if !h.Before(fleetMass) {
			n += 3 + r.IntN(4)
		}
		for _, oi := range r.Perm(opt.Orgs)[:n] {
			probe(pick(servers[oi]), at(), scanners[r.IntN(len(scanners))])
		}
		// Targeted intrusions: a session every few days, daytime.
		if !h.Before(fleetTargeted) && h.Before(fleetSpike) && h.Hour() == 10 && (h.YearDay()%4 == 0) {
			for k, oi := range targeted {
				s := servers[oi][0]
				t := at()
				ssrf(s, t, "103.77.192.219", "python-requests/2.25.1")
				mailbox(s, t.Add(time.Minute), "103.77.192.219", fmt.Sprintf("director%d@%s.example", k+1, tr.Orgs[oi].ID))
			}
		}
		// The ramp: a few attempts, one organisation now and then.
		if !h.Before(fleetRamp) && h.Before(fleetSpike) && r.IntN(6) == 0 {
			oi := spikeOrgs[r.IntN(len(spikeOrgs))]
			probe(pick(servers[oi]), at(), "89.34.111.11")
		}
		// The night of 28 February: about ten organisations within hours.
		if !h.Before(fleetSpike) && h.Before(tr.Spike.End) {
			for _, oi := range spikeOrgs {
				if h.Equal(fleetSpike) || h.Equal(fleetSpike.Add(time.Hour)) || r.IntN(2) == 0 {
					s := servers[oi][r.IntN(min(2, len(servers[oi])))]
					t := at()
					ssrf(s, t, "89.34.111.11", "python-requests/2.25.1")
					if h.Equal(fleetSpike.Add(time.Hour)) {
						shell(s, t.Add(3*time.Minute), "89.34.111.11", false)
					}
				}
			}
		}
		// Mass exploitation: web shells on unpatched servers, many groups.
		if !h.Before(fleetMass) {
			for oi, list := range servers {
				for _, s := range list {
					if (!s.patched.IsZero() && s.patched.Before(h)) || r.IntN(160) != 0 || isSpikeOrg[oi] && r.IntN(2) == 0 {
						continue
					}
					ip := fmt.Sprintf("5.2.%d.%d", 64+r.IntN(8), 1+r.IntN(250))
					t := at()
					ssrf(s, t, ip, "python-requests/2.25.1")
					shell(s, t.Add(2*time.Minute), ip, r.IntN(3) == 0)
				}
			}
		}
		// Every server with new evidence is hunted in the next hour.
		for oi, list := range servers {
			var res *finding.Result
			for _, s := range list {
				if !s.dirty {
					continue
				}
				if res == nil {
					res = &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", StartedAt: h.Add(time.Hour + time.Duration(5+r.IntN(40))*time.Minute)}
				}
				res.Servers = append(res.Servers, *hunt(s, res.StartedAt, ""))
				s.dirty = false
			}
			if res != nil {
				if err := emit(&fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: fmt.Sprintf("hunt-%s-%s", tr.Orgs[oi].ID, h.Format("2006010215")), Org: tr.Orgs[oi].ID, Hunt: res}); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	sector := map[string]string{}
	for _, o := range tr.Orgs {
		sector[o.ID] = o.Sector
	}
	for _, list := range servers {
		for _, s := range list {
			v := finding.VerdictClean
			for _, f := range s.findings {
				if f.Stage.Verdict().Rank() > v.Rank() {
					v = f.Stage.Verdict()
				}
			}
			st := fleet.ServerState(v, true)
			tr.Servers = append(tr.Servers, FleetServerTruth{Org: s.org, Name: s.name, State: st, Patched: s.patched})
			c, sc := tr.PerOrg[s.org], tr.PerSec[sector[s.org]]
			if st.Affected() {
				c[0]++
				sc[0]++
			}
			if st.Exploited() {
				c[1]++
				sc[1]++
			}
			tr.PerOrg[s.org], tr.PerSec[sector[s.org]] = c, sc
		}
	}
	for name, v := range map[string]any{"orgs.json": tr.Orgs, "truth.json": tr} {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join(opt.Out, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

func prepareFleetOut(out string) (*os.File, error) {
	if out == "" {
		return nil, fmt.Errorf("lab fleet: no output folder")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	return os.Create(filepath.Join(out, "replay.jsonl"))
}
