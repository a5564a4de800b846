package html

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/finding"
)

// payloads are placed in every string of the hostile result: log fields,
// file and server names, user agents, reasons, IPs.
var payloads = []string{
	`<script>window.pwned=1</script>`,
	`"><img src=x onerror="document.body.dataset.pwned=1">`,
	`</style><style>body{display:none}</style>`,
	`</script><script>document.body.dataset.pwned=1</script>`,
	`</title><svg onload="document.body.dataset.pwned=1">`,
	`javascript:alert(1)`,
	`'-alert(1)-'`,
	`{{.}}`,
	`]]>`,
	"line\u2028sep\u2029para",
	"ctl\x00\x07\x1b[31m\r\n\x7f\u0085",
	"\u202egpj.exe",
	"bad\xffutf8\xc3",
	"=cmd|' /C calc'!A0",
}

// mustNotAppear are the payload fragments that would be live markup if they
// reached the page unescaped.
var mustNotAppear = []string{
	`<script>window.pwned`, `<img src=x`, `</style><style>`, `<script>document`, `<svg onload`,
	"\x00", "\x07", "\x1b", "\x7f", "\u0085", "\u2028", "\u2029", "\u202e",
}

func hostile(i int) string { return payloads[i%len(payloads)] + "#" + strconv.Itoa(i) }

func hostileResult() *finding.Result {
	t0 := time.Date(2021, 3, 3, 4, 0, 0, 0, time.UTC)
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Version: hostile(0), StartedAt: t0,
		DurationMS: 1234, Rules: 18, Roots: []string{hostile(1), hostile(2)},
		Gaps: []finding.Gap{{File: hostile(3), Reason: hostile(4)}}}
	verdicts := []finding.Verdict{finding.VerdictExploited, finding.VerdictProbed, finding.VerdictClean}
	n := 0
	next := func() string { n++; return hostile(n) }
	for si, v := range verdicts {
		s := finding.Server{Name: next(), Verdict: v, Inconclusive: si == 0, Reasons: []string{next(), next()},
			Build: finding.BuildHistory{Current: next(),
				Seen: []finding.BuildSeen{{Build: next(), Product: next(), Update: next(), First: t0, Last: t0.Add(time.Hour), Source: next()},
					{Build: next(), First: t0.Add(2 * time.Hour), Source: next()}},
				Chains:  []finding.ChainStatus{{Chain: next(), Status: "vulnerable", Note: next()}, {Chain: next(), Status: next(), Note: next()}},
				Changes: []string{next()}},
			Coverage:          []finding.Coverage{{Source: next(), Files: 3, Lines: 1000, First: t0.Add(-time.Hour), Last: t0.Add(48 * time.Hour), Skipped: 1}},
			Gaps:              []finding.Gap{{Server: next(), File: next(), Line: 7, Reason: next()}},
			Attackers:         []finding.Attacker{{IP: next(), UserAgents: []string{next(), next()}, FirstSeen: t0, LastSeen: t0, Requests: 3, MaxStage: finding.StageExecution, IOCs: []string{next()}}},
			MailboxesAccessed: []finding.MailboxAccess{{Mailbox: next(), Answered: true, Requests: 2, Actions: []string{next()}, Via: []string{next()}}},
			Suppressed:        []finding.RuleCount{{Rule: next(), Count: 5}},
		}
		if v != finding.VerdictClean {
			for j := range 12 {
				st, sev := finding.Stage(next()), finding.Severity(next()) // values a tampered file could carry
				if j%3 > 0 {
					st, sev = stageOrder[j%len(stageOrder)], finding.SeverityHigh
				}
				s.Findings = append(s.Findings, finding.Finding{Server: s.Name, Rule: next(), Title: next(), Stage: st, Outcome: next(),
					CVEs: []string{next()}, Chain: next(), Severity: sev, Time: t0.Add(time.Duration(j) * time.Minute),
					Source: finding.Source{File: next(), Line: int64(j + 1), Kind: next()}, ClientIP: next(), UserAgent: next(),
					Mailbox: next(), Fields: map[string]string{next(): next(), "cs-uri-query": next()}, IOCs: []string{next()}})
			}
		}
		r.Servers = append(r.Servers, s)
	}
	return r
}

