package sigma

import (
	"strings"
	"testing"
)

// FuzzParseLogsources: a site's logsource table is user input; no table
// panics, and one that loads has what the loader promises.
func FuzzParseLogsources(f *testing.F) {
	f.Add(string(defaultLogsourcesYAML))
	f.Add("- category: process_creation\n  product: windows\n  events:\n    - channel: Security\n      event_ids: [4688]\n      fields: {Image: NewProcessName}\n")
	f.Add("- service: x\n  logs: [iis]\n")
	f.Add("- category: a\n  events: [{channel: ''}]\n")
	f.Add("&a [*a, *a, *a]")
	f.Fuzz(func(t *testing.T, data string) {
		tbl, err := ParseLogsources([]byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "logsource table") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for _, m := range tbl {
			if m.Category == "" && m.Service == "" || len(m.Events) == 0 && len(m.Logs) == 0 {
				t.Fatalf("entry accepted without selector or source: %+v", m)
			}
			for _, e := range m.Events {
				if e.Channel == "" {
					t.Fatalf("event source without channel: %+v", m)
				}
				for k, v := range e.Fields {
					if got, ok := e.rename(strings.ToUpper(k)); !ok || got != v && !hasFoldDup(e.Fields, k) {
						t.Fatalf("rename(%q) = %q %v, want %q", k, got, ok, v)
					}
				}
			}
		}
	})
}

// hasFoldDup reports keys that differ only in case (the last one wins).
func hasFoldDup(m map[string]string, k string) bool {
	for o := range m {
		if o != k && strings.EqualFold(o, k) {
			return true
		}
	}
	return false
}

// FuzzEventMapping: an event as exhunt reads it (JSON as evtx dump writes
// it) meets every shipped rule through the channel and event-ID mapping
// and the field renames; no event panics, and an event's fields read back.
func FuzzEventMapping(f *testing.F) {
	f.Add([]byte(`{"Event":{"System":{"EventID":4688,"Channel":"Security"},"EventData":{"NewProcessName":"C:\\Windows\\System32\\cmd.exe","ParentProcessName":"C:\\Windows\\System32\\inetsrv\\w3wp.exe","CommandLine":"cmd /c whoami"}}}`))
	f.Add([]byte(`{"Event":{"System":{"EventID":{"#text":1,"#attributes":{"Qualifiers":0}},"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"C:\\x\\procdump64.exe","CommandLine":"-ma lsass.exe"}}}`))
	f.Add([]byte(`{"Event":{"System":{"EventID":1,"Channel":"MSExchange Management"},"EventData":{"Data":{"#text":["New-MailboxExportRequest","-FilePath \\\\127.0.0.1\\c$\\inetpub\\wwwroot\\x.aspx"]}}}}`))
	f.Add([]byte(`{"Event":{"System":{"EventID":-1,"Channel":""}}}`))
	rules := shippedRules(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEventJSON(data)
		if err != nil {
			return
		}
		ch, id := ev.Channel(), ev.EventID()
		for _, n := range ev.Names() {
			if _, ok := ev.Field(n); !ok {
				t.Fatalf("field %q does not read back", n)
			}
		}
		for _, r := range rules {
			if r.Applies(ch, id) {
				r.MatchEvent(ch, id, ev)
			}
			r.Match(ev)
		}
	})
}

// shippedRules loads the SigmaHQ rules exhunt ships.
func shippedRules(tb testing.TB) []*Rule {
	set, err := LoadDir(upstreamSigma, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return set.Rules
}
