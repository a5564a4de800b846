package lab

// A small, independent reader for the generated trees: it walks a server
// folder, checks each file's format, and re-derives every finding with its
// own implementation of the rule table, so the tests can compare it with
// the truth the generator wrote.

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/rules"
)

type logKind int

const (
	kIIS logKind = iota
	kProxy
	kECP
	kOAB
	kRpsHTTP
	kRpsCmdlet
	kEWS
)

func kindOf(rel string) (logKind, bool) {
	switch {
	case strings.Contains(rel, "/inetpub/logs/LogFiles/W3SVC"):
		return kIIS, true
	case strings.Contains(rel, "/Logging/HttpProxy/"):
		return kProxy, true
	case strings.Contains(rel, "/Logging/ECP/Server/"):
		return kECP, true
	case strings.Contains(rel, "/Logging/OABGeneratorLog/"):
		return kOAB, true
	case strings.Contains(rel, "/Powershell-Proxy/Http/"):
		return kRpsHTTP, true
	case strings.Contains(rel, "/Powershell-Proxy/Cmdlet/"):
		return kRpsCmdlet, true
	case strings.Contains(rel, "/Logging/Ews/"):
		return kEWS, true
	}
	return 0, false
}

// row is one data line, mapped by its header.
type row struct {
	rel  string
	line int64
	raw  string
	f    map[string]string
	time time.Time
}

// logFileInfo is what a file's directives said.
type logFileInfo struct {
	rel        string
	kind       logKind
	rows       []row
	versions   []string // #Version values, in order
	fieldSets  []string // #Fields values, in order
	restarts   int      // directive blocks after the first data line
	bareHeader bool
	first      time.Time // first and last line times
	last       time.Time
}

