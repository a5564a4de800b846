package sigma

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// regressionCases is SigmaHQ's regression suite: per rule, the rule, the
// events (as EVTX and as JSON) that must trigger it, and info.yml.
const regressionCases = "../../testdata/sigma-regression/cases"

// regressionAllow lists cases allowed to fail to load, with the reason.
var regressionAllow = map[string]string{}

// regressionAtLeast lists cases whose test data holds more events that match
// than info.yml's match_count says, with the reason the extra ones match.
// SigmaHQ writes match_count: 1 for "the rule fires" on such captures.
var regressionAtLeast = map[string]string{
	"rules/windows/file/file_event/file_event_win_anydesk_artefact": "AnyDesk writes user.conf.new twice and " +
		"user.conf~RF….TMP: all three paths contain \\AppData\\Roaming\\AnyDesk\\user.conf",
	"rules/windows/registry/registry_set/registry_set_change_security_zones": "the capture sets three " +
		"ZoneMap\\Domains values (https, http, *) to zone 2; none is in the filter",
}

type regressionCase struct {
	dir    string // relative to regressionCases
	rule   *Rule
	err    error
	events []*Event
	// want is the number of events that must match; -1: at least one.
	want int
}

func loadRegressionCases(t *testing.T) []*regressionCase {
	t.Helper()
	if _, err := os.Stat(regressionCases); err != nil {
		t.Fatalf("Sigma regression suite not found at %s (from internal/sigma): %v", regressionCases, err)
	}
	var cases []*regressionCase
	err := filepath.WalkDir(regressionCases, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "rule.yml" {
			return err
		}
		dir := filepath.Dir(p)
		rel, _ := filepath.Rel(regressionCases, dir)
		c := &regressionCase{dir: filepath.ToSlash(rel), want: -1}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c.rule, c.err = Parse(data, nil)
		info, err := os.ReadFile(filepath.Join(dir, "info.yml"))
		if err != nil {
			return err
		}
		var meta struct {
			Tests []struct {
				Type       string `yaml:"type"`
				MatchCount *int   `yaml:"match_count"`
				Path       string `yaml:"path"`
			} `yaml:"regression_tests_info"`
		}
		if err := yaml.Unmarshal(info, &meta); err != nil {
			t.Fatalf("%s/info.yml: %v", c.dir, err)
		}
		if len(meta.Tests) != 1 || meta.Tests[0].Type != "evtx" {
			t.Fatalf("%s/info.yml: want one evtx test, have %+v", c.dir, meta.Tests)
		}
		test := meta.Tests[0]
		// match_count is how many events of the test data the rule matches;
		// SigmaHQ omits it where only "the rule fires" is checked.
		if test.MatchCount != nil {
			c.want = *test.MatchCount
		}
		jsonPath := filepath.Join(dir, strings.TrimSuffix(filepath.Base(test.Path), filepath.Ext(test.Path))+".json")
		f, err := os.Open(jsonPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if c.events, err = ReadEventsJSON(f); err != nil {
			t.Fatalf("%s: %v", jsonPath, err)
		}
		if len(c.events) == 0 {
			t.Fatalf("%s: no events", jsonPath)
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases under %s", regressionCases)
	}
	return cases
}

func countMatches(r *Rule, evs []*Event) int {
	n := 0
	for _, ev := range evs {
		if r.Match(ev) {
			n++
		}
	}
	return n
}

// TestRegressionSuite: every rule of the suite loads and matches its events.
func TestRegressionSuite(t *testing.T) {
	cases := loadRegressionCases(t)
	passed := 0
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			if c.err != nil {
				if why, ok := regressionAllow[c.dir]; ok {
					t.Skipf("allowed to fail to load (%s): %v", why, c.err)
				}
				t.Fatalf("rule does not load: %v", c.err)
			}
			got := countMatches(c.rule, c.events)
			switch {
			case c.want < 0 && got == 0:
				t.Errorf("rule matches none of its %d events", len(c.events))
			case c.want >= 0 && got < c.want:
				t.Errorf("rule matches %d of its %d events, match_count is %d", got, len(c.events), c.want)
			case c.want >= 0 && got > c.want && regressionAtLeast[c.dir] == "":
				t.Errorf("rule matches %d of its %d events, match_count is %d", got, len(c.events), c.want)
			default:
				passed++
			}
		})
	}
	t.Logf("%d of %d regression cases pass", passed, len(cases))
}

// TestRegressionNegative: no rule matches events of another logsource, nor
// an ordinary event of its own logsource.
func TestRegressionNegative(t *testing.T) {
	cases := loadRegressionCases(t)
	for _, c := range cases {
		if c.err != nil {
			continue
		}
		t.Run(c.dir, func(t *testing.T) {
			others := 0
			for _, o := range cases {
				for _, ev := range o.events {
					if c.rule.Applies(ev.Channel(), ev.ID()) {
						continue
					}
					others++
					if c.rule.Match(ev) {
						t.Errorf("matches an event of %s (%s %d), another logsource", o.dir, ev.Channel(), ev.ID())
					}
				}
			}
			if others == 0 {
				t.Errorf("no event of another logsource to test against")
			}
			tested := false
			for _, ev := range c.events {
				b := benignEvent(ev)
				if b == nil {
					continue
				}
				tested = true
				if c.rule.Match(b) {
					t.Errorf("matches an ordinary event: %v", b.Values())
				}
			}
			if !tested {
				t.Errorf("no ordinary event for %s %d", c.events[0].Channel(), c.events[0].ID())
			}
		})
	}
}

