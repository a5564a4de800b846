package lab

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/rules"
)

// fixtureSize keeps the shared trees small: every scenario, about 600 kB
// each.
const fixtureSize = 9 * 600 << 10

var fixture struct {
	once  sync.Once
	dir   string
	truth *Truth
	err   error
	files map[string][]*logFileInfo // per server, read once
	mu    sync.Mutex
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

func allScenarioOptions(out string, seed int64) Options {
	return Options{Out: out, Servers: len(Scenarios()), Size: fixtureSize, Seed: seed, Scenarios: Scenarios()}
}

// tree returns the shared tree with every scenario (seed 1).
func tree(t *testing.T) (string, *Truth) {
	t.Helper()
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "lab-test-")
		if fixture.err == nil {
			fixture.truth, fixture.err = Generate(context.Background(), allScenarioOptions(fixture.dir, 1))
		}
		fixture.files = map[string][]*logFileInfo{}
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.dir, fixture.truth
}

// serverFiles reads (once) and checks every file of one fixture server.
func serverFiles(t *testing.T, name string) []*logFileInfo {
	t.Helper()
	dir, _ := tree(t)
	fixture.mu.Lock()
	defer fixture.mu.Unlock()
	if f, ok := fixture.files[name]; ok {
		return f
	}
	f := readServer(t, dir, name)
	fixture.files[name] = f
	return f
}

func serverTruth(t *testing.T, scenario string) ServerTruth {
	t.Helper()
	_, truth := tree(t)
	for _, s := range truth.Servers {
		if s.Scenario == scenario {
			return s
		}
	}
	t.Fatalf("no server runs %s", scenario)
	return ServerTruth{}
}

// hashTree hashes every file's path, content and modification time.
func hashTree(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s %d %x\n", filepath.ToSlash(rel), info.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	dir, truth := tree(t)
	again := t.TempDir()
	truth2, err := Generate(t.Context(), allScenarioOptions(again, 1))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := hashTree(t, dir), hashTree(t, again); a != b {
		t.Errorf("same seed, different trees: %s vs %s", a, b)
	}
	j1, _ := json.Marshal(truth)
	j2, _ := json.Marshal(truth2)
	if string(j1) != string(j2) {
		t.Error("same seed, different truth")
	}
	other := t.TempDir()
	if _, err := Generate(t.Context(), allScenarioOptions(other, 2)); err != nil {
		t.Fatal(err)
	}
	if hashTree(t, dir) == hashTree(t, other) {
		t.Error("different seeds, same tree")
	}
}