var (
	isoRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	oabRe = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (Information|Warning|Error) (.+)$`)
)

// readLogFile reads and checks one file. Every line must end in CRLF,
// every data row must have as many fields as the #Fields in force, CSV
// rows must be valid RFC 4180 (no lazy quotes), times must not go back.
func readLogFile(t *testing.T, root, rel string) *logFileInfo {
	t.Helper()
	kind, ok := kindOf(rel)
	if !ok {
		t.Fatalf("%s: unexpected file", rel)
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(rel, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		r = zr
	}
	info := &logFileInfo{rel: rel, kind: kind}
	br := bufio.NewReaderSize(r, 1<<16)
	var fields []string
	var n int64
	seenData := false
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			if line != "" {
				t.Fatalf("%s:%d: last line has no line end", rel, n+1)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("%s:%d: line does not end in CRLF", rel, n)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if kind == kOAB {
			m := oabRe.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d: bad OAB line %q", rel, n, line)
			}
			tm, _ := time.Parse(time.RFC3339, m[1])
			info.add(t, row{rel: rel, line: n, raw: line, f: map[string]string{"message": m[3]}, time: tm})
			continue
		}
		if strings.HasPrefix(line, "#") {
			name, value, _ := strings.Cut(line[1:], ": ")
			switch name {
			case "Fields":
				if kind == kIIS {
					fields = strings.Fields(value)
				} else {
					fields = strings.Split(value, ",")
				}
				info.fieldSets = append(info.fieldSets, value)
				if seenData {
					info.restarts++
				}
			case "Version":
				info.versions = append(info.versions, value)
			case "Date":
				layout := time.RFC3339
				if kind == kIIS {
					layout = "2006-01-02 15:04:05"
				}
				tm, err := time.Parse(layout, value)
				if err != nil {
					t.Fatalf("%s:%d: bad #Date: %v", rel, n, err)
				}
				if tm.After(info.last) {
					info.last = tm
				}
			case "Software", "Log-type":
			default:
				t.Fatalf("%s:%d: unknown directive %q", rel, n, line)
			}
			continue
		}
		if fields == nil {
			// Only HttpProxy files may start with a bare column row.
			if kind != kProxy || n != 1 || !strings.HasPrefix(line, "DateTime,RequestId,") {
				t.Fatalf("%s:%d: data before #Fields", rel, n)
			}
			info.bareHeader = true
			continue
		}
		var vals []string
		if kind == kIIS {
			vals = strings.Split(line, " ")
			if len(vals) != len(fields) {
				t.Fatalf("%s:%d: %d fields, #Fields has %d: %q", rel, n, len(vals), len(fields), line)
			}
		} else {
			cr := csv.NewReader(strings.NewReader(line))
			cr.FieldsPerRecord = len(fields)
			vals, err = cr.Read()
			if err != nil {
				t.Fatalf("%s:%d: %v: %q", rel, n, err, line)
			}
		}
		seenData = true
		m := make(map[string]string, len(fields))
		for i, name := range fields {
			m[name] = vals[i]
		}
		var tm time.Time
		if kind == kIIS {
			tm, err = time.Parse("2006-01-02 15:04:05", m["date"]+" "+m["time"])
		} else {
			ts := vals[0]
			if !isoRe.MatchString(ts) {
				t.Fatalf("%s:%d: bad timestamp %q", rel, n, ts)
			}
			tm, err = time.Parse(time.RFC3339, ts)
		}
		if err != nil {
			t.Fatalf("%s:%d: %v", rel, n, err)
		}
		info.add(t, row{rel: rel, line: n, raw: line, f: m, time: tm})
	}
	if len(info.rows) == 0 {
		t.Fatalf("%s: no data", rel)
	}
	return info
}

func (info *logFileInfo) add(t *testing.T, r row) {
	t.Helper()
	if r.time.Before(info.last) && r.time.Truncate(time.Second).Before(info.last.Truncate(time.Second)) {
		t.Fatalf("%s:%d: time goes back: %v after %v", r.rel, r.line, r.time, info.last)
	}
	if info.first.IsZero() {
		info.first = r.time
	}
	info.last = r.time
	info.rows = append(info.rows, r)
}

// readServer reads every file of one server folder.
func readServer(t *testing.T, root, name string) []*logFileInfo {
	t.Helper()
	var out []*logFileInfo
	err := filepath.WalkDir(filepath.Join(root, name), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".evtx") || !isLogRel(filepath.ToSlash(p)) {
			return err // event logs are read by eventRecord, planted files by TestPlantedFiles
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, readLogFile(t, root, filepath.ToSlash(rel)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The reference rule table (see the package brief), written independently
// of the generator.

var (
	ecpJSRe      = regexp.MustCompile(`(?i)^/(ecp|owa/auth)/[a-z0-9]{1,4}\.js$`)
	owassrfRe    = regexp.MustCompile(`(?i)^/owa/[^/]*(@|%40)[^/]*/powershell`)
	cookieRe     = regexp.MustCompile(`^Server~.*/.*~.*`)
	resetAnchor  = regexp.MustCompile(`^ServerInfo~.*/.*Reset.*VirtualDirectory`)
	setVdirRe    = regexp.MustCompile(`Set-\w*VirtualDirectory.*Url='[^']*<script`)
	oabFailedRe  = regexp.MustCompile(`Download failed and temporary file '([^']*)' needs to be removed`)
	buildDirRe   = regexp.MustCompile(`(?i)^/owa/auth/[0-9.]+/`)
	refKnownIPs  = strings.Fields("103.77.192.219 104.140.114.110 104.250.191.110 108.61.246.56 149.28.14.163 157.230.221.198 167.99.168.251 185.250.151.72 192.81.208.169 203.160.69.66 211.56.98.146 5.254.43.18 80.92.205.81 5.2.69.14 91.192.103.43")
	crawlerUAs   = []string{"DuckDuckBot", "facebookexternalhit", "Baiduspider", "bingbot", "Googlebot", "Exabot", "Yahoo! Slurp", "YandexBot", "Chrome/51.0.2704.103"}
	ecpUAs       = []string{"ExchangeServicesClient/0.0.0.0", "python-requests/2.19.1", "python-requests/2.25.1"}
	shellUAs     = []string{"antSword/v2.1", "Googlebot/2.1 (+http://www.googlebot.com/bot.html)", "Baiduspider"}
	cmdLike      = []string{"cmd", "exec", "code=", "response.write", "activexobject", "wscript", "eval", "powershell", "whoami", "net+user"}
	standardAspx = []string{"/owa/auth/logon.aspx", "/owa/auth/logoff.aspx", "/owa/auth/errorfe.aspx", "/owa/auth/expiredpassword.aspx", "/owa/auth/redirsuiteserviceproxy.aspx", "/ecp/auth/timeoutlogoff.aspx"}
)

