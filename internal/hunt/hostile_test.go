package hunt_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
)

// The hostile inputs a hunt must survive, each with the outcome it must
// still reach: the findings that prove the attack, the gap that says what
// was not read (naming file and, where it applies, member and offset), and
// the bound it stays under.

const proxyShellRule = "proxyshell-autodiscover-ssrf"

// floodLines are n ProxyShell requests that reached the back end, from
// clients 203.0.113.{0..9}, with mailboxes user{0..49}.
func floodLines(n int) []byte {
	var b bytes.Buffer
	b.WriteString("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-08-09 00:00:00\r\n")
	b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n")
	for i := range n {
		s := i % 86400
		fmt.Fprintf(&b, "2021-08-09 %02d:%02d:%02d 10.0.0.11 POST /autodiscover/autodiscover.json @evil.corp/mapi/emsmdb/?&Email=autodiscover/autodiscover.json%%3F@evil.corp&Mailbox=user%d%%40contoso.com&cafeReqId=%08x; 443 - 203.0.113.%d python-requests/2.25.1 - 200 0 0 %d\r\n",
			s/3600, s/60%60, s%60, i%50, crc32.ChecksumIEEE([]byte{byte(i), byte(i >> 8), byte(i >> 16)}), i%10, i%900)
	}
	return b.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

type member struct {
	name   string
	data   []byte
	method uint16
}

func zipOf(t *testing.T, ms ...member) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range ms {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method, Modified: time.Date(2021, 8, 9, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	zw.Close()
	return b.Bytes()
}

// zipDeclaring is a one-member zip whose headers declare usize bytes.
func zipDeclaring(t *testing.T, name string, content []byte, usize uint64) []byte {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write(content)
	fw.Close()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(content),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: usize})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return b.Bytes()
}

// peakHeap samples the heap in use while fn runs.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return peak
}

type hostileCase struct {
	name string
	// build writes the evidence below dir and returns the roots to hunt
	build func(t *testing.T, dir string) []string
	// after discovery, before the hunt (a file removed, ...)
	between func(t *testing.T, dir string)
	yara    []string // user YARA rule sources
	sigma   []string // user Sigma rule sources
	// what must hold
	server   string // the server to look at ("" for the only one)
	verdict  finding.Verdict
	rule     string   // a rule that must still have findings
	gaps     []string // substrings of one gap each (file and reason)
	check    func(t *testing.T, res *finding.Result, s finding.Server)
	maxHeap  uint64 // peak heap in use during the hunt, 0 for none
	noServer bool   // nothing is found at all, only gaps
}

