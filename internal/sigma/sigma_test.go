package sigma

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/logs"
	"github.com/exhunt/exhunt/internal/winevent"
)

const procHeader = `title: test
id: 00000000-0000-4000-8000-000000000000
logsource:
    product: windows
    category: process_creation
`

// procRule compiles a process-creation rule with the given detection.
func procRule(t *testing.T, detection string, cfg *Config) *Rule {
	t.Helper()
	r, err := Parse([]byte(procHeader+"detection:\n"+detection), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, detection)
	}
	return r
}

// sysmon1 is a Sysmon process-creation event with the given fields.
func sysmon1(kv ...string) *Event {
	f := map[string]string{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "1", "Provider_Name": "Microsoft-Windows-Sysmon"}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return NewEvent(f)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func utf16le(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

type matchCase struct {
	name string
	ev   *Event
	want bool
}

func checkMatches(t *testing.T, r *Rule, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		if got := r.Match(c.ev); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestValues(t *testing.T) {
	r := procRule(t, `    exact:
        Image: 'C:\Windows\System32\cmd.exe'
    condition: exact
`, nil)
	checkMatches(t, r, []matchCase{
		{"exact, other case", sysmon1("Image", `c:\windows\SYSTEM32\CMD.EXE`), true},
		{"longer", sysmon1("Image", `C:\Windows\System32\cmd.exe.bak`), false},
		{"missing field", sysmon1("CommandLine", "cmd"), false},
	})
	r = procRule(t, `    sel:
        CommandLine: 'a*b?c\*d\?e\\*'
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"wildcards", sysmon1("CommandLine", `aXXbYc*d?e\tail`), true},
		{"escaped star is literal", sysmon1("CommandLine", `aXXbYcZd?e\tail`), false},
		{"? needs one character", sysmon1("CommandLine", `abc*d?e\`), false},
		{"escaped backslash before wildcard", sysmon1("CommandLine", `abYc*d?e`), false},
	})
	r = procRule(t, `    sel:
        Description: 'caf?'
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"? is one character, not one byte", sysmon1("Description", "CAFÉ"), true},
		{"? is exactly one character", sysmon1("Description", "café!"), false},
	})
	r = procRule(t, `    sel:
        CommandLine|contains: 'C:\Users\'
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"lone backslash is literal", sysmon1("CommandLine", `x C:\users\bob`), true},
	})
	r = procRule(t, `    sel:
        EventID: 1
        ProcessId: 4660
        TerminalSessionId: '0'
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"numbers as text and as numbers", sysmon1("ProcessId", "4660", "TerminalSessionId", "0"), true},
		{"hex field equals the number", sysmon1("ProcessId", "0x1234", "TerminalSessionId", "0"), true},
		{"other number", sysmon1("ProcessId", "4661", "TerminalSessionId", "0"), false},
		{"quoted value is text only", sysmon1("ProcessId", "4660", "TerminalSessionId", "0x0"), false},
	})
	r = procRule(t, `    sel:
        ParentImage: null
    empty:
        CurrentDirectory: ''
    condition: sel and empty
`, nil)
	checkMatches(t, r, []matchCase{
		{"null: missing; '': empty", sysmon1("CurrentDirectory", ""), true},
		{"null: empty", sysmon1("ParentImage", "", "CurrentDirectory", ""), true},
		{"null: present", sysmon1("ParentImage", "x", "CurrentDirectory", ""), false},
		{"'' needs the field", sysmon1(), false},
	})
}

func TestStringModifiers(t *testing.T) {
	r := procRule(t, `    c:
        CommandLine|contains: 'mimikatz'
    s:
        Image|startswith: 'C:\Temp\'
    e:
        ParentImage|endswith: '\winword.exe'
    cased:
        User|cased: 'SYSTEM'
    all:
        CommandLine|contains|all: ['-nop', 'hidden']
    condition: c or s or e or cased or all
`, nil)
	checkMatches(t, r, []matchCase{
		{"contains", sysmon1("CommandLine", "run MimiKatz.exe now"), true},
		{"startswith", sysmon1("Image", `c:\temp\a.exe`), true},
		{"startswith elsewhere", sysmon1("Image", `D:\c:\temp\a.exe`), false},
		{"endswith", sysmon1("ParentImage", `C:\Office\WINWORD.EXE`), true},
		{"cased", sysmon1("User", "SYSTEM"), true},
		{"cased, other case", sysmon1("User", "system"), false},
		{"all", sysmon1("CommandLine", "powershell -NoP -w HIDDEN"), true},
		{"all, one missing", sysmon1("CommandLine", "powershell -nop"), false},
	})
}

