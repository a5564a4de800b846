package sigma

import "testing"

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
		ch, id := ev.Channel(), ev.ID()
		for _, fl := range ev.Evtx().Fields {
			if _, ok := ev.Field(fl.Name); !ok {
				t.Fatalf("field %q does not read back", fl.Name)
			}
		}
		for _, r := range rules {
			if r.Match(ev) && !r.Applies(ch, id) {
				t.Fatalf("%s matches an event it does not apply to", r.ID)
			}
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