// iocURLs maps the MSTIC feed's file paths to URL paths (lower case).
var iocURLs = func() map[string]bool {
	m := map[string]bool{}
	data, err := fs.ReadFile(rules.FS, "data/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv")
	if err != nil {
		panic(err)
	}
	recs, _ := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	for _, rec := range recs {
		if len(rec) < 4 || rec[3] != "filepath" {
			continue
		}
		p := strings.ToLower(rec[2])
		for _, pre := range []string{`c:\program files\microsoft\exchange server\v15\frontend\httpproxy\`, `c:\inetpub\wwwroot\`} {
			if rest, ok := strings.CutPrefix(p, pre); ok {
				m["/"+strings.ReplaceAll(rest, `\`, "/")] = true
			}
		}
	}
	return m
}()

type refHit struct {
	rule, stage string
	ip          string // client address, "" when the log has none
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, pres ...string) bool {
	return slices.ContainsFunc(pres, func(p string) bool { return strings.HasPrefix(s, p) })
}

func hasAnySuffix(s string, sufs ...string) bool {
	return slices.ContainsFunc(sufs, func(x string) bool { return strings.HasSuffix(s, x) })
}

func okStatus(s string, codes ...string) bool { return slices.Contains(codes, s) }

func statusAtLeast(s string, n int) bool {
	v, err := strconv.Atoi(s)
	return err == nil && v >= n
}

// autodiscoverHits is the ProxyShell / ProxyNotShell rule pair, shared by
// IIS and HttpProxy lines.
func autodiscoverHits(stem, query, user, status string) []refHit {
	ls, lq := strings.ToLower(stem), strings.ToLower(query)
	if !strings.HasSuffix(ls, "/autodiscover/autodiscover.json") {
		return nil
	}
	targets := []string{"/powershell", "/mapi/", "/ews/", "/owa/", "x-rps-cat"}
	at := strings.Contains(lq, "@") || strings.Contains(lq, "%40")
	if !strings.Contains(lq, "autodiscover/autodiscover.json") && !(at && containsAny(lq, targets)) {
		return nil
	}
	cat := strings.Contains(lq, "x-rps-cat")
	if user == "" || cat {
		stage := "exploitation"
		switch {
		case strings.Contains(lq, "/owa/") && !containsAny(lq, []string{"/powershell", "/mapi/", "/ews/", "x-rps-cat", "/autodiscover.xml"}):
			stage = "reconnaissance"
		case !okStatus(status, "200", "302"):
			stage = "attempt"
		}
		return []refHit{{rule: "proxyshell-autodiscover-ssrf", stage: stage}}
	}
	if strings.Contains(lq, "/powershell") {
		stage := "attempt"
		if status == "200" {
			stage = "exploitation"
		}
		return []refHit{{rule: "proxynotshell-autodiscover-ssrf", stage: stage}}
	}
	return nil
}

func owassrfHits(stem, status string) []refHit {
	if !owassrfRe.MatchString(stem) {
		return nil
	}
	stage := "attempt"
	if status == "200" {
		stage = "exploitation"
	}
	return []refHit{{rule: "owassrf-owa-powershell", stage: stage}}
}

func iisHits(f map[string]string) []refHit {
	dash := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	method, stem, q := f["cs-method"], f["cs-uri-stem"], dash(f["cs-uri-query"])
	status, user, ua := f["sc-status"], dash(f["cs-username"]), f["cs(User-Agent)"]
	ls, lq := strings.ToLower(stem), strings.ToLower(q)
	w3c := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = strings.ReplaceAll(s, " ", "+")
		}
		return out
	}
	var hits []refHit
	if method == "POST" && ls == "/ecp/ddi/ddiservice.svc/setobject" && strings.Contains(q, "schema=Reset") && strings.Contains(q, "VirtualDirectory") && status == "200" {
		hits = append(hits, refHit{rule: "cve-2021-27065-reset-vdir-iis", stage: "persistence"})
	}
	if ecpJSRe.MatchString(stem) {
		stage := "attempt"
		switch {
		case method == "GET":
			stage = "reconnaissance"
		case method == "POST" && okStatus(status, "200", "241"):
			stage = "exploitation"
		}
		hits = append(hits, refHit{rule: "proxylogon-ecp-js", stage: stage})
	}
	if method == "POST" && (strings.HasPrefix(ls, "/owa/auth/current/") || ls == "/ecp/default.flt" || ls == "/ecp/main.css") {
		stage := "attempt"
		if okStatus(status, "200", "241") {
			stage = "exploitation"
		}
		hits = append(hits, refHit{rule: "hafnium-post-static-path", stage: stage})
	}
	if containsAny(ua, w3c(crawlerUAs)) && method == "POST" && strings.HasPrefix(ls, "/owa/auth/current/") ||
		containsAny(ua, ecpUAs) && strings.HasPrefix(ls, "/ecp/") ||
		containsAny(ua, w3c(shellUAs)) && method == "POST" && (strings.HasPrefix(ls, "/aspnet_client/") || strings.HasPrefix(ls, "/owa/")) {
		hits = append(hits, refHit{rule: "volexity-attack-user-agent", stage: "attempt"})
	}
	if slices.Contains(refKnownIPs, f["c-ip"]) {
		hits = append(hits, refHit{rule: "known-attacker-ip", stage: "reconnaissance"})
	}
	cmd := method == "POST" || containsAny(lq, cmdLike)
	if iocURLs[ls] {
		stage := "reconnaissance"
		switch {
		case status == "200" && cmd:
			stage = "execution"
		case status == "200":
			stage = "persistence"
		}
		hits = append(hits, refHit{rule: "webshell-known-path", stage: stage})
	} else if status == "200" && hasAnySuffix(ls, ".aspx", ".ashx", ".asmx") &&
		hasAnyPrefix(ls, "/aspnet_client/", "/owa/auth/", "/ecp/auth/", "/oab/") &&
		!slices.Contains(standardAspx, ls) && !buildDirRe.MatchString(ls) {
		stage := "persistence"
		if cmd {
			stage = "execution"
		}
		hits = append(hits, refHit{rule: "webshell-nonstandard-aspx", stage: stage})
	}
	hits = append(hits, autodiscoverHits(stem, q, user, status)...)
	hits = append(hits, owassrfHits(stem, status)...)
	for i := range hits {
		hits[i].ip = f["c-ip"]
	}
	return hits
}

func proxyHits(f map[string]string) []refHit {
	anchor, cookie, status, be := f["AnchorMailbox"], f["BackEndCookie"], f["HttpStatus"], f["BackEndStatus"]
	var hits []refHit
	if strings.HasPrefix(anchor, "ServerInfo~") && strings.Contains(anchor, "/") || cookieRe.MatchString(cookie) || f["RoutingHint"] == "X-AnonResource-Backend-Cookie" {
		target := strings.ToLower(anchor + cookie)
		stage := "exploitation"
		switch {
		case strings.HasPrefix(strings.ToLower(anchor), "serverinfo~localhost"):
			stage = "reconnaissance"
		case statusAtLeast(status, 400) || statusAtLeast(be, 400):
			stage = "attempt"
		case strings.Contains(target, "/autodiscover"):
			stage = "attempt"
		case strings.Contains(target, "proxylogon.ecp"):
			if status != "241" {
				stage = "attempt"
			}
		case strings.Contains(target, "reset") && strings.Contains(target, "virtualdirectory"):
			stage = "persistence"
		case strings.Contains(target, "ddiservice.svc/setobject"):
			stage = "persistence"
		case strings.Contains(target, "ddiservice.svc/get"):
		case strings.Contains(target, "/ews/"):
			stage = "collection"
		}
		hits = append(hits, refHit{rule: "cve-2021-26855-ssrf", stage: stage})
	}
	if f["Protocol"] == "Ecp" && resetAnchor.MatchString(anchor) && status == "200" {
		hits = append(hits, refHit{rule: "cve-2021-27065-reset-vdir-ssrf", stage: "persistence"})
	}
	if slices.Contains(refKnownIPs, f["ClientIpAddress"]) {
		hits = append(hits, refHit{rule: "known-attacker-ip", stage: "reconnaissance"})
	}
	hits = append(hits, autodiscoverHits(f["UrlStem"], strings.TrimPrefix(f["UrlQuery"], "?"), f["AuthenticatedUser"], status)...)
	hits = append(hits, owassrfHits(f["UrlStem"], status)...)
	for i := range hits {
		hits[i].ip = f["ClientIpAddress"]
	}
	return hits
}

// sigmaWebHits is the reference for the shipped SigmaHQ webserver rules
// that the lab's traffic can trigger: "Successful Exchange ProxyShell
// Attack" (autodiscover.json SSRF to PowerShell, MAPI/NSPI or EWS,
// answered 200 or 301).
func sigmaWebHits(f map[string]string) []refHit {
	q := strings.ToLower(f["cs-uri-query"])
	if strings.Contains(q, "/autodiscover.json") && containsAny(q, []string{"/powershell", "/mapi/nspi", "/ews", "x-rps-cat"}) &&
		okStatus(f["sc-status"], "200", "301") {
		return []refHit{{rule: sigmaProxyShellOK, stage: "attempt", ip: f["c-ip"]}}
	}
	return nil
}

func rowHits(kind logKind, r row) []refHit {
	switch kind {
	case kIIS:
		return append(iisHits(r.f), sigmaWebHits(r.f)...)
	case kProxy:
		return proxyHits(r.f)
	case kECP:
		if setVdirRe.MatchString(r.f["EventData"]) {
			return []refHit{{rule: "cve-2021-27065-set-vdir-script", stage: "persistence"}}
		}
	case kOAB:
		if m := oabFailedRe.FindStringSubmatch(r.f["message"]); m != nil {
			p := strings.ToLower(m[1])
			if !strings.HasPrefix(p, `c:\program files\microsoft\exchange server\v15\clientaccess\oab\`) || strings.Contains(p, "..") {
				return []refHit{{rule: "cve-2021-26858-oab-path", stage: "persistence"}}
			}
		}
	case kRpsHTTP:
		if ci := r.f["ClientInfo"]; ci != "" && ci != "Microsoft WinRM Client" && ci != "Exchange BackEnd Probes" {
			stage := "attempt"
			if r.f["HttpStatus"] == "200" {
				stage = "exploitation"
			}
			return []refHit{{rule: "owassrf-rps-clientinfo", stage: stage, ip: r.f["ClientIpAddress"]}}
		}
	case kRpsCmdlet:
		p := r.f["Parameters"]
		switch r.f["Cmdlet"] {
		case "New-MailboxExportRequest":
			if strings.Contains(p, `-FilePath '\\`) || strings.Contains(strings.ToLower(p), ".aspx") {
				return []refHit{{rule: "proxyshell-mailbox-export", stage: "persistence"}}
			}
		case "New-ManagementRoleAssignment":
			if strings.Contains(p, "Mailbox Import Export") {
				return []refHit{{rule: "mailbox-import-export-role", stage: "persistence"}}
			}
		case "Remove-MailboxExportRequest":
			return []refHit{{rule: "remove-mailbox-export", stage: "persistence"}}
		}
	}
	return nil
}

