package remedy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
	"github.com/exhunt/exhunt/internal/lab"
	"github.com/exhunt/exhunt/internal/remedy"
)

// wantUpdates is, per lab build, the updates the build table says to
// install (read off rules/data/exchange-builds.csv): the newest update of
// the installed CU closing every open chain, else the newest CU with one.
var wantUpdates = map[string][]string{
	"15.2.1118.20": nil, // Exchange 2019 CU12 Nov22SU: every chain patched
	"15.1.2176.2":  {"Exchange 2016 CU23", "Exchange 2016 CU23 Nov22SU", "Exchange 2016 CU19 May21SU"},
	"15.0.1497.12": {"Exchange 2013 CU23 Nov22SU"},
	"15.2.792.10":  {"Exchange 2019 CU15", "Exchange 2019 CU8 May21SU"},
	"15.2.721.2":   {"Exchange 2019 CU15", "Exchange 2019 CU7 Mar21SU"},
	"15.2.858.5":   {"Exchange 2019 CU15", "Exchange 2019 CU9 Jul21SU"},
	"15.1.2507.6":  {"Exchange 2016 CU23 Nov22SU"},
	"15.1.2106.13": {"Exchange 2016 CU23", "Exchange 2016 CU23 Nov22SU"},
	"15.2.986.5":   {"Exchange 2019 CU11 Nov22SU"},
}

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func actionsOf(plan []finding.Action, guidance string) []finding.Action {
	var out []finding.Action
	for _, a := range plan {
		if a.Guidance == guidance {
			out = append(out, a)
		}
	}
	return out
}

func steps(plan []finding.Action, step string) []finding.Action {
	var out []finding.Action
	for _, a := range plan {
		if a.Step == step {
			out = append(out, a)
		}
	}
	return out
}

// checkReasons requires every action to name a cause, and every finding
// it names to be one of the server's own.
func checkReasons(t *testing.T, s *finding.Server) {
	t.Helper()
	rules := map[string]bool{"ews-log": true}
	for _, f := range s.Findings {
		rules[f.Rule] = true
	}
	for _, a := range s.Remediation {
		if a.Reason.Empty() {
			t.Errorf("%s: action %s (%q) names no finding or fact", s.Name, a.Guidance, a.Title)
		}
		for _, r := range a.Reason.Findings {
			if !rules[r] {
				t.Errorf("%s: action %s names finding %q the server does not have", s.Name, a.Guidance, r)
			}
		}
		for _, it := range a.Items {
			for _, r := range it.Findings {
				if !rules[r] {
					t.Errorf("%s: item %q of %s names finding %q the server does not have", s.Name, it.Name, a.Guidance, r)
				}
			}
		}
		if len(a.Sources) == 0 {
			t.Errorf("%s: action %s cites no source", s.Name, a.Guidance)
		}
	}
}