func TestTruthFile(t *testing.T) {
	dir, truth := tree(t)
	data, err := os.ReadFile(filepath.Join(dir, TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Truth
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(onDisk) != fmt.Sprint(*truth) {
		t.Error("ground-truth.json differs from the returned truth")
	}
	// Slices are [] rather than null, so consumers need no nil checks.
	if strings.Contains(string(data), "null") {
		t.Error("ground-truth.json contains null")
	}
}

func TestScenarioTruth(t *testing.T) {
	tests := []struct {
		scenario     string
		verdict      finding.Verdict
		inconclusive bool
		builds       []string
		mailboxes    []string
		rules        []string // each must appear
		maxStage     finding.Stage
	}{
		{scenario: "clean", verdict: "clean", builds: []string{"15.2.1118.20"}},
		{
			scenario: "proxylogon-full", verdict: "exploited", inconclusive: true, builds: []string{"15.1.2176.2"},
			rules: []string{"cve-2021-26855-ssrf", "cve-2021-27065-reset-vdir-ssrf", "cve-2021-27065-reset-vdir-iis", "cve-2021-27065-set-vdir-script",
				"cve-2021-26858-oab-path", "proxylogon-ecp-js", "webshell-nonstandard-aspx", "volexity-attack-user-agent",
				"file-nonstandard-script", "webshell-file-answered", "file-lsass-dump", "file-staging-archive", "yara:EXHUNT_WEBSHELL_OAB_VirtualDirectory_Dump"},
			maxStage: "execution",
		},
		{
			scenario: "scan-only", verdict: "probed", inconclusive: true, builds: []string{"15.0.1497.12"},
			rules: []string{"cve-2021-26855-ssrf", "proxylogon-ecp-js", "proxyshell-autodiscover-ssrf", "webshell-known-path"}, maxStage: "reconnaissance",
		},
		{
			scenario: "failed-attempts", verdict: "probed", builds: []string{"15.2.792.10"},
			rules: []string{"cve-2021-26855-ssrf", "proxylogon-ecp-js", "volexity-attack-user-agent", "hafnium-post-static-path"}, maxStage: "attempt",
		},
		{
			scenario: "mailbox-theft", verdict: "compromised", inconclusive: true, builds: []string{"15.2.721.2"},
			mailboxes: []string{"ceo@contoso.com", "cfo@contoso.com"},
			rules:     []string{"cve-2021-26855-ssrf", "proxylogon-ecp-js", "volexity-attack-user-agent"}, maxStage: "collection",
		},
		{
			scenario: "proxyshell", verdict: "exploited", inconclusive: true, builds: []string{"15.2.858.5"},
			mailboxes: []string{"administrator@contoso.com"},
			rules: []string{"proxyshell-autodiscover-ssrf", "owassrf-rps-clientinfo", "proxyshell-mailbox-export", "mailbox-import-export-role",
				"remove-mailbox-export", "webshell-nonstandard-aspx", "file-nonstandard-script", "webshell-file-answered", "msert-threat-detected",
				"yara:EXHUNT_WEBSHELL_ProxyShell_PST_Page"},
			maxStage: "execution",
		},
		{
			scenario: "proxynotshell-owassrf", verdict: "attempted", inconclusive: true, builds: []string{"15.1.2507.6"},
			rules: []string{"proxynotshell-autodiscover-ssrf", "owassrf-owa-powershell", "owassrf-rps-clientinfo"}, maxStage: "exploitation",
		},
		{
			scenario: "patched-midway", verdict: "probed", builds: []string{"15.1.2106.2", "15.1.2106.13"},
			rules: []string{"cve-2021-26855-ssrf", "proxylogon-ecp-js", "volexity-attack-user-agent", "hafnium-post-static-path"}, maxStage: "attempt",
		},
		{
			scenario: "known-ip", verdict: "probed", builds: []string{"15.2.986.5"},
			rules: []string{"known-attacker-ip", "hafnium-post-static-path", "cve-2021-26855-ssrf"}, maxStage: "attempt",
		},
	}
	if len(tests) != len(Scenarios()) {
		t.Fatalf("table covers %d scenarios, %d exist", len(tests), len(Scenarios()))
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			st := serverTruth(t, tt.scenario)
			if st.Verdict != string(tt.verdict) {
				t.Errorf("verdict %s, want %s", st.Verdict, tt.verdict)
			}
			if st.Inconclusive != tt.inconclusive {
				t.Errorf("inconclusive %v, want %v", st.Inconclusive, tt.inconclusive)
			}
			if !slices.Equal(st.BuildsSeen, tt.builds) || st.Build != tt.builds[len(tt.builds)-1] {
				t.Errorf("builds %v (current %s), want %v", st.BuildsSeen, st.Build, tt.builds)
			}
			if !slices.Equal(st.Mailboxes, tt.mailboxes) && !(len(st.Mailboxes) == 0 && tt.mailboxes == nil) {
				t.Errorf("mailboxes %v, want %v", st.Mailboxes, tt.mailboxes)
			}
			rules := map[string]bool{}
			top := finding.Stage("")
			for _, f := range st.Findings {
				rules[f.Rule] = true
				if finding.Stage(f.Stage).Rank() > top.Rank() && !f.Supporting {
					top = finding.Stage(f.Stage)
				}
				// line 0: a finding about a whole file of the file hunt
				if !strings.HasPrefix(f.File, st.Name+"/") || f.Line < 1 && (f.Line < 0 || isLogRel(f.File)) || !finding.Stage(f.Stage).Valid() {
					t.Errorf("bad finding %+v", f)
				}
			}
			for _, r := range tt.rules {
				if !rules[r] {
					t.Errorf("no %s finding", r)
				}
			}
			if top != tt.maxStage {
				t.Errorf("highest stage %q, want %q", top, tt.maxStage)
			}
			if tt.verdict == "clean" && (slices.ContainsFunc(st.Findings, func(f ExpectedFinding) bool { return !f.Supporting }) || len(st.Attackers) > 0) {
				t.Errorf("clean server has findings or attackers: %+v", st)
			}
			if tt.verdict != "clean" && len(st.Attackers) == 0 {
				t.Error("no attackers")
			}
			for _, ip := range st.Attackers {
				known := slices.Contains(volexityIPs, ip)
				doc := hasAnyPrefix(ip, "203.0.113.", "198.51.100.", "192.0.2.")
				if tt.scenario == "known-ip" && !known || tt.scenario != "known-ip" && !doc {
					t.Errorf("attacker %s is not from the expected ranges", ip)
				}
			}
			if !slices.IsSortedFunc(st.Findings, func(a, b ExpectedFinding) int {
				return strings.Compare(fmt.Sprintf("%s\x00%020d\x00%s", a.File, a.Line, a.Rule), fmt.Sprintf("%s\x00%020d\x00%s", b.File, b.Line, b.Rule))
			}) {
				t.Error("findings not sorted by file, line, rule")
			}
		})
	}
}