func TestRegexModifiers(t *testing.T) {
	r := procRule(t, `    re:
        CommandLine|re: 'Invoke-[A-Z][a-z]+'
    condition: re
`, nil)
	checkMatches(t, r, []matchCase{
		{"search anywhere", sysmon1("CommandLine", "x Invoke-Expression y"), true},
		{"case-sensitive by default", sysmon1("CommandLine", "invoke-expression"), false},
	})
	r = procRule(t, `    i:
        CommandLine|re|i: '^invoke-expression$'
    m:
        ParentCommandLine|re|m: '^second$'
    s:
        CurrentDirectory|re|s: 'a.b'
    condition: i or m or s
`, nil)
	checkMatches(t, r, []matchCase{
		{"i", sysmon1("CommandLine", "Invoke-Expression"), true},
		{"m", sysmon1("ParentCommandLine", "first\nsecond\nthird"), true},
		{"without m", sysmon1("CommandLine", "first\nInvoke-Expression"), false},
		{"s", sysmon1("CurrentDirectory", "a\nb"), true},
	})
	_, err := Parse([]byte(procHeader+"detection:\n    sel:\n        CommandLine|re: '(?<=a)b'\n    condition: sel\n"), nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("PCRE look-behind: %v, want unsupported", err)
	}
}

func TestBase64Offsets(t *testing.T) {
	// pySigma's base64offset output, computed with Python.
	for in, want := range map[string][]string{
		"http://":                  {"aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"},
		"foobar":                   {"Zm9vYmFy", "Zvb2Jhc", "mb29iYX"},
		utf16le("Invoke-Mimikatz"): {"SQBuAHYAbwBrAGUALQBNAGkAbQBpAGsAYQB0AHoA", "kAbgB2AG8AawBlAC0ATQBpAG0AaQBrAGEAdAB6A", "JAG4AdgBvAGsAZQAtAE0AaQBtAGkAawBhAHQAeg"},
		utf16le("ping"):            {"cABpAG4AZw", "AAaQBuAGcA", "wAGkAbgBnA"},
	} {
		if got := detect.Base64Offsets(in); !slices.Equal(got, want) {
			t.Errorf("Base64Offsets(%q) = %q, want %q", in, got, want)
		}
	}
	r := procRule(t, `    b64:
        CommandLine|base64offset|contains: 'http://evil'
    wide:
        CommandLine|wide|base64offset|contains: 'DownloadString'
    condition: b64 or wide
`, nil)
	var cases []matchCase
	for _, pre := range []string{"", "x", "xy", "xyz"} {
		cases = append(cases,
			matchCase{"base64offset after " + pre, sysmon1("CommandLine", "python -c "+b64(pre+"get http://evil/a")), true},
			matchCase{"wide base64offset after " + pre, sysmon1("CommandLine", "powershell -enc "+b64(utf16le(pre+"IEX (New-Object Net.WebClient).DownloadString('x')"))), true},
			matchCase{"utf-8 is not wide, after " + pre, sysmon1("CommandLine", "powershell -enc "+b64(pre+"IEX (New-Object Net.WebClient).DownloadString('x')")), false},
		)
	}
	cases = append(cases, matchCase{"plain text", sysmon1("CommandLine", "get http://evil/a"), false})
	checkMatches(t, r, cases)
}

func TestEncodingModifiers(t *testing.T) {
	r := procRule(t, `    b64:
        CommandLine|base64: 'http://'
    le:
        ParentCommandLine|utf16le|base64: 'cmd'
    be:
        CurrentDirectory|utf16be|base64: 'cmd'
    bom:
        User|utf16|base64: 'cmd'
    condition: 1 of them
`, nil)
	checkMatches(t, r, []matchCase{
		{"base64 is the whole value", sysmon1("CommandLine", "aHR0cDovLw=="), true},
		{"base64 exact", sysmon1("CommandLine", "x aHR0cDovLw=="), false},
		{"utf16le", sysmon1("ParentCommandLine", "YwBtAGQA"), true},
		{"utf16be", sysmon1("CurrentDirectory", "AGMAbQBk"), true},
		{"utf16 with byte order mark", sysmon1("User", "//5jAG0AZAA="), true},
		{"utf16 without byte order mark", sysmon1("User", "YwBtAGQA"), false},
	})
	_, err := Parse([]byte(procHeader+"detection:\n    sel:\n        CommandLine|contains|base64: 'x'\n    condition: sel\n"), nil)
	if err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("base64 of a wildcard value: %v, want a broken rule", err)
	}
}

