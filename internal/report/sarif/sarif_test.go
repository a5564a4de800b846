package sarif

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
	"github.com/exhunt/exhunt/internal/lab"
	"github.com/exhunt/exhunt/internal/visible"
)

const schemaMissing = "SARIF schema missing: .ci/run must fetch @microsoft/jest-sarif and set EXHUNT_SARIF_SCHEMA"

// The official SARIF 2.1.0 schema is third-party and not kept in the
// repository: CI fetches it (npm package @microsoft/jest-sarif,
// lib/schemas/sarif-2.1.0-rtm.5.json) and names it in EXHUNT_SARIF_SCHEMA.
var loadSARIFSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	path := os.Getenv("EXHUNT_SARIF_SCHEMA")
	if path == "" {
		return nil, fmt.Errorf("%s (it is not set)", schemaMissing)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s (%v)", schemaMissing, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // uri, uri-reference and date-time are checked too
	if err := c.AddResource("sarif-2.1.0.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("sarif-2.1.0.json")
})

// sarifSchemaOrSkip returns the official schema. Without it the test
// skips, except in CI, where a skipped validation would pass unnoticed.
func sarifSchemaOrSkip(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := loadSARIFSchema()
	if err != nil {
		if strings.HasPrefix(err.Error(), schemaMissing) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return sch
}

// validateSARIF checks out against the official schema.
func validateSARIF(t *testing.T, out []byte) {
	t.Helper()
	sch := sarifSchemaOrSkip(t)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("output does not validate against the SARIF 2.1.0 schema:\n%v", err)
	}
}