// indicators: what each rule's line must contain, whatever else it says.
var indicators = map[string][]string{
	"cve-2021-26855-ssrf":             {"ServerInfo~", "X-AnonResource-Backend-Cookie"},
	"cve-2021-27065-reset-vdir-ssrf":  {"Reset"},
	"cve-2021-27065-reset-vdir-iis":   {"schema=Reset"},
	"cve-2021-27065-set-vdir-script":  {"<script"},
	"cve-2021-26858-oab-path":         {"Download failed and temporary file"},
	"proxylogon-ecp-js":               {".js "},
	"hafnium-post-static-path":        {"/ecp/default.flt", "/ecp/main.css", "/owa/auth/Current/"},
	"volexity-attack-user-agent":      {"python-requests/2.25.1", "ExchangeServicesClient/0.0.0.0", "DuckDuckBot", "Baiduspider", "antSword"},
	"known-attacker-ip":               refKnownIPs,
	"webshell-known-path":             {".aspx"},
	"webshell-nonstandard-aspx":       {".aspx"},
	"webshell-file-answered":          {".aspx"},
	"proxyshell-autodiscover-ssrf":    {"autodiscover.json"},
	"proxynotshell-autodiscover-ssrf": {"autodiscover.json"},
	"owassrf-owa-powershell":          {"%40outlook.com/powershell"},
	"owassrf-rps-clientinfo":          {"Python PSRP Client"},
	"proxyshell-mailbox-export":       {"New-MailboxExportRequest"},
	"mailbox-import-export-role":      {"Mailbox Import Export"},
	"remove-mailbox-export":           {"Remove-MailboxExportRequest"},
	// event rules: a value of the event holds one of these
	ruleWorkerChild:   {`inetsrv\w3wp.exe`},
	ruleLsassDump:     {"comsvcs.dll, MiniDump", `system32\lsass.exe`},
	ruleProcDump:      {"comsvcs.dll, MiniDump"},
	sigmaLsassComsvcs: {`comsvcs.dll+`},
	ruleArchive:       {`-t7z`},
	ruleUMCast:        {"System.InvalidCastException"},
	ruleUMCrash:       {"UMWorkerProcess"},
	ruleVdirEvent:     {"<script"},
	ruleLogCleared:    {"LogFileCleared"},
	sigmaChopper:      {"&echo [S]&cd&echo [E]"},
	sigmaWebChild:     {`inetsrv\w3wp.exe`},
	sigmaComsvcs:      {"comsvcs.dll, MiniDump"},
	sigmaHafnium:      {` -t7z `},
	sigmaOabVdir:      {"http://f/<script"},
	sigmaSetOabURL:    {"Page_Load"},
	sigmaProxyShellOK: {"autodiscover.json"},
}