// TestLabPlans hunts every lab scenario and requires each plan to hold
// exactly what the ground truth implies.
func TestLabPlans(t *testing.T) {
	dir := t.TempDir()
	scen := lab.Scenarios()
	truth, err := lab.Generate(context.Background(), lab.Options{Out: dir, Servers: len(scen), Seed: 7, Scenarios: scen})
	if err != nil {
		t.Fatal(err)
	}
	cat := loadCatalog(t)
	set, err := evidence.Discover(context.Background(), []string{dir}, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := hunt.New(cat, hunt.Options{}).Run(context.Background(), set, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*finding.Server{}
	for i := range res.Servers {
		servers[res.Servers[i].Name] = &res.Servers[i]
	}
	for _, st := range truth.Servers {
		t.Run(st.Scenario, func(t *testing.T) {
			s := servers[st.Name]
			if s == nil {
				t.Fatalf("%s not in the result", st.Name)
			}
			plan := s.Remediation
			checkReasons(t, s)
			bad := st.Verdict == "compromised" || st.Verdict == "exploited"

			// containment only for compromised or exploited servers
			if got := len(steps(plan, finding.StepContain)); (got > 0) != bad {
				t.Errorf("verdict %s: %d containment actions", st.Verdict, got)
			}

			// credential reset exactly when a dump or execution was found
			exec := false
			for _, f := range st.Findings {
				if f.Stage == string(finding.StageExecution) && !f.Supporting {
					exec = true
				}
			}
			creds := actionsOf(plan, "credentials-reset")
			if (len(creds) > 0) != exec {
				t.Errorf("execution found %v, credential reset actions %d", exec, len(creds))
			}
			for _, a := range creds {
				// the lab's commands run under w3wp as SYSTEM or the computer account
				if !slices.ContainsFunc(a.Reason.Facts, func(f string) bool { return strings.HasPrefix(f, "processes ran as ") }) {
					t.Errorf("credential reset does not say whom the processes ran as: %q", a.Reason.Facts)
				}
			}

			// the update named for the build
			var updates []string
			for _, a := range actionsOf(plan, "patch-update") {
				for _, it := range a.Items {
					updates = append(updates, it.Name)
				}
			}
			want, ok := wantUpdates[st.Build]
			if !ok {
				t.Fatalf("no expected update for build %s", st.Build)
			}
			if !slices.Equal(updates, want) {
				t.Errorf("build %s: updates %q, want %q", st.Build, updates, want)
			}

			// the mailboxes whose owners must be told
			var mbs []string
			for _, a := range actionsOf(plan, "people-mailbox-owners") {
				for _, it := range a.Items {
					mbs = append(mbs, it.Name)
				}
			}
			sort.Strings(mbs)
			if !slices.Equal(mbs, st.Mailboxes) && !(len(mbs) == 0 && len(st.Mailboxes) == 0) {
				t.Errorf("mailboxes %q, want %q", mbs, st.Mailboxes)
			}

			// every file finding of the truth listed once, with the hash of
			// the file in the tree; supporting ones not at all
			listed := map[string]finding.ActionItem{}
			for _, a := range steps(plan, finding.StepPreserve) {
				for _, it := range a.Items {
					if it.Kind != "file" {
						continue
					}
					if _, dup := listed[strings.ToLower(it.Name)]; dup {
						t.Errorf("file %s listed twice", it.Name)
					}
					listed[strings.ToLower(it.Name)] = it
				}
			}
			wantFiles := map[string]bool{}
			for _, f := range st.Findings {
				// file-hunt findings are about whole files (line 0); the
				// Safety Scanner's log is kept as a file too
				msert := f.Rule == "msert-threat-detected"
				if f.Line != 0 && !msert {
					continue
				}
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.File)))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				h := hex.EncodeToString(sum[:])
				found := ""
				for name, it := range listed {
					if strings.HasSuffix(name, strings.ToLower(filepath.Base(f.File))) {
						found = name
						if !msert && it.SHA256 != h {
							t.Errorf("%s: SHA-256 %s, the file's is %s", it.Name, it.SHA256, h)
						}
					}
				}
				if f.Supporting && found != "" {
					t.Errorf("supporting file %s listed for removal", f.File)
				}
				if !f.Supporting {
					if found == "" {
						t.Errorf("file of finding %s (%s) not listed", f.Rule, f.File)
					}
					wantFiles[found] = true
				}
			}
			for name := range listed {
				if !wantFiles[name] {
					t.Errorf("file %s listed but no finding of the truth names it", name)
				}
			}

			// exactly the actions the truth implies
			if got, want := guidanceIDs(plan), impliedActions(t, cat, st, len(want) > 0); !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("plan %v\nwant %v", got, want)
			}

			// a clean server on a patched build keeps its logs, nothing else
			if st.Verdict == "clean" && !st.Inconclusive && len(want) == 0 {
				if len(plan) != 1 || plan[0].Guidance != "recheck-keep-logs" {
					t.Errorf("clean patched server: plan %v, want only recheck-keep-logs", guidanceIDs(plan))
				}
			}
			if got := len(actionsOf(plan, "recheck-older-logs")) > 0; got != st.Inconclusive {
				t.Errorf("inconclusive %v but older-logs action %v", st.Inconclusive, got)
			}
		})
	}
}

func guidanceIDs(plan []finding.Action) []string {
	var out []string
	for _, a := range plan {
		out = append(out, a.Guidance)
	}
	return out
}

// cleanServer is a server with no findings, logs from first for four
// days, on build.
func cleanServer(build string, first time.Time, inconclusive []string) *finding.Server {
	return &finding.Server{
		Name: "EXCH01", Verdict: finding.VerdictClean,
		Inconclusive: len(inconclusive) > 0, Reasons: inconclusive,
		Build: finding.BuildHistory{Current: build, Seen: []finding.BuildSeen{{Build: build, First: first, Last: first.Add(96 * time.Hour), Source: "httpproxy"}}},
		Coverage: []finding.Coverage{{Source: "httpproxy", Files: 96, First: first, Last: first.Add(96 * time.Hour)},
			{Source: "iis", Files: 4, First: first, Last: first.Add(96 * time.Hour)}},
	}
}