// sarifDoc is what the tests read back: the parts importers use.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name    string    `json:"name"`
				Version string    `json:"version"`
				Rules   []docRule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful        bool `json:"executionSuccessful"`
			ToolExecutionNotifications []struct {
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []docLocation `json:"locations"`
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		OriginalURIBaseIDs map[string]docArtifact `json:"originalUriBaseIds"`
		Results            []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations           []docLocation     `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          struct {
				Server           string `json:"server"`
				Severity         string `json:"severity"`
				SecuritySeverity string `json:"security-severity"`
			} `json:"properties"`
		} `json:"results"`
		Properties struct {
			Servers []struct {
				Name         string   `json:"name"`
				Verdict      string   `json:"verdict"`
				Inconclusive bool     `json:"inconclusive"`
				Reasons      []string `json:"reasons"`
			} `json:"servers"`
		} `json:"properties"`
	} `json:"runs"`
}

type docRule struct {
	ID                   string `json:"id"`
	HelpURI              string `json:"helpUri"`
	DefaultConfiguration *struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
		Severity         string   `json:"severity"`
	} `json:"properties"`
}

type docArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type docLocation struct {
	PhysicalLocation struct {
		ArtifactLocation docArtifact `json:"artifactLocation"`
		Region           *struct {
			StartLine int64 `json:"startLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

// uriChars is RFC 3986: unreserved, reserved and percent-encoded octets.
var uriChars = regexp.MustCompile(`^(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-F]{2})*$`)

// docFile resolves an artifact location back to the evidence path.
func docFile(t *testing.T, a docArtifact) string {
	t.Helper()
	if !uriChars.MatchString(a.URI) {
		t.Errorf("uri %q is not RFC 3986", a.URI)
	}
	u, err := url.Parse(a.URI)
	if err != nil {
		t.Errorf("uri %q: %v", a.URI, err)
		return ""
	}
	if a.URIBaseID == "" {
		if u.Scheme != "file" {
			t.Errorf("uri %q has no uriBaseId and is not a file: URI", a.URI)
		}
		p := u.Path
		if u.Host != "" {
			p = "//" + u.Host + p // UNC
		} else if len(p) > 2 && p[2] == ':' {
			p = p[1:] // "/C:/x"
		}
		return p
	}
	if a.URIBaseID != rootID {
		t.Errorf("uri %q: uriBaseId %q", a.URI, a.URIBaseID)
	}
	if u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasPrefix(a.URI, "/") {
		t.Errorf("uri %q is not a relative path reference", a.URI)
	}
	p, err := url.PathUnescape(a.URI)
	if err != nil {
		t.Errorf("uri %q: %v", a.URI, err)
	}
	return p
}

// wantLevel is the SARIF level of a severity; SARIF's default for others.
func wantLevel(sev string) string {
	switch sev {
	case "critical", "high":
		return "error"
	case "low", "info":
		return "note"
	}
	return "warning"
}

type findingKey struct {
	server, rule, file string
	line               int64
}

// checkSARIF renders r and checks what importers rely on against r itself.
func checkSARIF(t *testing.T, r *finding.Result, rules []catalog.RuleDoc) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r, rules); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || doc.Schema != schemaURI || len(doc.Runs) != 1 {
		t.Fatalf("version %q, $schema %q, %d runs", doc.Version, doc.Schema, len(doc.Runs))
	}
	run := doc.Runs[0]
	if d := run.Tool.Driver; d.Name != "exhunt" || d.Version != r.Version {
		t.Errorf("driver %q %q, want exhunt %q", d.Name, d.Version, r.Version)
	}
	if _, ok := run.OriginalURIBaseIDs[rootID]; !ok {
		t.Errorf("originalUriBaseIds lacks %s", rootID)
	}

	rulesDoc := run.Tool.Driver.Rules
	if !slices.IsSortedFunc(rulesDoc, func(a, b docRule) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("rules are not sorted by id")
	}
	for i, rd := range rulesDoc {
		if i > 0 && rulesDoc[i-1].ID == rd.ID {
			t.Errorf("rule %s listed twice", rd.ID)
		}
		if sev := rd.Properties.Severity; sev != "" {
			if rd.DefaultConfiguration == nil || rd.DefaultConfiguration.Level != wantLevel(sev) {
				t.Errorf("rule %s: severity %s, defaultConfiguration %+v", rd.ID, sev, rd.DefaultConfiguration)
			}
			if rd.Properties.SecuritySeverity != securitySeverity[finding.Severity(sev)] {
				t.Errorf("rule %s: severity %s, security-severity %q", rd.ID, sev, rd.Properties.SecuritySeverity)
			}
		}
		if !slices.Contains(rd.Properties.Tags, "security") {
			t.Errorf("rule %s: tags %v lack security", rd.ID, rd.Properties.Tags)
		}
	}
	for _, ri := range rules {
		if !slices.ContainsFunc(rulesDoc, func(rd docRule) bool { return rd.ID == ri.ID }) {
			t.Errorf("rule %s missing from tool.driver.rules", ri.ID)
		}
	}

	// every finding is one result, found by where it points
	want := map[findingKey]*finding.Finding{}
	for i := range r.Servers {
		for j := range r.Servers[i].Findings {
			f := &r.Servers[i].Findings[j]
			file := f.Source.File
			if windowsAbs(file) {
				file = strings.ReplaceAll(file, `\`, "/") // separators, not data
			}
			want[findingKey{r.Servers[i].Name, f.Rule, file, f.Source.Line}] = f
		}
	}
	if len(run.Results) != len(want) {
		t.Errorf("%d results, want %d", len(run.Results), len(want))
	}
	prints := map[string]bool{}
	for _, res := range run.Results {
		if res.RuleIndex < 0 || res.RuleIndex >= len(rulesDoc) || rulesDoc[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result of %s: ruleIndex %d does not point at its rule", res.RuleID, res.RuleIndex)
		}
		if len(res.Locations) != 1 {
			t.Errorf("result of %s: %d locations", res.RuleID, len(res.Locations))
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		var line int64
		if pl.Region != nil {
			line = pl.Region.StartLine
		}
		k := findingKey{res.Properties.Server, res.RuleID, docFile(t, pl.ArtifactLocation), line}
		f, ok := want[k]
		if !ok {
			t.Errorf("result %+v matches no finding (uri %q)", k, pl.ArtifactLocation.URI)
			continue
		}
		delete(want, k)
		if res.Level != wantLevel(string(f.Severity)) || res.Properties.Severity != string(f.Severity) ||
			res.Properties.SecuritySeverity != securitySeverity[f.Severity] {
			t.Errorf("%+v: severity %s gave level %q, security-severity %q", k, f.Severity, res.Level, res.Properties.SecuritySeverity)
		}
		if !strings.HasPrefix(res.Message.Text, visible.String(f.Title)) || !strings.Contains(res.Message.Text, visible.String(f.Outcome)) ||
			!strings.Contains(res.Message.Text, visible.String(k.server)) {
			t.Errorf("%+v: message %q lacks title, outcome or server", k, res.Message.Text)
		}
		fp := res.PartialFingerprints[fingerprintKey]
		if len(fp) != 64 || prints[fp] {
			t.Errorf("%+v: partial fingerprint %q missing or repeated", k, fp)
		}
		prints[fp] = true
	}
	for k := range want {
		t.Errorf("no result for finding %+v", k)
	}

	var servers []string
	for _, s := range r.Servers {
		var reasons []string // JSON carries text: invalid UTF-8 becomes U+FFFD
		for _, re := range s.Reasons {
			reasons = append(reasons, strings.ToValidUTF8(re, "\uFFFD"))
		}
		servers = append(servers, fmt.Sprintf("%s %s %v %q", s.Name, s.Verdict, s.Inconclusive, reasons))
	}
	slices.Sort(servers)
	var gotServers []string
	for _, s := range run.Properties.Servers {
		reasons := s.Reasons
		if len(reasons) == 0 {
			reasons = nil
		}
		gotServers = append(gotServers, fmt.Sprintf("%s %s %v %q", s.Name, s.Verdict, s.Inconclusive, reasons))
	}
	if !slices.Equal(gotServers, servers) {
		t.Errorf("run.properties.servers\n%v\nwant\n%v", gotServers, servers)
	}

	gaps := len(r.Gaps)
	for _, s := range r.Servers {
		gaps += len(s.Gaps)
	}
	if len(run.Invocations) != 1 || !run.Invocations[0].ExecutionSuccessful {
		t.Fatalf("invocations %+v", run.Invocations)
	}
	notes := run.Invocations[0].ToolExecutionNotifications
	if len(notes) != gaps {
		t.Errorf("%d notifications for %d gaps", len(notes), gaps)
	}
	for _, n := range notes {
		if n.Level != "warning" || n.Message.Text == "" {
			t.Errorf("notification %+v", n)
		}
		for _, l := range n.Locations {
			docFile(t, l.PhysicalLocation.ArtifactLocation)
		}
	}

	// the same result in another order renders the same bytes
	var again bytes.Buffer
	rev := slices.Clone(rules)
	slices.Reverse(rev)
	if err := Write(&again, reordered(r), rev); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), out) {
		t.Error("output depends on the order of servers, findings, gaps or rules")
	}
	return out
}

// reordered returns r with servers, findings and gaps reversed.
func reordered(r *finding.Result) *finding.Result {
	c := *r
	c.Servers = slices.Clone(r.Servers)
	slices.Reverse(c.Servers)
	for i := range c.Servers {
		c.Servers[i].Findings = slices.Clone(c.Servers[i].Findings)
		slices.Reverse(c.Servers[i].Findings)
		c.Servers[i].Gaps = slices.Clone(c.Servers[i].Gaps)
		slices.Reverse(c.Servers[i].Gaps)
	}
	c.Gaps = slices.Clone(r.Gaps)
	slices.Reverse(c.Gaps)
	return &c
}

// hostileResult carries what attacker-written logs and odd evidence trees
// put into a result: control characters, markup, quotes, non-ASCII and file
// names that are not valid URI paths as they stand.
func hostileResult() (*finding.Result, []catalog.RuleDoc) {
	t0 := time.Date(2021, 3, 3, 5, 12, 44, 123e6, time.UTC)
	hostile := "\"quoted\" <script>alert(1)</script> \x1b[31m\x07\x00\r\n\u2028 ünïcödé 日本語 \xff \u202egpj.exe javascript:alert(1) =cmd|' /C calc'!A0"
	files := []string{
		"EXCH 01/Logging/HttpProxy/Ecp/HttpProxy 2021030305 #1.log",
		"triage.zip!EXCH02/V15/Logging/HttpProxy/Owa/100%!?.log",
		"Überserver/Logging/日本語 file.log",
		"c:relative/not-a-drive.log", // a ':' in the first segment is not a scheme
		"bad\xffutf8/x.log",
		"C:/Program Files/Microsoft/Exchange Server/V15/Logging/HttpProxy/Ecp/live.log",
		`D:\Exchange\Logging\EWS\ews.log`,
		"//fileserver/share/EXCH03/u_ex210303.log",
		"/srv/evidence/EXCH04/u ex210303.log",
	}
	sevs := []finding.Severity{finding.SeverityCritical, finding.SeverityHigh, finding.SeverityMedium, finding.SeverityLow, finding.SeverityInfo}
	var findings []finding.Finding
	for i, file := range files {
		findings = append(findings, finding.Finding{
			Server: "EXCH\x1b]0;pwned\x07", Rule: "hostile-rule", Title: "Title with " + hostile, Stage: finding.StageExecution,
			Outcome: "outcome " + hostile, CVEs: []string{"CVE-2021-26855", "CVE-2021-26855"}, Chain: "proxylogon",
			Severity: sevs[i%len(sevs)], Time: t0.Add(time.Duration(i) * time.Second),
			Source:   finding.Source{File: file, Line: int64(i), Kind: "httpproxy"}, // line 0: no region
			ClientIP: "198.51.100.7", UserAgent: hostile, Mailbox: "admin@contoso.com",
			Fields: map[string]string{"UrlStem": "/ecp/" + hostile, "=cmd": "|calc"},
			IOCs:   []string{"attacker-ips (Volexity, CISA AA21-062A)", hostile},
		})
	}
	findings = append(findings, finding.Finding{Server: "EXCH\x1b]0;pwned\x07", Rule: "rule-not-in-catalog", Title: "unlisted",
		Stage: finding.StageReconnaissance, Severity: finding.Severity("bogus"), Source: finding.Source{File: "a/b.log", Line: 3}})
	r := &finding.Result{
		SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Version: "v1.2.3-<dev>", StartedAt: t0, DurationMS: 1500,
		Roots: []string{`C:\cases\triage.zip`}, Rules: 2,
		Servers: []finding.Server{{
			Name: "EXCH\x1b]0;pwned\x07", Verdict: finding.VerdictExploited, Inconclusive: true, Reasons: []string{hostile},
			Findings: findings,
			Gaps:     []finding.Gap{{File: files[0], Line: 9, Reason: "line too long " + hostile}, {File: files[1], Reason: "truncated"}},
		}, {Name: "EXCH-CLEAN", Verdict: finding.VerdictClean}},
		Gaps: []finding.Gap{{File: "missing root/#1", Reason: "root does not exist"}, {Reason: "no file"}},
	}
	rules := []catalog.RuleDoc{{
		ID: "hostile-rule", Title: "Hostile " + hostile, Description: "Description " + hostile,
		CVEs: []string{"CVE-2021-27065", "CVE-2021-26855", "CVE-2021-26855"}, Chain: "proxylogon", Stage: "execution", Severity: "high",
		References: []string{"not a URI <script>", "https://example.org/ref"},
	}, {
		ID: "unused-rule", Title: "Unused", Severity: "critical", References: []string{"https://example.org/a b"},
	}, {
		ID: "script-rule", Title: "Script", Severity: "low", References: []string{"javascript:alert(1)", "https://example.org/ok"},
	}}
	return r, rules
}

func TestHostile(t *testing.T) {
	r, rules := hostileResult()
	out := checkSARIF(t, r, rules)
	for _, c := range []string{"\x1b", "\x07", "\x00", "<script>"} {
		if bytes.Contains(out, []byte(c)) {
			t.Errorf("output carries %q raw", c)
		}
	}
	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rd := range doc.Runs[0].Tool.Driver.Rules {
		if rd.HelpURI != "" {
			t.Errorf("rule %s: helpUri %q from a first reference that is not a URI", rd.ID, rd.HelpURI)
		}
		if rd.ID == "rule-not-in-catalog" && (rd.DefaultConfiguration != nil || rd.Properties.SecuritySeverity != "") {
			t.Errorf("derived rule entry claims a severity: %+v", rd)
		}
	}
	// what a viewer prints shows hidden characters visibly
	for _, res := range doc.Runs[0].Results {
		if strings.ContainsFunc(res.Message.Text, visible.Hidden) || !strings.Contains(res.Message.Text, "gpj.exe") && res.RuleID == "hostile-rule" {
			t.Errorf("message %q carries a hidden character or lost the payload", res.Message.Text)
		}
	}
	// no uri base can be derived from a relative or multiple roots, but
	// one from an absolute zip root
	if got := doc.Runs[0].OriginalURIBaseIDs[rootID].URI; got != "file:///C:/cases/" {
		t.Errorf("EVIDENCEROOT uri %q, want file:///C:/cases/", got)
	}
	t.Run("schema", func(t *testing.T) { validateSARIF(t, out) })

	// without catalog metadata every rule entry is derived from findings
	out = checkSARIF(t, r, nil)
	t.Run("schema without rules", func(t *testing.T) { validateSARIF(t, out) })
}

func TestEmpty(t *testing.T) {
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Version: "dev"}
	out := checkSARIF(t, r, nil)
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	run := doc["runs"].([]any)[0].(map[string]any)
	if res, ok := run["results"].([]any); !ok || len(res) != 0 {
		t.Errorf("results %v, want [] (an absent array means not analysed)", run["results"])
	}
	t.Run("schema", func(t *testing.T) { validateSARIF(t, out) })
}

func catalogRules(t *testing.T) []catalog.RuleDoc {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Docs()
}

// labResult hunts freshly generated lab evidence for every scenario, as the
// demo does.
func labResult(t *testing.T) *finding.Result {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	scen := lab.Scenarios()
	if _, err := lab.Generate(ctx, lab.Options{Out: dir, Servers: len(scen), Seed: 7, Scenarios: scen}); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := evidence.Discover(ctx, []string{dir}, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := hunt.New(cat, hunt.Options{}).Run(ctx, set, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	res.Version = "test"
	return res
}

func TestLab(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and hunts lab evidence")
	}
	r := labResult(t)
	n := 0
	for _, s := range r.Servers {
		n += len(s.Findings)
	}
	if len(r.Servers) < 8 || n == 0 {
		t.Fatalf("lab result has %d servers and %d findings", len(r.Servers), n)
	}
	rules := catalogRules(t)
	out := checkSARIF(t, r, rules)
	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if len(run.Tool.Driver.Rules) != len(rules) {
		t.Errorf("%d rule entries for %d catalog rules", len(run.Tool.Driver.Rules), len(rules))
	}
	for _, rd := range run.Tool.Driver.Rules {
		if rd.HelpURI == "" || rd.DefaultConfiguration == nil || rd.Properties.SecuritySeverity == "" {
			t.Errorf("catalog rule %s lacks helpUri, level or security-severity", rd.ID)
		}
	}
	// the hunted folder is absolute, so relative locations resolve
	if base := run.OriginalURIBaseIDs[rootID].URI; !strings.HasPrefix(base, "file:///") || !strings.HasSuffix(base, "/") {
		t.Errorf("EVIDENCEROOT uri %q", base)
	}
	t.Run("schema", func(t *testing.T) { validateSARIF(t, out) })
}

func TestFileURI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/var/log/a b.log", "file:///var/log/a%20b.log"},
		{`C:\Program Files\x#1.log`, "file:///C:/Program%20Files/x%231.log"},
		{"c:/x/y.log", "file:///c:/x/y.log"},
		{`\\host\share\a.log`, "file://host/share/a.log"},
		{"//host/share/a.log", "file://host/share/a.log"},
		{"EXCH01/a.log", ""},
		{"c:x.log", ""},
	} {
		got, ok := fileURI(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("fileURI(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	for _, c := range []struct {
		roots []string
		want  string
	}{
		{[]string{"/cases/srv1"}, "file:///cases/srv1/"},
		{[]string{"/cases/srv1/"}, "file:///cases/srv1/"},
		{[]string{"/cases/triage.ZIP"}, "file:///cases/"},
		{[]string{"/cases/srv1/HttpProxy_2021030305.log"}, "file:///cases/srv1/"},
		{[]string{`D:\cases\srv 1`}, "file:///D:/cases/srv%201/"},
		{[]string{"cases/srv1"}, ""},
		{[]string{"/a", "/b"}, ""},
		{nil, ""},
	} {
		if got := evidenceRoot(c.roots).URI; got != c.want {
			t.Errorf("evidenceRoot(%q) = %q, want %q", c.roots, got, c.want)
		}
	}
}

func TestFingerprintStable(t *testing.T) {
	// Dashboards match results across runs by this value: it must not
	// change between releases unless fingerprintKey does.
	const want = "d335bc8e75ad2d5a82c6a0950136815ea88accf0baac1be658f6ee6618e9b0e9"
	if got := fingerprint("cve-2021-26855-ssrf", "EXCH01", "EXCH01/HttpProxy/Ecp/HttpProxy_2021030305.log", 17); got != want {
		t.Errorf("fingerprint changed: %s, was %s", got, want)
	}
	if fingerprint("a", "bc", "", 1) == fingerprint("ab", "c", "", 1) {
		t.Error("fingerprint fields run together")
	}
	if fingerprint("a", "b", "c", 1) == fingerprint("a", "b", "c", 2) {
		t.Error("fingerprint ignores the line")
	}
}

// TestSchemaRejects guards the guard: a schema that failed to load
// into something permissive would let every other validation pass.
func TestSchemaRejects(t *testing.T) {
	var b bytes.Buffer
	r, rules := hostileResult()
	if err := Write(&b, r, rules); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	for name, bad := range map[string]string{
		"level":     strings.Replace(good, `"level": "error"`, `"level": "fatal"`, 1),
		"startLine": strings.Replace(good, `"startLine": 7`, `"startLine": 0`, 1),
		"version":   strings.Replace(good, `"version": "2.1.0"`, `"version": "2.0.0"`, 1),
		"tags":      strings.Replace(good, `"security",`, `"security", "security",`, 1),
	} {
		if bad == good {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		t.Run(name, func(t *testing.T) {
			sch := sarifSchemaOrSkip(t)
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			if sch.Validate(inst) == nil {
				t.Errorf("the schema accepts a document with a bad %s", name)
			}
		})
	}
}