// eventRecord returns the values of one record of an .evtx file of the
// tree, joined by newlines.
func eventRecord(t *testing.T, root, rel string, id int64) (string, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := evtx.Open(bytes.NewReader(data), int64(len(data)), evtx.Options{Name: rel})
	if err != nil {
		t.Fatal(err)
	}
	var out string
	found := false
	st, err := r.Events(t.Context(), 1, func(e *evtx.Event) error {
		if int64(e.RecordID) == id {
			found = true
			for _, f := range e.Fields {
				out += f.Value + "\n"
			}
		}
		return nil
	})
	if err != nil || len(st.Corrupt) > 0 {
		t.Fatalf("%s: %v %v", rel, err, st.Corrupt)
	}
	return out, found
}

// TestTruthMatchesLogs re-derives every finding from the files with the
// reference rules: the truth must list exactly those (so no background line
// triggers a rule, and every truth line number is right), and its
// attackers, mailboxes, builds, verdict and inconclusive flag must follow
// from the files too.
func TestTruthMatchesLogs(t *testing.T) {
	_, truth := tree(t)
	for _, st := range truth.Servers {
		t.Run(st.Scenario, func(t *testing.T) {
			files := serverFiles(t, st.Name)
			d := derive(files)
			var want []string
			for _, f := range st.Findings {
				if isLogRel(f.File) && !strings.HasSuffix(f.File, ".evtx") {
					want = append(want, findingKey(f.File, f.Line, f.Rule, f.Stage))
				}
			}
			// requests the planted web shells answered (TestPlantedFiles
			// checks the files themselves)
			d.findings = append(d.findings, shellAnswers(files, st)...)
			slices.Sort(d.findings)
			slices.Sort(want)
			for _, k := range diff(d.findings, want) {
				t.Errorf("found in the logs but not in the truth: %s", k)
			}
			for _, k := range diff(want, d.findings) {
				t.Errorf("in the truth but not found in the logs: %s", k)
			}
			raw := map[string]string{}
			for _, fi := range files {
				for _, r := range fi.rows {
					raw[fmt.Sprintf("%s:%d", r.rel, r.line)] = r.raw
				}
			}
			dir, _ := tree(t)
			for _, f := range st.Findings {
				if !isLogRel(f.File) {
					continue // files of the file hunt: TestPlantedFiles
				}
				if strings.HasSuffix(f.File, ".evtx") {
					// Event findings are checked record by record here;
					// that no background event gives one is the hunt's
					// test against the truth (internal/hunt).
					rec, ok := eventRecord(t, dir, f.File, f.Line)
					if !ok {
						t.Errorf("%s: no record %d", f.File, f.Line)
					} else if !containsAny(rec, indicators[f.Rule]) {
						t.Errorf("%s record %d: %s event lacks its indicator: %s", f.File, f.Line, f.Rule, rec)
					}
					continue
				}
				line, ok := raw[fmt.Sprintf("%s:%d", f.File, f.Line)]
				if !ok {
					t.Errorf("%s:%d: no such data line", f.File, f.Line)
					continue
				}
				if !containsAny(line, indicators[f.Rule]) {
					t.Errorf("%s:%d: %s line lacks its indicator: %s", f.File, f.Line, f.Rule, line)
				}
			}
			if !slices.Equal(d.attackers, st.Attackers) {
				t.Errorf("attackers in the logs %v, truth %v", d.attackers, st.Attackers)
			}
			if !slices.Equal(d.mailboxes, st.Mailboxes) {
				t.Errorf("mailboxes in the logs %v, truth %v", d.mailboxes, st.Mailboxes)
			}
			if !slices.Equal(d.buildsSeen, st.BuildsSeen) {
				t.Errorf("builds in the logs %v, truth %v", d.buildsSeen, st.BuildsSeen)
			}
			verdict := finding.VerdictClean
			for _, f := range st.Findings {
				if v := finding.Stage(f.Stage).Verdict(); v.Rank() > verdict.Rank() && !f.Supporting {
					verdict = v
				}
			}
			if string(verdict) != st.Verdict {
				t.Errorf("verdict %s, findings imply %s", st.Verdict, verdict)
			}
			if inc := len(Exposed(testBuild(t, d.buildsSeen[0]).Fixes, d.first)) > 0; inc != st.Inconclusive {
				t.Errorf("inconclusive %v, logs starting %v on %s imply %v", st.Inconclusive, d.first, d.buildsSeen[0], inc)
			}
		})
	}
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// TestFormats checks what the reader cannot: file naming, times and
// modification times, field lists by build, and that the quirks the
// brief asks for all occur somewhere.
func TestFormats(t *testing.T) {
	dir, truth := tree(t)
	var restarts, altRestarts, bareServers, gzServers int
	for i, st := range truth.Servers {
		files := serverFiles(t, st.Name)
		bare, gz := 0, 0
		proxyFiles := 0
		for _, fi := range files {
			name := strings.TrimSuffix(path.Base(fi.rel), ".gz")
			if strings.HasSuffix(fi.rel, ".gz") {
				gz++
			}
			checkNameTimes(t, fi, name)
			info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(fi.rel)))
			if err != nil {
				t.Fatal(err)
			}
			if mt := info.ModTime().UTC(); mt.Before(fi.last) || mt.Sub(fi.last) >= time.Second {
				t.Errorf("%s: modified %v, last line %v", fi.rel, mt, fi.last)
			}
			switch fi.kind {
			case kIIS:
				port := "443"
				if strings.Contains(fi.rel, "/W3SVC2/") {
					port = "444"
				}
				for _, r := range fi.rows {
					if r.f["s-port"] != port {
						t.Fatalf("%s:%d: port %s", r.rel, r.line, r.f["s-port"])
					}
				}
				restarts += fi.restarts
				if fi.restarts > 0 && slices.ContainsFunc(fi.fieldSets, func(s string) bool { return strings.Contains(s, "cs-host") }) {
					altRestarts++
				}
			case kProxy:
				proxyFiles++
				if fi.bareHeader {
					bare++
				}
				for _, v := range fi.versions {
					b := testBuild(t, normalizeVersion(v))
					wantFields := 69
					if b.newProxyFields() {
						wantFields = 74
					}
					for _, fs := range fi.fieldSets {
						if n := len(strings.Split(fs, ",")); n != wantFields {
							t.Errorf("%s: %d fields for build %s, want %d", fi.rel, n, b.Version, wantFields)
						}
					}
					for _, r := range fi.rows {
						got := strings.Join([]string{r.f["MajorVersion"], r.f["MinorVersion"], r.f["BuildVersion"], r.f["RevisionVersion"]}, ".")
						if got != b.Version {
							t.Fatalf("%s:%d: row build %s, #Version %s", r.rel, r.line, got, v)
						}
					}
				}
			}
		}
		if bare > 0 {
			bareServers++
			if bare != proxyFiles || i%4 != 1 {
				t.Errorf("%s: %d of %d HttpProxy files have a bare header", st.Name, bare, proxyFiles)
			}
		}
		if gz > 0 {
			gzServers++
			if st.Scenario != "scan-only" {
				t.Errorf("%s (%s) has gzipped files", st.Name, st.Scenario)
			}
			if !slices.ContainsFunc(st.Findings, func(f ExpectedFinding) bool { return strings.HasSuffix(f.File, ".gz") }) {
				t.Errorf("%s: no finding in a gzipped file", st.Name)
			}
		}
	}
	if restarts == 0 || altRestarts == 0 {
		t.Errorf("IIS restarts mid-file: %d, with a changed field list: %d", restarts, altRestarts)
	}
	if bareServers == 0 || gzServers != 1 {
		t.Errorf("servers with bare HttpProxy headers: %d, with gzipped files: %d", bareServers, gzServers)
	}
}