// fleetResult is an ordinary run: six servers, one with a thousand findings.
func fleetResult() *finding.Result {
	t0 := time.Date(2021, 3, 2, 0, 0, 0, 0, time.UTC)
	cov := func(from time.Time, days int) []finding.Coverage {
		return []finding.Coverage{
			{Source: "httpproxy", Files: 30, Bytes: 3 << 20, Lines: 120000, First: from, Last: from.AddDate(0, 0, days)},
			{Source: "iis", Files: 10, Bytes: 9 << 20, Lines: 480000, First: from.Add(time.Hour), Last: from.AddDate(0, 0, days)},
		}
	}
	chains := func(status ...string) []finding.ChainStatus {
		var out []finding.ChainStatus
		for i, c := range []string{"proxylogon", "proxyshell", "proxynotshell", "owassrf"} {
			out = append(out, finding.ChainStatus{Chain: c, Status: status[i]})
		}
		return out
	}
	f := func(server string, t time.Time, st finding.Stage, line int64) finding.Finding {
		return finding.Finding{Server: server, Rule: "proxylogon-ecp-js", Title: "ProxyLogon request to a made-up .js", Stage: st,
			Outcome: "SSRF delivered", CVEs: []string{"CVE-2021-26855"}, Chain: "proxylogon", Severity: finding.SeverityHigh, Time: t,
			Source:   finding.Source{File: server + "/W3SVC1/u_ex210303.log", Line: line, Kind: "iis"},
			ClientIP: "198.51.100.7", UserAgent: "python-requests/2.25.1",
			Fields: map[string]string{"cs-method": "POST", "cs-uri-stem": "/ecp/y.js", "sc-status": "200"}}
	}
	ex1 := finding.Server{Name: "EXCH01", Verdict: finding.VerdictExploited, Inconclusive: true,
		Reasons: []string{"build 15.1.2106.2 was exposed to proxylogon (exploited since 2021-01-03) before the logs begin on 2021-02-25"},
		Build: finding.BuildHistory{Current: "15.1.2106.13",
			Seen: []finding.BuildSeen{{Build: "15.1.2106.2", Product: "Exchange 2016", Update: "CU18", First: t0.AddDate(0, 0, -5), Last: t0.AddDate(0, 0, 2), Source: "ews"},
				{Build: "15.1.2106.13", Product: "Exchange 2016", Update: "CU18 Mar21SU", First: t0.AddDate(0, 0, 3), Last: t0.AddDate(0, 0, 4), Source: "ews"}},
			Chains:  chains("patched", "vulnerable", "vulnerable", "vulnerable"),
			Changes: []string{"2021-03-05 00:00:00: 15.1.2106.2 -> 15.1.2106.13"}},
		Coverage:          cov(t0.AddDate(0, 0, -5), 10),
		Attackers:         []finding.Attacker{{IP: "198.51.100.7", UserAgents: []string{"python-requests/2.25.1"}, FirstSeen: t0, LastSeen: t0.AddDate(0, 0, 3), Requests: 1000, MaxStage: finding.StageExecution, IOCs: []string{"Volexity"}}},
		MailboxesAccessed: []finding.MailboxAccess{{Mailbox: "ceo@contoso.com", Answered: true, Requests: 6, Actions: []string{"FindItem", "GetItem"}, Via: []string{"ews-log"}}},
		Suppressed:        []finding.RuleCount{{Rule: "proxylogon-ecp-js", Count: 250}},
	}
	for i := range 1000 {
		ex1.Findings = append(ex1.Findings, f("EXCH01", t0.Add(time.Duration(i)*20*time.Second), stageOrder[i%len(stageOrder)], int64(i+1)))
	}
	for i := range 30 {
		ex1.Gaps = append(ex1.Gaps, finding.Gap{Server: "EXCH01", File: fmt.Sprintf("EXCH01/bad%02d.log.gz", i), Reason: "gzip: invalid header"})
	}
	return &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Version: "1.2.3", StartedAt: t0.AddDate(0, 1, 0),
		DurationMS: 3540, Roots: []string{`D:\triage\exchange`}, Rules: 18,
		Servers: []finding.Server{
			{Name: "EXCH04", Verdict: finding.VerdictClean, Build: finding.BuildHistory{Current: "15.2.792.10", Chains: chains("patched", "patched", "patched", "patched")}, Coverage: cov(t0, 7)},
			ex1,
			{Name: "EXCH02", Verdict: finding.VerdictCompromised, Build: finding.BuildHistory{Current: "15.2.721.2", Chains: chains("partial", "patched", "patched", "patched")},
				Coverage: cov(t0, 7), Findings: []finding.Finding{f("EXCH02", t0.Add(time.Hour), finding.StageExploitation, 1),
					f("EXCH02", t0.Add(2*time.Hour), finding.StagePersistence, 2), f("EXCH02", t0.Add(3*time.Hour), finding.StageCollection, 3)}},
			{Name: "EXCH03", Verdict: finding.VerdictProbed, Build: finding.BuildHistory{Current: "15.2.1118.20", Chains: chains("patched", "patched", "patched", "patched")},
				Coverage: cov(t0, 7), Findings: []finding.Finding{f("EXCH03", t0.AddDate(0, 0, 1), finding.StageReconnaissance, 1), f("EXCH03", t0.AddDate(0, 0, 2), finding.StageAttempt, 2)}},
			{Name: "EXCH05", Verdict: finding.VerdictClean, Inconclusive: true, Reasons: []string{"no build found in the logs"}, Coverage: cov(t0, 2)},
			{Name: "EXCH06", Verdict: finding.VerdictAttempted, Build: finding.BuildHistory{Current: "15.1.2507.6", Chains: chains("patched", "patched", "vulnerable", "vulnerable")},
				Coverage: cov(t0.AddDate(1, 8, 0), 3), Findings: []finding.Finding{f("EXCH06", time.Time{}, finding.StageExploitation, 9),
					f("EXCH06", t0.AddDate(1, 8, 1), finding.StageExploitation, 10)}},
		},
	}
}