func TestHostileInputs(t *testing.T) {
	attack := floodLines(300)
	const iis = "C/inetpub/logs/LogFiles/W3SVC1/u_ex210809.log"
	cases := []hostileCase{
		{name: "truncated gzip log",
			build: func(t *testing.T, dir string) []string {
				g := gz(t, attack)
				write(t, dir, map[string][]byte{"SRV1/" + iis + ".gz": g[:len(g)/2]}, time.Now())
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"u_ex210809.log.gz at offset", "unexpected EOF"}},
		{name: "zip cut short (no central directory)",
			build: func(t *testing.T, dir string) []string {
				z := zipOf(t, member{iis, attack, zip.Deflate})
				write(t, dir, map[string][]byte{"SRV1.zip": z[:len(z)*6/10]}, time.Now())
				return []string{filepath.Join(dir, "SRV1.zip")}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"SRV1.zip!" + iis + " at offset", "unexpected EOF"},
			check: func(t *testing.T, res *finding.Result, _ finding.Server) {
				if !hasGap(res, []string{"SRV1.zip", "1 members recovered from their local headers"}) {
					t.Errorf("the damaged zip is not named: %v", allGaps(res))
				}
			}},
		{name: "member inflating past its declared size",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1.zip": zipDeclaring(t, iis, attack, 4000)}, time.Now())
				return []string{filepath.Join(dir, "SRV1.zip")}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"SRV1.zip!" + iis + " at offset", "longer than its declared size"}},
		{name: "zip member named with a drive letter",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1.zip": zipOf(t, member{`C:\inetpub\logs\LogFiles\W3SVC1\u_ex210809.log`, attack, zip.Deflate})}, time.Now())
				return []string{filepath.Join(dir, "SRV1.zip")}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule},
		{name: "server zip beside server folders, zip within zip",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{
					"SRV1/" + iis: iisLog("10:00:00 GET /owa/ 200 10.1.1.1 Mozilla/5.0"),
					"SRV2.zip":    zipOf(t, member{iis, attack, zip.Deflate}),
					"bundle.zip":  zipOf(t, member{"SRV3.zip", zipOf(t, member{iis, attack, zip.Deflate}), zip.Deflate}),
				}, time.Now())
				return []string{dir}
			},
			check: func(t *testing.T, res *finding.Result, _ finding.Server) {
				for name, want := range map[string]finding.Verdict{"SRV1": finding.VerdictClean, "SRV2": finding.VerdictAttempted, "SRV3": finding.VerdictAttempted} {
					if s := server(t, res, name); s.Verdict != want {
						t.Errorf("%s: verdict %s, want %s", name, s.Verdict, want)
					}
				}
			}},
		{name: "zips nested past the depth",
			build: func(t *testing.T, dir string) []string {
				z := zipOf(t, member{iis, attack, zip.Deflate})
				for range 4 {
					z = zipOf(t, member{"inner.zip", z, zip.Store})
				}
				write(t, dir, map[string][]byte{"deep.zip": z}, time.Now())
				return []string{dir}
			},
			noServer: true, gaps: []string{"deep.zip!inner.zip!inner.zip!inner.zip!inner.zip", "nested deeper than 4 levels"}},
		{name: "bogus second #Fields",
			build: func(t *testing.T, dir string) []string {
				i := bytes.Index(attack, []byte("\r\n2021")) + 2
				bad := append(append(bytes.Clone(attack[:i]), "#Fields: date time x-garbage\r\n"...), attack[i:]...)
				write(t, dir, map[string][]byte{"SRV1/" + iis: bad}, time.Now())
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"u_ex210809.log", "the earlier header of line 4 is used from here"},
			check: func(t *testing.T, _ *finding.Result, s finding.Server) {
				if len(s.Gaps) != 1 {
					t.Errorf("%d gaps, want the one notice: %v", len(s.Gaps), s.Gaps)
				}
			}},
		{name: "log unreadable after discovery",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1/" + iis: attack, "SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex210810.log": attack}, time.Now())
				return []string{dir}
			},
			between: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, "SRV1", filepath.FromSlash("C/inetpub/logs/LogFiles/W3SVC1/u_ex210810.log")))
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"u_ex210810.log", "no such file"}},
		{name: "log flooded with exploit requests",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1/" + iis: floodLines(30000)}, time.Now())
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			// kept today: ~4 KB a matching line, 120 MB here
			maxHeap: 48 << 20,
			check: func(t *testing.T, _ *finding.Result, s finding.Server) {
				var kept, suppressed int64
				for _, f := range s.Findings {
					if f.Rule == proxyShellRule {
						kept++
					}
				}
				for _, c := range s.Suppressed {
					if c.Rule == proxyShellRule {
						suppressed = c.Count
					}
				}
				if kept != 1000 || kept+suppressed != 30000 {
					t.Errorf("%d kept, %d counted beyond: want 1,000 of 30,000", kept, suppressed)
				}
				// attackers and mailboxes count every request, not only the kept ones
				var reqs int64
				for _, a := range s.Attackers {
					reqs += a.Requests
				}
				if len(s.Attackers) != 10 || reqs < 30000 {
					t.Errorf("%d attackers, %d requests: want 10 and every request", len(s.Attackers), reqs)
				}
				if len(s.MailboxesAccessed) != 50 {
					t.Errorf("%d mailboxes, want 50", len(s.MailboxesAccessed))
				}
			}},
		{name: "YARA rule with a huge jump over a big file",
			build: func(t *testing.T, dir string) []string {
				big := bytes.Repeat([]byte("<% a %>\n"), 4<<20/8)
				write(t, dir, map[string][]byte{
					"SRV1/" + feRoot + "owa/auth/big.aspx": big,
					"SRV1/" + feRoot + "owa/auth/s.aspx":   []byte(chopper),
				}, time.Now())
				return []string{dir}
			},
			yara:   []string{`rule user_jump { strings: $a = { ?? [0-100000] ?? } condition: $a }`},
			server: "SRV1", verdict: finding.VerdictCompromised,
			gaps: []string{"big.aspx", "memory budget", "user_jump:$a"}},
		{name: "Sigma rules too costly for their budget",
			build: func(t *testing.T, dir string) []string {
				// the attack, then requests with long queries that the
				// costly rules must look at
				b := bytes.NewBuffer(bytes.Clone(attack))
				// the first 200 of the 5,000 values |contains|all wants
				var pad strings.Builder
				for i := range 200 {
					fmt.Fprintf(&pad, "q=abc%04d&", i)
				}
				for i := range 2000 {
					fmt.Fprintf(b, "2021-08-09 12:%02d:%02d 10.0.0.11 GET /owa/auth/logon.aspx %sn=%d 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0 5\r\n", i/60%60, i%60, pad.String(), i)
				}
				write(t, dir, map[string][]byte{"SRV1/" + iis: b.Bytes()}, time.Now())
				return []string{dir}
			},
			sigma:  []string{costlyAlternation(), costlyContainsAll(), cheapSigma},
			server: "SRV1", rule: proxyShellRule,
			gaps: []string{"u_ex210809.log", "rule sigma:" + costlyAlternationID + " stopped at its step budget"},
			check: func(t *testing.T, res *finding.Result, s finding.Server) {
				if !hasGap(res, []string{"u_ex210809.log", "rule sigma:" + costlyContainsAllID + " stopped at its step budget"}) {
					t.Errorf("the |contains|all rule was not stopped: %v", allGaps(res))
				}
				// only the costly rules reach their budget; the cheap
				// one sees every line of the same file
				for _, g := range allGaps(res) {
					if strings.Contains(g.Reason, "budget") && !strings.Contains(g.Reason, costlyAlternationID) && !strings.Contains(g.Reason, costlyContainsAllID) {
						t.Errorf("a rule of reasonable cost was stopped: %v", g)
					}
				}
				n := 0
				for _, f := range s.Findings {
					if f.Rule == "sigma:"+cheapSigmaID {
						n++
					}
				}
				if n != 300 {
					t.Errorf("%d findings of the cheap Sigma rule, want one per attack line (300)", n)
				}
				if hasRule(s, "sigma:"+costlyAlternationID) || hasRule(s, "sigma:"+costlyContainsAllID) {
					t.Errorf("a stopped rule has findings")
				}
			}},
		// inputs that held before; they must go on holding
		{name: "zip bomb",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1.zip": zipOf(t, member{iis, make([]byte, 64<<20), zip.Deflate}, member{"C/inetpub/logs/LogFiles/W3SVC1/u_ex210810.log", attack, zip.Deflate})}, time.Now())
				return []string{filepath.Join(dir, "SRV1.zip")}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"SRV1.zip!" + iis, "decompressed size exceeds limit"}},
		{name: "zip-slip names",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1.zip": zipOf(t, member{`..\..\SRV9\` + iis, attack, zip.Deflate}, member{iis, attack, zip.Deflate})}, time.Now())
				return []string{filepath.Join(dir, "SRV1.zip")}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"SRV9", "unsafe path in zip"}},
		{name: "symlink loop",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1/" + iis: attack}, time.Now())
				if err := os.Symlink("..", filepath.Join(dir, "SRV1", "C", "loop")); err != nil {
					t.Skip("no symlinks:", err)
				}
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule},
		{name: "2,000-deep folders",
			build: func(t *testing.T, dir string) []string {
				write(t, dir, map[string][]byte{"SRV1/" + iis: attack}, time.Now())
				p := filepath.Join(dir, "SRV1")
				for range 2000 {
					p = filepath.Join(p, "d")
				}
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Skip("cannot build the tree:", err)
				}
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"folder nesting deeper than"}},
		{name: "line longer than the line cap",
			build: func(t *testing.T, dir string) []string {
				i := bytes.Index(attack, []byte("\r\n2021")) + 2
				long := append(append(bytes.Clone(attack[:i]), bytes.Repeat([]byte("A"), 3<<20)...), attack[i-2:]...)
				write(t, dir, map[string][]byte{"SRV1/" + iis: long}, time.Now())
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"u_ex210809.log", "line longer than"}},
		{name: "damaged event log",
			build: func(t *testing.T, dir string) []string {
				ev, err := os.ReadFile("../../testdata/evtx/Security.evtx")
				if err != nil {
					t.Fatal(err)
				}
				for i := 0x1000 + 600; i < len(ev) && i < 0x1000+900; i++ {
					ev[i] ^= 0x5a
				}
				write(t, dir, map[string][]byte{"SRV1/" + iis: attack, "SRV1/C/Windows/System32/winevt/Logs/Security.evtx": ev}, time.Now())
				return []string{dir}
			},
			server: "SRV1", verdict: finding.VerdictAttempted, rule: proxyShellRule,
			gaps: []string{"Security.evtx"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			roots := tc.build(t, dir)
			cat := loadCatalog(t)
			if len(tc.yara) > 0 {
				var paths []string
				for i, src := range tc.yara {
					p := filepath.Join(t.TempDir(), fmt.Sprintf("user%d.yar", i))
					os.WriteFile(p, []byte(src), 0o644)
					paths = append(paths, p)
				}
				if err := cat.LoadYara(paths...); err != nil {
					t.Fatal(err)
				}
			}
			if len(tc.sigma) > 0 {
				sdir := t.TempDir()
				for i, src := range tc.sigma {
					os.WriteFile(filepath.Join(sdir, fmt.Sprintf("user%d.yml", i)), []byte(src), 0o644)
				}
				if err := cat.LoadSigma(sdir); err != nil {
					t.Fatal(err)
				}
			}
			set, err := evidence.Discover(context.Background(), roots, evidence.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.between != nil {
				tc.between(t, dir)
			}
			var res *finding.Result
			peak := peakHeap(func() {
				res, err = hunt.New(cat, hunt.Options{}).Run(context.Background(), set, roots)
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.maxHeap > 0 && peak > tc.maxHeap {
				t.Errorf("peak heap %d MiB, bound %d MiB", peak>>20, tc.maxHeap>>20)
			}
			var s finding.Server
			switch {
			case tc.noServer:
				if len(res.Servers) != 0 {
					t.Errorf("servers found: %+v", res.Servers)
				}
			case tc.server != "":
				s = server(t, res, tc.server)
			}
			if tc.verdict != "" && s.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s; gaps %v", s.Verdict, tc.verdict, s.Gaps)
			}
			if tc.rule != "" && !hasRule(s, tc.rule) {
				t.Errorf("no %s finding: the evidence read must still be hunted; gaps %v", tc.rule, s.Gaps)
			}
			if len(tc.gaps) > 0 && !hasGap(res, tc.gaps) {
				t.Errorf("no gap with %q; gaps: %v", tc.gaps, allGaps(res))
			}
			if tc.check != nil {
				tc.check(t, res, s)
			}
		})
	}
}