// benignEvents are ordinary activity of each event kind the suite has:
// nothing a detection rule should flag.
var benignEvents = map[int]map[string]string{
	1: {
		"Image": `C:\Windows\System32\notepad.exe`, "OriginalFileName": "NOTEPAD.EXE",
		"CommandLine": `"C:\Windows\System32\notepad.exe" C:\Users\alice\Documents\todo.txt`,
		"ParentImage": `C:\Windows\explorer.exe`, "ParentCommandLine": `C:\Windows\Explorer.EXE`,
		"CurrentDirectory": `C:\Users\alice\`, "User": `CONTOSO\alice`, "IntegrityLevel": "Medium",
		"Description": "Notepad", "Product": "Microsoft® Windows® Operating System", "Company": "Microsoft Corporation",
		"FileVersion": "10.0.19041.1 (WinBuild.160101.0800)", "Hashes": "SHA256=0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		"ParentUser": `CONTOSO\alice`, "LogonId": "0x3e7a1", "TerminalSessionId": "1",
	},
	7: {
		"Image": `C:\Windows\System32\notepad.exe`, "ImageLoaded": `C:\Windows\System32\kernel32.dll`,
		"OriginalFileName": "kernel32", "Description": "Windows NT BASE API Client DLL", "Product": "Microsoft® Windows® Operating System",
		"Company": "Microsoft Corporation", "Signed": "true", "Signature": "Microsoft Windows", "SignatureStatus": "Valid", "User": `CONTOSO\alice`,
	},
	10: {
		"SourceImage": `C:\Windows\explorer.exe`, "TargetImage": `C:\Windows\System32\notepad.exe`, "GrantedAccess": "0x1000",
		"CallTrace": `C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2c13e`, "SourceUser": `CONTOSO\alice`, "TargetUser": `CONTOSO\alice`,
	},
	11: {
		"Image": `C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "TargetFilename": `C:\Users\alice\Documents\report.docx`, "User": `CONTOSO\alice`,
	},
	12:   {"EventType": "CreateKey", "Image": `C:\Windows\explorer.exe`, "TargetObject": `HKU\S-1-5-21-1-2-3-1001\Software\Contoso\Notes`, "User": `CONTOSO\alice`},
	13:   {"EventType": "SetValue", "Image": `C:\Windows\explorer.exe`, "TargetObject": `HKU\S-1-5-21-1-2-3-1001\Software\Contoso\Notes\WindowWidth`, "Details": "DWORD (0x00000320)", "User": `CONTOSO\alice`},
	4701: {"SubjectUserName": "alice", "SubjectDomainName": "CONTOSO", "TaskName": `\Contoso\NightlyBackup`, "TaskContent": "<Task/>"},
}

// benignEvent is an ordinary event of the same channel and ID as ev, or nil.
func benignEvent(ev *Event) *Event {
	data, ok := benignEvents[ev.ID()]
	if !ok {
		return nil
	}
	f := map[string]string{}
	for _, k := range []string{"Channel", "EventID", "Provider_Name", "Computer"} {
		f[k], _ = ev.Field(k)
	}
	for k, v := range data {
		f[k] = v
	}
	return NewEvent(f)
}

// TestRegressionSecurity4688: process-creation rules that read only fields a
// Security 4688 event also has match the suite's Sysmon events rewritten as
// 4688 events, through the windows-audit field renames.
func TestRegressionSecurity4688(t *testing.T) {
	cases := loadRegressionCases(t)
	portable := map[string]bool{"image": true, "parentimage": true, "commandline": true}
	tested := 0
	for _, c := range cases {
		if c.err != nil || c.rule.Logsource.Category != "process_creation" {
			continue
		}
		fields := detectionFields(c.rule)
		ok := true
		for _, f := range fields {
			ok = ok && portable[f]
		}
		if !ok {
			continue
		}
		var converted []*Event
		for _, ev := range c.events {
			f := map[string]string{"Channel": "Security", "EventID": "4688", "Provider_Name": "Microsoft-Windows-Security-Auditing"}
			f["NewProcessName"], _ = ev.Field("Image")
			f["ParentProcessName"], _ = ev.Field("ParentImage")
			f["CommandLine"], _ = ev.Field("CommandLine")
			converted = append(converted, NewEvent(f))
		}
		want, got := countMatches(c.rule, c.events), countMatches(c.rule, converted)
		if got != want {
			t.Errorf("%s (fields %v): %d of the 4688 events match, %d of the Sysmon ones", c.dir, fields, got, want)
		}
		tested++
	}
	if tested < 10 {
		t.Errorf("only %d process-creation rules read only Image, ParentImage and CommandLine", tested)
	}
	t.Logf("%d rules tested on 4688 events", tested)
}

// detectionFields lists the lower-case field names a rule's selections test.
func detectionFields(r *Rule) []string {
	seen := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				seen[strings.ToLower(strings.Split(n.Content[i].Value, "|")[0])] = true
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	for name, n := range r.Detection {
		if name != "condition" {
			walk(&n)
		}
	}
	var out []string
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
