package sigma

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/exhunt/exhunt/internal/detect"
)

// fuzzEvents are what fuzzed rules are matched against: each logsource kind
// the table maps, with fields rules commonly test.
var fuzzEvents = []*Event{
	sysmon1("Image", `C:\Windows\System32\cmd.exe`, "CommandLine", "cmd /c whoami -all", "ParentImage", `C:\w3wp.exe`, "User", `NT AUTHORITY\SYSTEM`, "DestinationIp", "10.0.0.1", "ProcessId", "0x10"),
	NewEvent(map[string]string{"Channel": "Security", "EventID": "4688", "NewProcessName": `C:\x.exe`, "CommandLine": "x -enc SQBFAFgA", "SubjectUserName": "bob"}),
	NewEvent(map[string]string{"Channel": "MSExchange Management", "EventID": "1", "Data": "Set-OabVirtualDirectory\n-ExternalUrl 'http://f/<script'"}),
	NewEvent(map[string]string{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "13", "TargetObject": `HKLM\SOFTWARE\x`, "Details": "DWORD (0x00000001)"}),
}

// FuzzSigmaRule: no rule text makes loading or matching panic or hang.
func FuzzSigmaRule(f *testing.F) {
	f.Add([]byte(procHeader + "detection:\n    sel:\n        CommandLine|windash|contains|all: [' -a', '/b-c']\n    condition: sel\n"))
	f.Add([]byte(procHeader + "detection:\n    sel:\n        CommandLine|wide|base64offset|contains: 'IEX'\n    kw: ['a*b?c']\n    condition: 1 of them\n"))
	f.Add([]byte(procHeader + "detection:\n    sel:\n        User|expand: '%admins%'\n        ParentImage|fieldref|endswith: Image\n        DestinationIp|cidr: 10.0.0.0/8\n    condition: not sel\n"))
	f.Add([]byte("title: t\nlogsource: {product: windows, service: msexchange-management}\ndetection:\n  k:\n    '|all': ['Oab', ' -ExternalUrl ']\n  condition: k\n"))
	f.Add([]byte("title: t\nlogsource: {category: webserver}\ndetection:\n  s: {sc-status|gte: 200, cs-uri-query|re|i: 'a(b|c)+'}\n  condition: s | count() > 3\n"))
	seeds, _ := filepath.Glob(regressionCases + "/*/*/*/*/*/rule.yml")
	more, _ := filepath.Glob(regressionCases + "/*/*/*/*/rule.yml")
	for _, p := range append(seeds, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	cfg := &Config{Placeholders: map[string][]string{"admins": {"adm-*", `CONTOSO\root`}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data, cfg)
		if err != nil {
			if r != nil {
				t.Fatal("a rule with an error")
			}
			return
		}
		for _, ev := range fuzzEvents {
			hit := r.Match(ev)
			src := r.mapping.Source(ev.Channel(), ev.ID())
			if src == nil || ev.ID() < 0 {
				continue
			}
			// metered, the match decides the same, and a limit below
			// what it spends stops it without going past the limit
			m := detect.Meter{Limit: math.MaxInt64}
			if r.det.MatchMeter(ev.Under(src, nil), &m) != hit || m.Over() {
				t.Fatalf("metered match differs from Match (%v)", hit)
			}
			if m.Steps > 0 {
				low := detect.Meter{Limit: m.Steps - 1}
				if r.det.MatchMeter(ev.Under(src, nil), &low) || !low.Over() || low.Steps > low.Limit {
					t.Fatalf("limit %d below the %d steps spent: over %v after %d", low.Limit, m.Steps, low.Over(), low.Steps)
				}
			}
		}
		r.Applies("Security", 4688)
		r.MatchLog("iis", fuzzEvents[0])
	})
}