// fleetWant is what the summary of fleetResult must say.
var fleetWant = map[string]int{
	"count-servers": 6, "count-exploited": 1, "count-compromised": 1, "count-attempted": 1, "count-probed": 1, "count-clean": 2,
	"count-exposed": 3, "count-breached": 2, "count-inconclusive": 2, "ev-shown": 1007, "undated": 1,
}

func render(t *testing.T, r *finding.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// dataCount reads data-count from the element with the given id.
func dataCount(t *testing.T, doc, id string) int {
	t.Helper()
	tag := regexp.MustCompile(`<[a-z]+ [^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(doc)
	m := regexp.MustCompile(`\bdata-count="(\d+)"`).FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("no element with id %q and a data-count", id)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func checkCounts(t *testing.T, doc string, want map[string]int) {
	t.Helper()
	for id, n := range want {
		if got := dataCount(t, doc, id); got != n {
			t.Errorf("%s shows %d, want %d", id, got, n)
		}
	}
}

func TestEscapesHostileEvidence(t *testing.T) {
	r := hostileResult()
	out := render(t, r)
	for _, p := range mustNotAppear {
		if strings.Contains(out, p) {
			i := strings.Index(out, p)
			t.Errorf("output carries %q unescaped: …%s…", p, out[max(0, i-80):min(len(out), i+80)])
		}
	}
	if regexp.MustCompile(`(?i)\b(href|src|action|xlink:href)\s*=\s*["']?\s*javascript:`).MatchString(out) {
		t.Error("a javascript: URL reached an attribute")
	}
	// The payloads are shown, as text.
	for _, want := range []string{`&lt;script&gt;window.pwned=1&lt;/script&gt;`, `\u202egpj.exe`, `ctl\x00\x07\x1b[31m\x0d\x0a\x7f\u0085`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the escaped payload %q", want)
		}
	}
	// The page holds exactly one script and one style, ours, and the CSP
	// allows those by hash and nothing else.
	if n := strings.Count(out, "<script"); n != 1 {
		t.Errorf("%d <script elements, want 1", n)
	}
	if n := strings.Count(out, "<style"); n != 1 {
		t.Errorf("%d <style elements, want 1", n)
	}
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no Content-Security-Policy meta")
	}
	got := html.UnescapeString(m[1])
	if got != csp {
		t.Errorf("CSP %q, want %q", got, csp)
	}
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(out)
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(out)
	if script == nil || style == nil {
		t.Fatal("inline script or style missing")
	}
	for _, want := range []string{"default-src 'none'", "script-src '" + cspHash(script[1]) + "'", "style-src '" + cspHash(style[1]) + "'",
		"img-src data:", "form-action 'none'", "base-uri 'none'"} {
		if !strings.Contains(got, want) {
			t.Errorf("CSP %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "unsafe") || strings.Contains(got, "connect-src") || strings.Contains(got, "frame-src") {
		t.Errorf("CSP too permissive: %q", got)
	}
	if !strings.Contains(out, `<meta name="referrer" content="no-referrer">`) {
		t.Error("no referrer policy")
	}
	checkCounts(t, out, map[string]int{"count-servers": 3, "count-exploited": 1, "count-probed": 1, "count-clean": 1,
		"count-compromised": 0, "count-exposed": 3, "count-breached": 1, "count-inconclusive": 1, "ev-shown": 24})
	if n := strings.Count(out, `<tr class="ev"`); n != 24 {
		t.Errorf("%d evidence rows, want 24", n)
	}
}

func TestFleet(t *testing.T) {
	r := fleetResult()
	out := render(t, r)
	checkCounts(t, out, fleetWant)
	if n := strings.Count(out, `<tr class="ev"`); n != 1007 {
		t.Errorf("%d evidence rows, want 1007", n)
	}
	var order []string
	for _, m := range regexp.MustCompile(`<details class="card [^"]*" id="server-\d+" data-server="([^"]*)"`).FindAllStringSubmatch(out, -1) {
		order = append(order, m[1])
	}
	if got := strings.Join(order, " "); got != "EXCH01 EXCH02 EXCH06 EXCH03 EXCH04 EXCH05" {
		t.Errorf("server cards in order %s, want worst first", got)
	}
	// A thousand findings on one server are aggregated into far fewer marks,
	// and every dated finding is drawn.
	marks := strings.Count(out, `<rect class="m `)
	if marks == 0 || marks > 200 {
		t.Errorf("%d timeline marks for 1006 dated findings", marks)
	}
	if !strings.Contains(out, `data-dated="1006"`) {
		t.Error("not every dated finding is on the timeline")
	}
	// EXCH06 is a year and a half after the rest: the axis is broken once.
	if n := strings.Count(out, `<g class="brk"`); n != 1 {
		t.Errorf("%d axis breaks, want 1", n)
	}
	for _, want := range []string{"… and 20 more", "250</strong> further findings", "15.1.2106.2 -&gt; 15.1.2106.13", "120,000", "1.2.3"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestEmpty(t *testing.T) {
	out := render(t, &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt"})
	checkCounts(t, out, map[string]int{"count-servers": 0, "count-clean": 0, "ev-shown": 0})
	if !strings.Contains(out, "No servers were found") {
		t.Error("empty result not explained")
	}
}

func TestVisText(t *testing.T) {
	for in, want := range map[string]string{
		"EXCH01":                  "EXCH01",
		"a\x1b[31mb\x07":          `a\x1b[31mb\x07`,
		"tab\tnl\n":               `tab\x09nl\x0a`,
		"\u202egpj.exe":           `\u202egpj.exe`,
		"zero\u200bwidth\ufeff":   `zero\u200bwidth\ufeff`,
		"ls\u2028ps\u2029":        `ls\u2028ps\u2029`,
		"tag\U000e0041":           `tag\U000e0041`,
		"bad\xffutf8":             "bad\ufffdutf8",
		"ünïcödé ok — 日本":         "ünïcödé ok — 日本",
		strings.Repeat("é", 3000): strings.Repeat("é", maxText/2) + "… [1904 more bytes]",
	} {
		if got := visText(in); got != want {
			t.Errorf("vis(%.40q) = %.60q, want %.60q", in, got, want)
		}
	}
}

func TestTimeScaleBreaksLongGaps(t *testing.T) {
	t0 := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	pt := func(t time.Time) timeInterval { return timeInterval{t, t} }
	one := newTimeScale([]timeInterval{pt(t0), pt(t0.Add(72 * time.Hour)), pt(t0.Add(5 * 24 * time.Hour))}, 200, 984)
	if len(one) != 1 {
		t.Errorf("five days split into %d segments", len(one))
	}
	three := newTimeScale([]timeInterval{pt(t0), pt(t0.AddDate(0, 5, 0)), pt(t0.AddDate(1, 9, 0)), pt(t0.AddDate(1, 9, 2))}, 200, 984)
	if len(three) != 3 {
		t.Fatalf("three bursts over two years drawn as %d segments", len(three))
	}
	last := 0
	for _, s := range three {
		if s.x < last || s.w <= 0 {
			t.Errorf("segments overlap or are empty: %+v", three)
		}
		last = s.x + s.w
	}
	if last != 200+984 {
		t.Errorf("segments end at %d, want %d", last, 200+984)
	}
	for _, tm := range []time.Time{t0, t0.AddDate(0, 5, 0), t0.AddDate(1, 9, 1)} {
		if x, ok := three.x(tm); !ok || x < 200 || x >= 200+984 {
			t.Errorf("%v placed at %d (%v)", tm, x, ok)
		}
	}
	if _, ok := three.x(t0.AddDate(0, 2, 0)); ok {
		t.Error("a time inside a break was placed")
	}
	many := make([]timeInterval, 0, 20)
	for i := range 20 {
		many = append(many, pt(t0.AddDate(0, 2*i, 0)))
	}
	if n := len(newTimeScale(many, 200, 984)); n > chartMaxSegments {
		t.Errorf("%d segments, at most %d", n, chartMaxSegments)
	}
}

const chromiumPath = "/usr/bin/chromium"

// chromiumDumpDOM loads url in headless Chromium and returns the DOM after the
// page's script ran.
func chromiumDumpDOM(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium's helper processes may outlive a killed browser and hold the
	// pipes open; do not wait for them.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	return stdout.String()
}

func TestInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		const msg = "chromium not installed: .ci/run must apt-get install chromium"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	write := func(name string, r *finding.Result) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(render(t, r)), 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + filepath.ToSlash(p)
	}
	hostileURL, fleetURL := write("hostile.html", hostileResult()), write("fleet.html", fleetResult())
	scanURL := write("scan.html", hostileScan())

	rows := regexp.MustCompile(`<tr class="ev"[^>]*>`)
	visible := func(dom string) int {
		n := 0
		for _, tag := range rows.FindAllString(dom, -1) {
			if !strings.Contains(tag, " hidden") {
				n++
			}
		}
		return n
	}
	// Serialised DOM escapes < in text, so every "<name" is a real element.
	elements := func(t *testing.T, dom string, want map[string]int) {
		t.Helper()
		for el, n := range want {
			if got := len(regexp.MustCompile(`<`+el+`[\s>]`).FindAllString(dom, -1)); got != n {
				t.Errorf("%d <%s> elements in the DOM, want %d", got, el, n)
			}
		}
	}
	ready := regexp.MustCompile(`<body[^>]*\bdata-ready="1"`)

	t.Run("hostile", func(t *testing.T) {
		dom := chromiumDumpDOM(t, hostileURL)
		if !ready.MatchString(dom) {
			t.Fatalf("the page's script did not run (CSP hash wrong?): %s", regexp.MustCompile(`<body[^>]*>`).FindString(dom))
		}
		if regexp.MustCompile(`<[a-zA-Z][^>]*\sdata-pwned`).MatchString(dom) {
			t.Error("a payload ran: data-pwned set")
		}
		elements(t, dom, map[string]int{"script": 1, "style": 1, "img": 0, "iframe": 0, "svg": 1, "body": 1})
		if !strings.Contains(dom, `&lt;script&gt;window.pwned=1&lt;/script&gt;`) {
			t.Error("hostile server name not shown as text")
		}
		checkCounts(t, dom, map[string]int{"count-servers": 3, "count-exploited": 1, "count-probed": 1, "count-clean": 1, "ev-shown": 24})
		if n := len(rows.FindAllString(dom, -1)); n != 24 || visible(dom) != 24 {
			t.Errorf("%d evidence rows (%d visible), want 24", n, visible(dom))
		}
	})

	t.Run("scan", func(t *testing.T) {
		dom := chromiumDumpDOM(t, scanURL)
		if regexp.MustCompile(`<[a-zA-Z][^>]*\sdata-pwned`).MatchString(dom) {
			t.Error("a payload ran: data-pwned set")
		}
		elements(t, dom, map[string]int{"script": 0, "style": 1, "img": 0, "iframe": 0, "svg": 0, "body": 1})
		if !strings.Contains(dom, `&lt;script&gt;window.pwned=1&lt;/script&gt;`) {
			t.Error("hostile target not shown as text")
		}
		checkCounts(t, dom, map[string]int{"count-targets": len(payloads) + 1, "count-vulnerable": len(payloads)})
	})

	t.Run("fleet", func(t *testing.T) {
		dom := chromiumDumpDOM(t, fleetURL)
		if !ready.MatchString(dom) {
			t.Fatalf("the page's script did not run (CSP hash wrong?): %s", regexp.MustCompile(`<body[^>]*>`).FindString(dom))
		}
		checkCounts(t, dom, fleetWant)
		if n := len(rows.FindAllString(dom, -1)); n != 1007 || visible(dom) != 1007 {
			t.Errorf("%d evidence rows (%d visible), want 1007", n, visible(dom))
		}
		if !strings.Contains(dom, `<svg class="chart" id="timeline-chart"`) {
			t.Error("no timeline")
		}
		elements(t, dom, map[string]int{"script": 1, "img": 0})
	})

	// The script reads its filter from the fragment; this is the same path
	// a click on a stage legend entry or a server lane takes.
	t.Run("filtered", func(t *testing.T) {
		r := fleetResult()
		want := 0
		for _, f := range r.Servers[1].Findings {
			if f.Stage == finding.StageExecution {
				want++
			}
		}
		dom := chromiumDumpDOM(t, fleetURL+"#stage=execution&server=EXCH01")
		if got := visible(dom); got != want {
			t.Errorf("%d rows visible with stage=execution, server=EXCH01; want %d", got, want)
		}
		if got := dataCount(t, dom, "ev-shown"); got != want {
			t.Errorf("ev-shown says %d, want %d", got, want)
		}
		if !regexp.MustCompile(`<button [^>]*data-filter-stage="execution" aria-pressed="true"`).MatchString(dom) {
			t.Error("the execution legend entry is not shown as pressed")
		}
		if !regexp.MustCompile(`<g class="lane[^"]*" data-filter-server="EXCH01"[^>]*aria-pressed="true"`).MatchString(dom) {
			t.Error("the EXCH01 lane is not shown as selected")
		}
	})
}

// TestScanPageHostile renders a scan whose servers answered with hostile
// strings: what a server says reaches the page only as text.
func hostileScan() *finding.Result {
	t0 := time.Date(2021, 3, 3, 4, 0, 0, 0, time.UTC)
	r := &finding.Result{SchemaVersion: finding.SchemaVersion, Kind: finding.KindScan, Tool: "exhunt", Version: hostile(0), StartedAt: t0}
	for i := range len(payloads) {
		r.Targets = append(r.Targets, finding.Target{Seq: uint64(i), Target: "https://" + hostile(i) + "/", IP: "192.0.2.7",
			Status: finding.StatusExchange, Error: hostile(i + 1),
			Exchange: &finding.Exchange{Build: hostile(i + 2), Product: hostile(i + 3), Update: hostile(i + 4)},
			Chains: []finding.ChainVerdict{{Chain: "proxylogon", Verdict: finding.ChainVulnerable, Reason: hostile(i + 5)},
				{Chain: "proxyshell", Verdict: hostile(i + 6)}},
			Webshells: []finding.Webshell{{Path: "/owa/auth/" + hostile(i+7), Status: 200}}, Time: t0})
	}
	r.Targets = append(r.Targets, finding.Target{Seq: 99, Input: hostile(8), Status: finding.StatusInvalid})
	return r
}

func TestScanPageHostile(t *testing.T) {
	r := hostileScan()
	out := render(t, r)
	for _, p := range mustNotAppear {
		if strings.Contains(out, p) {
			t.Errorf("scan page carries %q unescaped", p)
		}
	}
	if !utf8.ValidString(out) {
		t.Error("scan page is not valid UTF-8")
	}
	if regexp.MustCompile(`(?i)\b(href|src|action)\s*=\s*["']?\s*javascript:`).MatchString(out) {
		t.Error("a javascript: URL reached an attribute")
	}
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(out)
	if strings.Contains(out, "<script") || strings.Count(out, "<style") != 1 || m == nil || html.UnescapeString(m[1]) != csp {
		t.Error("scan page: want no script, our one style and the report's CSP")
	}
	title := regexp.MustCompile(`(?s)<title>(.*?)</title>`).FindStringSubmatch(out)
	if title == nil || title[1] != fmt.Sprintf("Exchange exposure scan — %d targets, %d vulnerable", len(r.Targets), len(payloads)) {
		t.Errorf("title %q", title)
	}
	for _, want := range []string{`\u202egpj.exe`, "bad\ufffdutf8", `=cmd|&#39; /C calc&#39;!A0`, `&lt;script&gt;window.pwned=1&lt;/script&gt;`} {
		if !strings.Contains(out, want) {
			t.Errorf("scan page lacks the escaped payload %q", want)
		}
	}
	checkCounts(t, out, map[string]int{"count-targets": len(payloads) + 1, "count-vulnerable": len(payloads)})
	if n := strings.Count(out, `<tr class="cs-bad"`); n != len(payloads) {
		t.Errorf("%d vulnerable rows, want %d", n, len(payloads))
	}
}
