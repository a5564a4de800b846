package files

import (
	"strings"
	"testing"
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