func TestWindash(t *testing.T) {
	r := procRule(t, `    sel:
        CommandLine|windash|contains:
            - ' -enc '
            - ' -foo-bar'
    condition: sel
`, nil)
	var cases []matchCase
	for _, d := range []string{"-", "/", "\u2013", "\u2014", "\u2015"} {
		cases = append(cases, matchCase{"dash " + d, sysmon1("CommandLine", "powershell "+d+"EnC AAAA"), true})
	}
	cases = append(cases,
		matchCase{"other character", sysmon1("CommandLine", "powershell +enc AAAA"), false},
		matchCase{"first dash of -foo-bar varies", sysmon1("CommandLine", "x /foo-bar"), true},
		matchCase{"inner dash of -foo-bar does not", sysmon1("CommandLine", "x -foo/bar"), false},
	)
	checkMatches(t, r, cases)
	r = procRule(t, `    sel:
        CommandLine|windash|base64offset|contains: ' -w hidden'
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"windash before an encoding", sysmon1("CommandLine", b64("x /w hidden")), true},
		{"windash before an encoding, en dash", sysmon1("CommandLine", b64("xy \u2013w hidden")), true},
	})
}

func TestOtherModifiers(t *testing.T) {
	r := procRule(t, `    net:
        DestinationIp|cidr:
            - '10.0.0.0/8'
            - 'fd00::/8'
    cmp:
        TerminalSessionId|gt: 1
        TerminalSessionId|lte: 3
    present:
        RuleName|exists: true
    absent:
        OriginalFileName|exists: false
    condition: net or (cmp and present and absent)
`, nil)
	checkMatches(t, r, []matchCase{
		{"cidr v4", sysmon1("DestinationIp", "10.1.2.3"), true},
		{"cidr v4 outside", sysmon1("DestinationIp", "11.1.2.3"), false},
		{"cidr v6", sysmon1("DestinationIp", "fd12::1"), true},
		{"cidr not an address", sysmon1("DestinationIp", "ten"), false},
		{"numbers and exists", sysmon1("TerminalSessionId", "2", "RuleName", ""), true},
		{"gt", sysmon1("TerminalSessionId", "1", "RuleName", "-"), false},
		{"lte", sysmon1("TerminalSessionId", "4", "RuleName", "-"), false},
		{"exists: false", sysmon1("TerminalSessionId", "2", "RuleName", "-", "OriginalFileName", ""), false},
		{"exists: true", sysmon1("TerminalSessionId", "2"), false},
	})
	r = procRule(t, `    same:
        ParentImage|fieldref: Image
    prefix:
        CommandLine|fieldref|startswith: Image
    suffix:
        CurrentDirectory|fieldref|endswith: User
    inside:
        ParentCommandLine|fieldref|contains: OriginalFileName
    cased:
        Product|fieldref|cased: Company
    condition: 1 of them
`, nil)
	checkMatches(t, r, []matchCase{
		{"fieldref", sysmon1("Image", `C:\a.exe`, "ParentImage", `c:\A.EXE`), true},
		{"fieldref differs", sysmon1("Image", `C:\a.exe`, "ParentImage", `C:\b.exe`), false},
		{"fieldref to a missing field", sysmon1("ParentImage", `C:\b.exe`), false},
		{"fieldref startswith", sysmon1("Image", `C:\a.exe`, "CommandLine", `C:\a.exe -x`), true},
		{"fieldref startswith elsewhere", sysmon1("Image", `C:\a.exe`, "CommandLine", `"C:\a.exe" -x`), false},
		{"fieldref endswith", sysmon1("User", "bob", "CurrentDirectory", `C:\Users\Bob`), true},
		{"fieldref contains", sysmon1("OriginalFileName", "evil.exe", "ParentCommandLine", "run EVIL.exe now"), true},
		{"fieldref cased", sysmon1("Company", "Acme", "Product", "acme"), false},
		{"fieldref cased equal", sysmon1("Company", "Acme", "Product", "Acme"), true},
	})
	r = procRule(t, `    sel:
        Image|endswith: '\rundll32.exe'
        User|neq: ['NT AUTHORITY\SYSTEM', 'NT AUTHORITY\LOCAL SERVICE']
    condition: sel
`, nil)
	checkMatches(t, r, []matchCase{
		{"neq", sysmon1("Image", `C:\rundll32.exe`, "User", `CONTOSO\bob`), true},
		{"neq one of the values", sysmon1("Image", `C:\rundll32.exe`, "User", `nt authority\local service`), false},
	})
}

func TestExpand(t *testing.T) {
	det := "    sel:\n        User|expand: '%admins%'\n    condition: sel\n"
	_, err := Parse([]byte(procHeader+"detection:\n"+det), nil)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "%admins%") {
		t.Fatalf("unresolved placeholder: %v, want unsupported naming it", err)
	}
	r := procRule(t, det, &Config{Placeholders: map[string][]string{"admins": {`CONTOSO\adm-*`, `CONTOSO\root`}}})
	checkMatches(t, r, []matchCase{
		{"placeholder value with a wildcard", sysmon1("User", `contoso\adm-bob`), true},
		{"placeholder value", sysmon1("User", `CONTOSO\root`), true},
		{"neither", sysmon1("User", `CONTOSO\bob`), false},
	})
	r = procRule(t, "    sel:\n        CommandLine|expand: '\\%plain%name% 100%'\n    condition: sel\n", &Config{Placeholders: map[string][]string{"name": {"x"}}})
	checkMatches(t, r, []matchCase{
		{`\% is a plain percent sign`, sysmon1("CommandLine", "%plainx 100%"), true},
	})
	r = procRule(t, "    sel:\n        CommandLine: '%name%'\n    condition: sel\n", nil)
	checkMatches(t, r, []matchCase{
		{"without expand a placeholder is text", sysmon1("CommandLine", "%NAME%"), true},
	})
}

func TestKeywords(t *testing.T) {
	r := procRule(t, `    keywords:
        - 'mimikatz'
        - 'sekurlsa::*'
    condition: keywords
`, nil)
	checkMatches(t, r, []matchCase{
		{"in any field", sysmon1("ParentCommandLine", "x MIMIKATZ y"), true},
		{"wildcard", sysmon1("CommandLine", "run sekurlsa::logonpasswords"), true},
		{"nowhere", sysmon1("CommandLine", "notepad"), false},
	})
	r = procRule(t, `    both:
        '|all':
            - 'OabVirtualDirectory'
            - ' -ExternalUrl '
    condition: both
`, nil)
	checkMatches(t, r, []matchCase{
		{"all keywords, in different fields", sysmon1("CommandLine", "Set-OabVirtualDirectory", "ParentCommandLine", "x -ExternalUrl y"), true},
		{"one keyword", sysmon1("CommandLine", "Set-OabVirtualDirectory"), false},
	})
	r = procRule(t, `    kw:
        - 'a*b'
    condition: kw
`, nil)
	checkMatches(t, r, []matchCase{
		{"a keyword does not span two values", sysmon1("CommandLine", "xa", "ParentCommandLine", "bx"), false},
		{"within one value", sysmon1("CommandLine", "xa--bx"), true},
	})
}

func TestConditions(t *testing.T) {
	r := procRule(t, `    sel_img:
        Image|endswith: '\a.exe'
    sel_cli:
        CommandLine|contains: 'x'
    filter_main:
        User: 'SYSTEM'
    filter_opt:
        User: 'LOCAL SERVICE'
    other:
        CurrentDirectory: 'C:\'
    condition: all of sel_* and not 1 of filter_* or other and not (sel_img or sel_cli)
`, nil)
	checkMatches(t, r, []matchCase{
		{"all of sel_*", sysmon1("Image", `C:\a.exe`, "CommandLine", "x"), true},
		{"one of sel_*", sysmon1("Image", `C:\a.exe`), false},
		{"filtered", sysmon1("Image", `C:\a.exe`, "CommandLine", "x", "User", "SYSTEM"), false},
		{"filtered by the other filter", sysmon1("Image", `C:\a.exe`, "CommandLine", "x", "User", "local service"), false},
		{"or, and binds tighter", sysmon1("CurrentDirectory", `C:\`), true},
		{"not (a or b)", sysmon1("CurrentDirectory", `C:\`, "CommandLine", "x"), false},
	})
	r = procRule(t, `    a:
        Image: 'a'
    b:
        Image: 'b'
    _helper:
        Image: 'c'
    condition: 1 of them
`, nil)
	checkMatches(t, r, []matchCase{
		{"1 of them", sysmon1("Image", "b"), true},
		{"them leaves out _names", sysmon1("Image", "c"), false},
	})
	r = procRule(t, `    a:
        Image|contains: 'a'
    b:
        Image|contains: 'b'
    condition: all of them
`, nil)
	checkMatches(t, r, []matchCase{
		{"all of them", sysmon1("Image", "ab"), true},
		{"not all of them", sysmon1("Image", "a"), false},
	})
	r = procRule(t, `    a:
        Image: 'a'
    b:
        Image: 'b'
    condition:
        - a
        - b
`, nil)
	checkMatches(t, r, []matchCase{
		{"list of conditions: any", sysmon1("Image", "b"), true},
		{"list of conditions: none", sysmon1("Image", "c"), false},
	})
	for name, det := range map[string]string{
		"count":     "    sel:\n        Image: a\n    condition: sel | count() by User > 5\n",
		"near":      "    a:\n        Image: a\n    b:\n        Image: b\n    condition: a | near b\n",
		"timeframe": "    sel:\n        Image: a\n    timeframe: 5m\n    condition: sel\n",
		"time":      "    sel:\n        UtcTime|hour: 3\n    condition: sel\n",
	} {
		if _, err := Parse([]byte(procHeader+"detection:\n"+det), nil); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want unsupported", name, err)
		}
	}
	for name, det := range map[string]string{
		"unknown selection": "    sel:\n        Image: a\n    condition: sel and other\n",
		"no condition":      "    sel:\n        Image: a\n",
		"unbalanced":        "    sel:\n        Image: a\n    condition: (sel\n",
		"unknown modifier":  "    sel:\n        Image|sideways: a\n    condition: sel\n",
		"flag without re":   "    sel:\n        Image|i: a\n    condition: sel\n",
		"bad cidr":          "    sel:\n        Ip|cidr: 10.0.0.0/33\n    condition: sel\n",
		"nested value":      "    sel:\n        Image: {a: b}\n    condition: sel\n",
	} {
		_, err := Parse([]byte(procHeader+"detection:\n"+det), nil)
		if err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want a broken rule", name, err)
		}
	}
}

func TestParse(t *testing.T) {
	r, err := Parse([]byte(`title: Full
id: 5f8a9d3c-0000-4000-8000-000000000001
name: full_rule
status: test
description: d
references: https://example.com/one
author: A, B
date: 2024-01-02
modified: 2024-02-03
tags: [attack.execution, attack.t1059]
logsource: {product: windows, service: security, definition: audit it}
detection:
    sel:
        EventID: 4624
    condition: sel
falsepositives: Admins
level: high
related:
    - {id: 5f8a9d3c-0000-4000-8000-000000000002, type: derived}
fields: [User]
regression_tests_path: regression_data/x/info.yml
custom: {a: 1}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Title != "Full" || r.Name != "full_rule" || r.Date != "2024-01-02" || r.Modified != "2024-02-03" || r.Level != "high" ||
		!slices.Equal(r.References, []string{"https://example.com/one"}) || !slices.Equal(r.FalsePositives, []string{"Admins"}) ||
		len(r.Tags) != 2 || r.Logsource.Definition != "audit it" || len(r.Related) != 1 || r.Related[0].Type != "derived" ||
		!slices.Equal(r.Fields, []string{"User"}) {
		t.Errorf("metadata: %+v", r)
	}
	if _, ok := r.Extra["regression_tests_path"]; !ok || len(r.Extra) != 2 {
		t.Errorf("unknown keys are kept: %v", r.Extra)
	}
	for name, y := range map[string]string{
		"correlation":    "title: c\ncorrelation: {type: event_count, rules: [a]}\nlogsource: {product: windows, service: security}\n",
		"collection":     procHeader + "detection: {sel: {Image: a}, condition: sel}\n---\n" + procHeader + "detection: {sel: {Image: b}, condition: sel}\n",
		"unmapped linux": "title: l\nlogsource: {product: linux, category: process_creation}\ndetection: {sel: {Image: a}, condition: sel}\n",
		"proxy":          "title: p\nlogsource: {category: proxy}\ndetection: {sel: {c-uri: a}, condition: sel}\n",
	} {
		_, err := Parse([]byte(y), nil)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want unsupported", name, err)
		}
	}
	for name, y := range map[string]string{
		"not yaml":     "title: [",
		"no title":     "logsource: {product: windows, service: security}\ndetection: {sel: {a: b}, condition: sel}\n",
		"no logsource": "title: t\ndetection: {sel: {a: b}, condition: sel}\n",
		"no detection": "title: t\nlogsource: {product: windows, service: security}\n",
		"a list":       "- title: t\n",
		"empty":        "",
	} {
		_, err := Parse([]byte(y), nil)
		if err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want a broken rule", name, err)
		}
	}
	_, err = Parse([]byte("title: Named\nid: abc\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {a: b}, condition: sel}\n"), nil)
	var le *LoadError
	if !errors.As(err, &le) || le.ID != "abc" || le.Title != "Named" {
		t.Errorf("load error names the rule: %#v", err)
	}
}