// checkNameTimes checks that every line of a file falls in the hour or day
// its name says.
func checkNameTimes(t *testing.T, fi *logFileInfo, name string) {
	t.Helper()
	pat := map[logKind]struct{ prefix, date, suffix string }{
		kIIS: {"u_ex", "060102", ".log"}, kProxy: {"HttpProxy_", "2006010215", "-1.LOG"}, kECP: {"ECPServer", "20060102", "-1.LOG"},
		kOAB: {"OABGeneratorLog_", "20060102", "-1.LOG"}, kRpsHTTP: {"Rps_Http_", "2006010215", "-1.LOG"},
		kRpsCmdlet: {"Rps_Cmdlet_", "2006010215", "-1.LOG"}, kEWS: {"Ews_", "2006010215", "-1.LOG"},
	}[fi.kind]
	date, ok := strings.CutPrefix(name, pat.prefix)
	date, ok2 := strings.CutSuffix(date, pat.suffix)
	start, err := time.Parse(pat.date, date)
	if !ok || !ok2 || err != nil {
		t.Fatalf("%s: name is not %s<%s>%s", fi.rel, pat.prefix, pat.date, pat.suffix)
	}
	period := 24 * time.Hour
	if len(pat.date) == 10 {
		period = time.Hour
	}
	for _, r := range fi.rows {
		if r.time.Before(start) || !r.time.Before(start.Add(period)) {
			t.Fatalf("%s:%d: time %v outside the file's period", r.rel, r.line, r.time)
		}
	}
}