// derived is what the reference reader concludes about one server.
type derived struct {
	findings   []string // "file:line:rule:stage", sorted
	attackers  []string
	mailboxes  []string
	buildsSeen []string
	first      time.Time
}

func findingKey(file string, line int64, rule, stage string) string {
	return fmt.Sprintf("%s:%d:%s:%s", file, line, rule, stage)
}

// derive applies the reference rules to a server's files.
func derive(files []*logFileInfo) derived {
	var d derived
	own := map[string]bool{"127.0.0.1": true}
	for _, fi := range files {
		if fi.kind == kIIS {
			for _, r := range fi.rows {
				own[r.f["s-ip"]] = true
			}
		}
	}
	attackers := map[string]bool{}
	for _, fi := range files {
		if d.first.IsZero() || fi.first.Before(d.first) {
			d.first = fi.first
		}
		for _, r := range fi.rows {
			for _, h := range rowHits(fi.kind, r) {
				d.findings = append(d.findings, findingKey(r.rel, r.line, h.rule, h.stage))
				if h.ip != "" && !own[h.ip] {
					attackers[h.ip] = true
				}
			}
		}
	}
	mailboxes := map[string]bool{}
	exportRe := regexp.MustCompile(`-Mailbox '([^']+)'`)
	for _, fi := range files {
		for _, r := range fi.rows {
			switch {
			case fi.kind == kEWS && attackers[r.f["ClientIpAddress"]]:
				mailboxes[r.f["AuthenticatedUser"]] = true
			case fi.kind == kRpsCmdlet && r.f["Cmdlet"] == "New-MailboxExportRequest":
				if m := exportRe.FindStringSubmatch(r.f["Parameters"]); m != nil {
					mailboxes[m[1]] = true
				}
			}
		}
	}
	// Builds, from the HttpProxy #Version lines in time order.
	type ver struct {
		at time.Time
		v  string
	}
	var vers []ver
	for _, fi := range files {
		if fi.kind == kProxy {
			for _, v := range fi.versions {
				vers = append(vers, ver{fi.first, normalizeVersion(v)})
			}
		}
	}
	slices.SortStableFunc(vers, func(a, b ver) int { return a.at.Compare(b.at) })
	for _, v := range vers {
		if len(d.buildsSeen) == 0 || d.buildsSeen[len(d.buildsSeen)-1] != v.v {
			d.buildsSeen = append(d.buildsSeen, v.v)
		}
	}
	slices.Sort(d.findings)
	d.attackers = sortedKeys(attackers)
	d.mailboxes = sortedKeys(mailboxes)
	return d
}

// normalizeVersion turns 15.01.2176.002 into 15.1.2176.2.
func normalizeVersion(v string) string {
	parts := strings.Split(v, ".")
	for i, p := range parts {
		n, _ := strconv.Atoi(p)
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}