func TestCleanServerOnVulnerableBuild(t *testing.T) {
	cat := loadCatalog(t)
	first := time.Date(2021, 2, 27, 6, 0, 0, 0, time.UTC)
	reason := "build 15.2.721.2 was exposed to proxylogon (exploited since 2021-01-03) before the logs begin on 2021-02-27"
	s := cleanServer("15.2.721.2", first, []string{reason})
	s.Remediation = remedy.Plan(s, cat.Builds, cat.Remediation)
	checkReasons(t, s)
	want := []string{"mitigate-proxylogon", "mitigate-proxyshell", "mitigate-proxynotshell", "mitigate-owassrf",
		"patch-update", "recheck-keep-logs", "recheck-older-logs"}
	if got := guidanceIDs(s.Remediation); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	older := actionsOf(s.Remediation, "recheck-older-logs")[0]
	if !strings.Contains(older.Warning, "do not reach back") || !strings.Contains(older.Warning, reason) {
		t.Errorf("older-logs warning %q", older.Warning)
	}
	if len(older.Items) != 1 || !strings.Contains(older.Items[0].Value, "2021-01-03") {
		t.Errorf("older-logs items %+v: want logs back to 2021-01-03", older.Items)
	}
	for _, id := range []string{"mitigate-proxynotshell", "mitigate-owassrf"} {
		if a := actionsOf(s.Remediation, id)[0]; !strings.Contains(a.Warning, "bypass") {
			t.Errorf("%s: warning %q does not say the mitigation is bypassable", id, a.Warning)
		}
	}
	pns := actionsOf(s.Remediation, "mitigate-proxynotshell")[0]
	for _, d := range []string{"2022-09-29", "2022-10-03", "2022-10-07", "RemotePowerShellEnabled"} {
		if !strings.Contains(pns.Detail, d) {
			t.Errorf("ProxyNotShell mitigation lacks %q", d)
		}
	}

	// logs that reach back far enough: no warning, no fetch
	s = cleanServer("15.2.721.2", time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC), nil)
	s.Remediation = remedy.Plan(s, cat.Builds, cat.Remediation)
	if got := guidanceIDs(s.Remediation); slices.Contains(got, "recheck-older-logs") {
		t.Errorf("conclusive server: plan %v has older-logs", got)
	}
}

func TestBuildFacts(t *testing.T) {
	cat := loadCatalog(t)
	first := time.Date(2021, 2, 27, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		build string
		want  []string // guidance ids with step patch
		items []string
	}{
		{"", []string{"patch-find-build"}, nil},
		{"15.1.9999.1", []string{"patch-find-build"}, nil},
		// Exchange 2010 before RU32 lacks the March 2021 update
		{"14.3.496.0", []string{"patch-update"}, []string{"Exchange 2010 SP3 RU32"}},
		{"14.3.513.0", nil, nil},
		{"15.2.2562.17", nil, nil},
	} {
		s := cleanServer(tc.build, first, nil)
		if tc.build == "" {
			s.Build = finding.BuildHistory{}
		}
		s.Remediation = remedy.Plan(s, cat.Builds, cat.Remediation)
		checkReasons(t, s)
		var got, items []string
		for _, a := range steps(s.Remediation, finding.StepPatch) {
			got = append(got, a.Guidance)
			for _, it := range a.Items {
				items = append(items, it.Name)
			}
		}
		if !slices.Equal(got, tc.want) || !slices.Equal(items, tc.items) {
			t.Errorf("build %q: patch actions %v items %q, want %v %q", tc.build, got, items, tc.want, tc.items)
		}
	}
}

func sorted(xs []string) []string { xs = slices.Clone(xs); sort.Strings(xs); return xs }