// TestCleanBackground scans the clean server's raw lines for every
// indicator the background must avoid, and checks the benign look-alikes
// are there.
func TestCleanBackground(t *testing.T) {
	st := serverTruth(t, "clean")
	files := serverFiles(t, st.Name)
	forbidden := []string{
		"serverinfo~", "x-beresource", "x-anonresource", "x-rps-cat", "schema=reset", "<script",
		"new-mailboxexportrequest", "mailbox import export", "remove-mailboxexportrequest",
		"antsword", "python-requests", "exchangeservicesclient/0.0.0.0", "python psrp client",
		"duckduckbot", "facebookexternalhit", "baiduspider", "bingbot", "googlebot", "exabot", "yahoo! slurp", "yandexbot",
		"chrome/51.0.2704.103", "203.0.113.", "198.51.100.", "192.0.2.",
	}
	seen := map[string]bool{}
	benign := []string{
		"zgrab", "exporttool", "autodiscover.json/v1.0/", "Protocol=ActiveSync", "Set-OabVirtualDirectory.ExternalUrl='https://",
		`ClientAccess\OAB\Temp`, "HealthCheck.htm", "Exchange BackEnd Probes", "Microsoft WinRM Client", "CensysInspect",
		"Set-OabVirtualDirectory,", "ExchangeServicesClient/15", "/owa/auth/logon.aspx", "(KHTML  like Gecko)",
	}
	for _, fi := range files {
		for _, r := range fi.rows {
			low := strings.ToLower(r.raw)
			for _, f := range forbidden {
				if strings.Contains(low, f) {
					t.Errorf("%s:%d: background contains %q: %s", r.rel, r.line, f, r.raw)
				}
			}
			for _, ip := range refKnownIPs {
				if strings.Contains(r.raw, ip) {
					t.Errorf("%s:%d: background uses Volexity address %s", r.rel, r.line, ip)
				}
			}
			for _, b := range benign {
				if strings.Contains(r.raw, b) {
					seen[b] = true
				}
			}
			if fi.kind == kIIS {
				stem, q := strings.ToLower(r.f["cs-uri-stem"]), strings.ToLower(r.f["cs-uri-query"])
				if strings.Contains(q, "autodiscover/autodiscover.json") ||
					strings.HasSuffix(stem, "autodiscover.json") && (strings.Contains(q, "@") || strings.Contains(q, "%40")) &&
						containsAny(q, []string{"/powershell", "/mapi/", "/ews/", "/owa/"}) ||
					owassrfRe.MatchString(stem) || ecpJSRe.MatchString(stem) {
					t.Errorf("%s:%d: background SSRF shape: %s", r.rel, r.line, r.raw)
				}
				if r.f["cs-method"] == "POST" && (strings.HasPrefix(stem, "/owa/auth/current/") || stem == "/ecp/default.flt" || stem == "/ecp/main.css") {
					t.Errorf("%s:%d: background static-path POST", r.rel, r.line)
				}
				if hasAnySuffix(stem, ".aspx", ".ashx", ".asmx") && hasAnyPrefix(stem, "/aspnet_client/", "/owa/auth/", "/ecp/auth/", "/oab/") && !slices.Contains(standardAspx, stem) {
					t.Errorf("%s:%d: background non-standard page %s", r.rel, r.line, stem)
				}
			}
			if fi.kind == kRpsHTTP && r.f["ClientInfo"] != "Microsoft WinRM Client" && r.f["ClientInfo"] != "Exchange BackEnd Probes" {
				t.Errorf("%s:%d: ClientInfo %q", r.rel, r.line, r.f["ClientInfo"])
			}
			if fi.kind == kOAB && strings.Contains(r.raw, "Download failed") && !strings.Contains(r.raw, `'C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\`) {
				t.Errorf("%s:%d: OAB download outside ClientAccess\\OAB", r.rel, r.line)
			}
		}
	}
	for _, b := range benign {
		if !seen[b] {
			t.Errorf("benign look-alike %q missing from the clean server", b)
		}
	}
}

// textBytes is the total log text of a tree, gzipped files uncompressed.
func textBytes(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == TruthFile || strings.HasSuffix(p, ".evtx") || !isLogRel(filepath.ToSlash(p)) {
			return err // log text only: not event logs, not the files of the file hunt
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(p, ".gz") {
			if r, err = gzip.NewReader(f); err != nil {
				return err
			}
		}
		c, err := io.Copy(io.Discard, r)
		n += c
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSize(t *testing.T) {
	within := func(t *testing.T, got, want int64) {
		t.Helper()
		if d := float64(got-want) / float64(want); d < -0.2 || d > 0.2 {
			t.Errorf("wrote %d bytes, asked for %d (%+.0f%%)", got, want, d*100)
		}
	}
	t.Run("fixture", func(t *testing.T) {
		dir, _ := tree(t)
		within(t, textBytes(t, dir), fixtureSize)
	})
	t.Run("default", func(t *testing.T) {
		// The longest window (78 days) is the hardest to fill evenly.
		dir := t.TempDir()
		if _, err := Generate(t.Context(), Options{Out: dir, Servers: 1, Seed: 3, Scenarios: []string{"patched-midway"}}); err != nil {
			t.Fatal(err)
		}
		within(t, textBytes(t, dir), defaultServerSize)
	})
	t.Run("explicit", func(t *testing.T) {
		dir := t.TempDir()
		const size = 5 << 20
		if _, err := Generate(t.Context(), Options{Out: dir, Servers: 2, Size: size, Seed: 4, Scenarios: []string{"clean", "proxyshell"}}); err != nil {
			t.Fatal(err)
		}
		within(t, textBytes(t, dir), size)
	})
}

func TestOptions(t *testing.T) {
	ctx := t.Context()
	for _, opt := range []Options{
		{Out: t.TempDir(), Servers: 0},
		{Servers: 1},
		{Out: t.TempDir(), Servers: 1, Size: -1},
		{Out: t.TempDir(), Servers: 1, Scenarios: []string{"nope"}},
	} {
		if _, err := Generate(ctx, opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}

	// A folder lab did not write is never replaced.
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "EXCH01"), 0o755)
	if _, err := Generate(ctx, Options{Out: dir, Servers: 1, Size: 200 << 10}); err == nil {
		t.Error("overwrote a foreign EXCH01")
	}

	// A rerun replaces its own output, and cycling assigns scenarios.
	dir = t.TempDir()
	opt := Options{Out: dir, Servers: 3, Size: 3 * 200 << 10, Seed: 7, Scenarios: []string{"known-ip", "clean"}}
	if _, err := Generate(ctx, opt); err != nil {
		t.Fatal(err)
	}
	first := hashTree(t, dir)
	tr, err := Generate(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if hashTree(t, dir) != first {
		t.Error("rerun changed the tree")
	}
	var got []string
	for _, s := range tr.Servers {
		got = append(got, s.Name+"="+s.Scenario)
	}
	if want := []string{"EXCH01=known-ip", "EXCH02=clean", "EXCH03=known-ip"}; !slices.Equal(got, want) {
		t.Errorf("servers %v, want %v", got, want)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cancelled, Options{Out: t.TempDir(), Servers: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestDefaultMix(t *testing.T) {
	if !slices.Equal(Scenarios()[:8], []string{"clean", "proxylogon-full", "scan-only", "failed-attempts", "mailbox-theft", "proxyshell", "proxynotshell-owassrf", "patched-midway"}) ||
		!slices.Contains(Scenarios(), "known-ip") {
		t.Errorf("Scenarios() = %v", Scenarios())
	}
}

func TestExposure(t *testing.T) {
	tests := []struct {
		fixes string
		want  []string
	}{
		{"", nil},
		{"march2021-defense-in-depth", nil},
		{"proxylogon", []string{"proxylogon"}},
		{"proxylogon;proxyshell-partial(CVE-2021-34473;CVE-2021-34523)", []string{"proxylogon"}},
		{"proxylogon;proxyshell;proxynotshell;owassrf", []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"}},
	}
	for _, tt := range tests {
		if got := FixedChains(tt.fixes); !slices.Equal(got, tt.want) {
			t.Errorf("FixedChains(%q) = %v, want %v", tt.fixes, got, tt.want)
		}
	}
	at := func(s string) time.Time { tm, _ := time.Parse(time.DateOnly, s); return tm }
	exposed := []struct {
		fixes, at string
		want      []string
	}{
		{"", "2020-12-20", nil},
		{"", "2021-01-03", nil}, // exploitation began that day, not before
		{"", "2021-01-04", []string{"proxylogon"}},
		{"proxylogon", "2021-03-05", nil},
		{"proxylogon;proxyshell-partial(CVE-2021-34473;CVE-2021-34523)", "2021-09-01", []string{"proxyshell"}},
		{"proxylogon;proxyshell", "2022-12-01", []string{"proxynotshell", "owassrf"}},
		{"proxylogon;proxyshell;proxynotshell;owassrf", "2024-01-01", nil},
	}
	for _, tt := range exposed {
		if got := Exposed(tt.fixes, at(tt.at)); !slices.Equal(got, tt.want) {
			t.Errorf("Exposed(%q, %s) = %v, want %v", tt.fixes, tt.at, got, tt.want)
		}
	}
}

// TestBuildsFromTable: the lab takes its builds from the shipped table,
// whose fixes column must read the same through exchange.LoadTable as
// through the lab's own FixedChains, and a scenario build missing from the
// table stops the run.
func TestBuildsFromTable(t *testing.T) {
	f, err := rules.FS.Open("data/exchange-builds.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		b := testBuild(t, r[2])
		if got, want := FixedChains(b.Fixes), FixedChains(r[5]); !slices.Equal(got, want) {
			t.Errorf("%s: chains fixed %v, table column %q gives %v", r[2], got, r[5], want)
		}
	}
	_, err = Generate(context.Background(), Options{Out: t.TempDir(), Servers: 1, Seed: 1,
		Scenarios: []string{"proxylogon-full"}, Builds: exchangeTable(t, "15.2.1118.20")})
	if err == nil || !strings.Contains(err.Error(), "15.1.2176.2 is not in the build table") {
		t.Errorf("build missing from the table: err %v", err)
	}
}

// testBuild is the lab's view of a build of the shipped table.
func testBuild(t testing.TB, version string) *build {
	t.Helper()
	tab, err := shippedBuilds()
	if err != nil {
		t.Fatal(err)
	}
	b, err := lookupBuild(tab, version)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchangeTable is a build table holding only the given builds.
func exchangeTable(t testing.TB, versions ...string) *exchange.Table {
	t.Helper()
	csv := "product,cu,build,release_date,kind,fixes\n"
	for _, v := range versions {
		csv += "Exchange 2019,CU12," + v + ",2022-04-20,cu,\n"
	}
	tab, err := exchange.LoadTable(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}