const (
	costlyAlternationID = "0c0570e3-8d0c-4a6e-9d1e-3f0c4d5d2a01"
	costlyContainsAllID = "0c0570e3-8d0c-4a6e-9d1e-3f0c4d5d2a02"
	cheapSigmaID        = "0c0570e3-8d0c-4a6e-9d1e-3f0c4d5d2a03"
)

// costlyAlternation is a web-server rule whose regular expression is an
// alternation of thousands of words: every byte of a query may cost
// Go's regexp engine a step per word.
func costlyAlternation() string {
	var words []string
	for i := range 3000 {
		words = append(words, fmt.Sprintf("w%04dx", i))
	}
	return `title: Costly alternation
id: ` + costlyAlternationID + `
logsource: {category: webserver}
detection:
    selection:
        cs-uri-query|re: '(` + strings.Join(words, "|") + `)z'
    condition: selection
level: high
`
}

// costlyContainsAll asks for thousands of substrings in one value, each
// searched on its own.
func costlyContainsAll() string {
	var b strings.Builder
	b.WriteString("title: Costly contains all\nid: " + costlyContainsAllID + "\nlogsource: {category: webserver}\n" +
		"detection:\n    selection:\n        cs-uri-query|contains|all:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "            - 'q=abc%04d'\n", i)
	}
	b.WriteString("    condition: selection\nlevel: high\n")
	return b.String()
}