// impliedActions derives a plan's guidance ids from the ground truth and
// the build table alone.
func impliedActions(t *testing.T, cat *catalog.Catalog, st lab.ServerTruth, update bool) []string {
	t.Helper()
	has := map[string]bool{}
	exec := false
	for _, f := range st.Findings {
		if f.Supporting {
			continue
		}
		has[f.Rule] = true
		if strings.HasPrefix(f.Rule, "yara:") && f.Rule != "yara:EXHUNT_LSASS_Minidump" {
			has["yara:*"] = true
		}
		exec = exec || f.Stage == string(finding.StageExecution)
	}
	hasAny := func(rules ...string) bool { return slices.ContainsFunc(rules, func(r string) bool { return has[r] }) }
	var out []string
	add := func(ok bool, id string) {
		if ok {
			out = append(out, id)
		}
	}
	bad := st.Verdict == "compromised" || st.Verdict == "exploited"
	add(bad, "contain-isolate")
	b, ok := exchange.ParseBuild(st.Build)
	if !ok {
		t.Fatalf("truth build %q", st.Build)
	}
	for _, c := range exchange.Chains {
		status, _ := cat.Builds.Status(b, c.Name)
		add(exchange.Exposed(status) || status == exchange.StatusUnknown, "mitigate-"+c.Name)
	}
	add(update, "patch-update")
	add(hasAny("file-lsass-dump", "yara:EXHUNT_LSASS_Minidump"), "preserve-credential-dumps")
	add(has["file-staging-archive"], "preserve-staged-archives")
	add(hasAny("file-nonstandard-script", "file-ioc-path", "file-ioc-hash", "yara:*"), "preserve-webshells")
	add(has["msert-threat-detected"], "preserve-msert-log")
	add(hasAny("cve-2021-27065-set-vdir-script", "vdir-script-cmdlet-event", "cve-2021-27065-reset-vdir-ssrf", "cve-2021-27065-reset-vdir-iis"), "preserve-vdirs")
	add(hasAny("proxyshell-mailbox-export", "remove-mailbox-export"), "preserve-export-requests")
	add(exec, "credentials-reset")
	add(has["mailbox-import-export-role"], "credentials-import-export-role")
	add(len(st.Mailboxes) > 0, "people-mailbox-owners")
	add(true, "recheck-keep-logs")
	add(st.Inconclusive, "recheck-older-logs")
	add(bad, "recheck-hunt-again")
	return out
}

// FuzzPlan feeds attacker-written field values to the parts of a plan
// that read them (virtual directories, export requests, role
// assignments, scanner logs): no panic, and every action keeps a reason.
func FuzzPlan(f *testing.F) {
	f.Add("S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script>'.Identity='EX\\OAB (Default Web Site)';S:REQID=",
		"-Mailbox 'a@b' -FilePath '\\\\localhost\\c$\\x.aspx'", "C:\\x.aspx;C:\\y.aspx")
	f.Add("-Identity \"\" -ExternalUrl \"", "-User", ";;;")
	cat, err := catalog.Load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ecp, params, resources string) {
		file := &finding.FileInfo{Path: resources, SHA256: "00"}
		s := &finding.Server{Name: "EXCH01", Verdict: finding.VerdictExploited, Build: finding.BuildHistory{Current: "15.1.2176.2"},
			Findings: []finding.Finding{
				{Rule: "cve-2021-27065-set-vdir-script", Stage: finding.StagePersistence, Fields: map[string]string{"EventData": ecp}},
				{Rule: "vdir-script-cmdlet-event", Stage: finding.StagePersistence, Fields: map[string]string{"Parameters": params}},
				{Rule: "proxyshell-mailbox-export", Stage: finding.StagePersistence, Fields: map[string]string{"Parameters": params}},
				{Rule: "remove-mailbox-export", Stage: finding.StagePersistence, Fields: map[string]string{"Parameters": ecp}},
				{Rule: "mailbox-import-export-role", Stage: finding.StagePersistence, Fields: map[string]string{"Parameters": params}},
				{Rule: "msert-threat-detected", Stage: finding.StagePersistence, File: file, Fields: map[string]string{"resources": resources}},
				{Rule: "file-nonstandard-script", Stage: finding.StageExecution, File: file},
			},
			MailboxesAccessed: []finding.MailboxAccess{{Mailbox: params, Answered: true, Via: []string{"ews-log"}}},
		}
		s.Remediation = remedy.Plan(s, cat.Builds, cat.Remediation)
		for _, a := range s.Remediation {
			if a.Reason.Empty() {
				t.Fatalf("action %s without a reason", a.Guidance)
			}
		}
	})
}