func TestLogsources(t *testing.T) {
	proc := procRule(t, "    sel:\n        Image|endswith: '\\whoami.exe'\n        User|contains: 'bob'\n    condition: sel\n", nil)
	for _, c := range []struct {
		channel string
		id      int
		want    bool
	}{
		{"Microsoft-Windows-Sysmon/Operational", 1, true},
		{"microsoft-windows-sysmon/operational", 1, true},
		{"Microsoft-Windows-Sysmon/Operational", 11, false},
		{"Security", 4688, true},
		{"Security", 4624, false},
		{"Application", 1, false},
	} {
		if got := proc.Applies(c.channel, c.id); got != c.want {
			t.Errorf("process_creation applies to %s %d = %v", c.channel, c.id, got)
		}
	}
	sec := NewEvent(map[string]string{"Channel": "Security", "EventID": "4688", "NewProcessName": `C:\Windows\System32\whoami.exe`, "SubjectUserName": "bob"})
	if !proc.Match(sec) {
		t.Error("Security 4688 with Image as NewProcessName and User as SubjectUserName")
	}
	if proc.Match(NewEvent(map[string]string{"Channel": "Security", "EventID": "4689", "NewProcessName": `C:\whoami.exe`, "SubjectUserName": "bob"})) {
		t.Error("Security 4689 is not process creation")
	}
	for _, c := range []struct {
		logsource, channel string
		id                 int
	}{
		{"{product: windows, service: security}", "Security", 4624},
		{"{product: windows, service: application}", "Application", 1000},
		{"{product: windows, service: msexchange-management}", "MSExchange Management", 1},
		{"{product: windows, service: powershell}", "Microsoft-Windows-PowerShell/Operational", 4104},
		{"{product: windows, category: ps_script}", "Microsoft-Windows-PowerShell/Operational", 4104},
		{"{product: windows, category: ps_classic_start}", "Windows PowerShell", 400},
		{"{product: windows, category: file_event}", "Microsoft-Windows-Sysmon/Operational", 11},
		{"{product: windows, category: image_load}", "Microsoft-Windows-Sysmon/Operational", 7},
		{"{product: windows, category: process_access}", "Microsoft-Windows-Sysmon/Operational", 10},
		{"{product: windows, category: registry_set}", "Microsoft-Windows-Sysmon/Operational", 13},
	} {
		r, err := Parse([]byte("title: t\nlogsource: "+c.logsource+"\ndetection: {sel: {x: y}, condition: sel}\n"), nil)
		if err != nil {
			t.Errorf("%s: %v", c.logsource, err)
			continue
		}
		if !r.Applies(c.channel, c.id) || r.Applies(c.channel+"X", c.id) {
			t.Errorf("%s should apply to %s %d only", c.logsource, c.channel, c.id)
		}
	}
	table, err := winevent.ParseTable([]byte("- {product: linux, category: process_creation, events: [{channel: auditd, fields: {Image: exe}}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse([]byte("title: t\nlogsource: {product: linux, category: process_creation}\ndetection: {sel: {Image: /bin/sh}, condition: sel}\n"), &Config{Logsources: table})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Match(NewEvent(map[string]string{"Channel": "auditd", "EventID": "0", "exe": "/bin/sh"})) {
		t.Error("a site's own logsource table")
	}
	if _, err := winevent.ParseTable([]byte("- {product: windows, category: x, events: [{event_ids: [1]}]}\n")); err == nil {
		t.Error("an event source without channel is accepted")
	}
}

func TestWebserverOnIIS(t *testing.T) {
	s, err := LoadDir(upstreamSigma+"/rules/web", nil)
	if err != nil {
		t.Fatalf("upstream Sigma rules not found at %s: %v", upstreamSigma, err)
	}
	var r *Rule
	for _, x := range s.Rules {
		if strings.HasSuffix(x.Path, "web_win_webshells_in_access_logs.yml") {
			r = x
		}
	}
	if r == nil {
		t.Fatal("web_win_webshells_in_access_logs.yml did not load")
	}
	if !r.AppliesToLog("iis") || r.AppliesToLog("httpproxy") || r.Applies("Security", 4624) {
		t.Error("webserver reads IIS logs only")
	}
	iis := "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 05:00:00\r\n" +
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n" +
		"2021-03-03 05:12:44 10.0.0.2 GET /aspnet_client/discover.aspx cmd=whoami 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0 15\r\n" +
		"2021-03-03 05:12:45 10.0.0.2 POST /aspnet_client/discover.aspx cmd=whoami 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0 15\r\n" +
		"2021-03-03 05:12:46 10.0.0.2 GET /owa/auth/logon.aspx replaceCurrent=1 443 - 10.0.0.9 Mozilla/5.0 - 200 0 0 15\r\n"
	sc := &logs.Scanner{Format: logs.W3C, All: true}
	var hits []int64
	_, err = sc.Scan(context.Background(), strings.NewReader(iis), func(rec *logs.Record) error {
		if r.MatchLog("iis", rec) {
			hits = append(hits, rec.Line)
		}
		if r.MatchLog("httpproxy", rec) {
			t.Error("matched as another log kind")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hits, []int64{5}) {
		t.Errorf("IIS lines matched: %v, want [5] (the GET with =whoami)", hits)
	}
}

func TestExchangeManagementEvent(t *testing.T) {
	s, err := LoadDir(upstreamSigma+"/rules/windows/builtin/msexchange", nil)
	if err != nil {
		t.Fatalf("upstream Sigma rules not found at %s: %v", upstreamSigma, err)
	}
	var r *Rule
	for _, x := range s.Rules {
		if strings.HasSuffix(x.Path, "win_exchange_proxylogon_oabvirtualdir.yml") {
			r = x
		}
	}
	if r == nil {
		t.Fatal("win_exchange_proxylogon_oabvirtualdir.yml did not load")
	}
	// MSExchange Management event 1: unnamed Data elements, the cmdlet then
	// its parameters. Keywords are searched in each value, so the rule's
	// ' -ExternalUrl ' needs a parameter before -ExternalUrl.
	ev := func(params string) *Event {
		e, err := ParseEventJSON([]byte(`{"Event":{"System":{"Provider":{"#attributes":{"Name":"MSExchange CmdletLogs"}},
			"EventID":{"#text":1,"#attributes":{"Qualifiers":16388}},"Channel":"MSExchange Management","Computer":"EXCH01"},
			"EventData":{"Data":{"#text":["Set-OabVirtualDirectory",` + params + `,"CONTOSO\\admin","S-1-5-21-1"]}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if !r.Match(ev(`"-Identity 'OAB (Default Web Site)' -ExternalUrl 'http://f/<script language=\"JScript\" runat=\"server\">function Page_Load(){eval(Request[\"x\"],\"unsafe\");}</script>'"`)) {
		t.Error("China Chopper in ExternalUrl is not detected")
	}
	if r.Match(ev(`"-Identity 'OAB (Default Web Site)' -ExternalUrl 'https://mail.contoso.com/OAB'"`)) {
		t.Error("an ordinary ExternalUrl is detected")
	}
}