// cheapSigma matches the attack lines by their path.
const cheapSigma = `title: Autodiscover request
id: ` + cheapSigmaID + `
logsource: {category: webserver}
detection:
    selection:
        cs-uri-stem|endswith: '/autodiscover.json'
    condition: selection
level: medium
`

func hasRule(s finding.Server, rule string) bool {
	for _, f := range s.Findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func allGaps(res *finding.Result) []finding.Gap {
	gs := append([]finding.Gap(nil), res.Gaps...)
	for _, s := range res.Servers {
		gs = append(gs, s.Gaps...)
	}
	return gs
}

// hasGap reports a gap whose file and reason hold every part.
func hasGap(res *finding.Result, parts []string) bool {
	for _, g := range allGaps(res) {
		text := g.File + ": " + g.Reason
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(text, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// An event log in a zip cut short: the chunks read before the cut are
// hunted, and the cut is a gap naming the member.
func TestEventLogInCutZip(t *testing.T) {
	ev, err := os.ReadFile("../../testdata/evtx/Security.evtx")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) < 4096+3*65536 {
		t.Skipf("Security.evtx has %d bytes, too few chunks", len(ev))
	}
	const name = "C/Windows/System32/winevt/Logs/Security.evtx"
	dir := t.TempDir()
	whole := zipOf(t, member{name, ev, zip.Deflate})
	write(t, dir, map[string][]byte{"SRV1.zip": whole[:len(whole)*2/3]}, time.Now())
	res := huntWith(t, loadCatalog(t), hunt.Options{}, filepath.Join(dir, "SRV1.zip"))
	s := server(t, res, "SRV1")
	var events int64
	for _, c := range s.Coverage {
		events += c.Lines
	}
	if events == 0 {
		t.Errorf("no event read from the part before the cut: %+v", s.Coverage)
	}
	if !hasGap(res, []string{"SRV1.zip!" + name, "at offset"}) {
		t.Errorf("the cut is not a gap naming the member: %v", allGaps(res))
	}
}
