package hunt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/hunt"
)

func sigmaRule(title, id, detection string) []byte {
	return []byte("title: " + title + "\nid: " + id + "\nlogsource: {category: webserver}\nlevel: high\ndetection:\n" + detection)
}

// A broken Sigma rule the user gives stops the run naming file, line and
// reason; it is never skipped silently.
func TestBrokenUserSigmaStops(t *testing.T) {
	for _, tc := range []struct {
		name, detection string
		line            string
		reason          string
	}{
		{"bad re", "    sel:\n        cs-uri-stem|re: 'a(b'\n    condition: sel\n", ":7:", "missing closing )"},
		{"undefined name", "    sel:\n        cs-uri-stem: /x\n    condition: sel and other\n", ":8:", `unknown selection "other"`},
		{"deep re", "    sel:\n        cs-uri-stem|re: '" + strings.Repeat("(", 3000) + "a" + strings.Repeat(")", 3000) + "'\n    condition: sel\n", ":7:", "nests 3000 deep"},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "broken.yml")
		if err := os.WriteFile(file, sigmaRule("Broken", "11111111-2222-4333-8444-555555555555", tc.detection), 0o644); err != nil {
			t.Fatal(err)
		}
		cat := loadCatalog(t)
		err := cat.LoadSigma(dir)
		if err == nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, file+tc.line) || !strings.Contains(msg, tc.reason) {
			t.Errorf("%s: %v, want %s%s and %q", tc.name, err, file, tc.line, tc.reason)
		}
	}
}

// A user's Sigma rule that needs a feature the engine lacks is skipped,
// and the run's result lists it with the reason; the other rules run.
func TestUnsupportedUserSigmaListed(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string][]byte{
		"rules/lookbehind.yml": sigmaRule("Look-behind", "aaaaaaaa-2222-4333-8444-555555555555",
			"    sel:\n        cs-uri-query|re: '(?<=Email=)autodiscover'\n    condition: sel\n"),
		"rules/ok.yml": sigmaRule("Autodiscover SSRF", "bbbbbbbb-2222-4333-8444-555555555555",
			"    sel:\n        cs-uri-stem|contains: '/autodiscover/autodiscover.json'\n    condition: sel\n"),
		"ev/SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log": iisLog("10:00:00 GET /autodiscover/autodiscover.json 200 198.51.100.7 python-requests/2.25"),
	}, time.Now())
	cat := loadCatalog(t)
	if err := cat.LoadSigma(filepath.Join(dir, "rules")); err != nil {
		t.Fatal(err)
	}
	res := huntWith(t, cat, hunt.Options{}, filepath.Join(dir, "ev"))
	var listed bool
	for _, sk := range res.SkippedRules {
		if sk.Rule == "sigma:aaaaaaaa-2222-4333-8444-555555555555" {
			listed = sk.File == filepath.Join(dir, "rules", "lookbehind.yml") && sk.Line == 7 && strings.Contains(sk.Reason, "unsupported")
			if !listed {
				t.Errorf("skipped rule %+v", sk)
			}
		}
	}
	if !listed {
		t.Errorf("the unsupported rule is not in the result: %+v", res.SkippedRules)
	}
	hits := 0
	for _, s := range res.Servers {
		for _, f := range s.Findings {
			if f.Rule == "sigma:bbbbbbbb-2222-4333-8444-555555555555" {
				hits++
			}
		}
	}
	if hits != 1 {
		t.Errorf("the supported user rule fired %d times, want 1", hits)
	}
}
