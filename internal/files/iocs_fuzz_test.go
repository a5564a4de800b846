package files

import (
	"slices"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/rules"
)

// FuzzNameIOCs: IOC lists (signature-base's filename-iocs.txt format)
// are data a user may replace; no list panics, problems name the file and
// a line, and every expression loaded matches the way Go's regexp does.
func FuzzNameIOCs(f *testing.F) {
	f.Add("# China Chopper\n\\\\inetpub\\\\wwwroot\\\\aspnet_client\\\\[a-z]{8}\\.aspx;80\n", `C:\inetpub\wwwroot\aspnet_client\abcdefgh.aspx`)
	f.Add("\\\\Temp\\\\lsass\\.dmp;70;\\\\Windows\\\\\n(?i)x{2,3};-5\n[;1\n", `C:\Windows\Temp\lsass.dmp`)
	f.Add(";;;\n\n#\n((((((((((a))))))))));10\n", "aaaa")
	f.Fuzz(func(t *testing.T, list, path string) {
		n, probs := parseNameIOCs("iocs.txt", []byte(list))
		for _, p := range probs {
			if p.File != "iocs.txt" || p.Line <= 0 || p.Reason == "" {
				t.Fatalf("problem without file, line or reason: %+v", p)
			}
		}
		if n == nil {
			return
		}
		var m nameMatcher
		got := n.match(&m, path)
		// the literal index may only skip expressions that cannot match
		want := 0
		for _, ioc := range n.iocs {
			if ioc.re.MatchString(path) && (ioc.fp == nil || !ioc.fp.MatchString(path)) {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("%d expressions match %q, the index found %d (list %q)", want, path, len(got), strings.TrimSpace(list))
		}
	})
}

// The shipped list's index finds every expression that matches, on paths
// of an Exchange server's web content and on indicator paths.
func TestNameIndexShipped(t *testing.T) {
	data, err := rules.FS.ReadFile(sbNameFile)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := parseNameIOCs(sbNameFile, data)
	const ex = `C:\Program Files\Microsoft\Exchange Server\V15\`
	paths := []string{
		ex + `FrontEnd\HttpProxy\owa\auth\15.1.2242\x.aspx`,
		ex + `FrontEnd\HttpProxy\owa\auth\errorPage.aspx`,
		ex + `ClientAccess\ecp\Reporting\0\abc123.aspx`,
		ex + `ClientAccess\Owa\prem\15.2.986.5\scripts\premium\0\xyz9.js`,
		`C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\3f2a1b4c\9e8d7c6b\App_Web_x.dll`,
		`C:\ProgramData\Microsoft\Diagnosis\0\a.log`, `C:\ProgramData\x.exe`, `C:\ProgramData\pst.zip`,
		`C:\ProgramData\COM\svchost.exe`, `C:\ProgramData\Backup\edb-copy.bin`,
		`C:\Windows\Temp\key123456.pub`, `C:\Windows\Temp\lsass.dmp`, `C:\Windows\Temp\memory.bin`,
		`C:\Windows\explorer.exe`, `C:\Windows\System32\12345.exe`, `C:\Windows\a.vbs`, `C:\x.exe`,
		`C:\inetpub\wwwroot\aspnet_client\system_web\12345678.aspx`, `C:\inetpub\wwwroot\aspnet_client\1.aspx`,
		`C:\inetpub\wwwroot\aspnet_client\discover.aspx`, `C:\root\lsass.dmp`, `C:\Users\Public\nc.exe`,
		`C:\inetpub\wwwroot\images\logo.png`, `C:\Windows\debug\msert.log`,
	}
	var m nameMatcher
	total := 0
	for _, p := range paths {
		got := n.match(&m, p)
		var want []int32
		for i, ioc := range n.iocs {
			if ioc.re.MatchString(p) && (ioc.fp == nil || !ioc.fp.MatchString(p)) {
				want = append(want, int32(i))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: index found %v, the expressions %v", p, got, want)
		}
		total += len(want)
	}
	if total < 10 {
		t.Errorf("only %d matches over the paths: the test shows nothing", total)
	}
}
