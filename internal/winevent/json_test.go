package winevent

import (
	"strings"
	"testing"
)

func TestEventJSON(t *testing.T) {
	evs, err := ReadJSON(strings.NewReader(`{"Event":{"#attributes":{"xmlns":"x"},"System":{
		"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{5484}"}},
		"EventID":{"#text":4688,"#attributes":{"Qualifiers":0}},"TimeCreated":{"#attributes":{"SystemTime":"2021-03-03T05:00:00Z"}},
		"Correlation":null,"Channel":"Security","Computer":"EXCH01","Security":{"#attributes":{"UserID":"S-1-5-18"}}},
		"EventData":{"SubjectUserName":"bob","NewProcessId":"0x1a2c","Big":18446744073709551615,"Flag":true,"Empty":null,
		  "Named":[{"#attributes":{"Name":"TargetUserName"},"#text":"alice"}]}}}
		{"Event":{"System":{"EventID":4104,"Channel":"Microsoft-Windows-PowerShell/Operational"},
		"UserData":{"EventXML":{"#attributes":{"xmlns":"y"},"Param1":"one","Nested":{"Param2":"two"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	for k, want := range map[string]string{
		"EventID": "4688", "EventID_Qualifiers": "0", "Provider_Name": "Microsoft-Windows-Security-Auditing", "channel": "Security",
		"TimeCreated_SystemTime": "2021-03-03T05:00:00Z", "Security_UserID": "S-1-5-18", "Correlation": "", "SubjectUserName": "bob",
		"Big": "18446744073709551615", "Flag": "true", "Empty": "", "TargetUserName": "alice",
	} {
		if got, ok := e.Field(k); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, want)
		}
	}
	if e.ID() != 4688 || e.Channel() != "Security" {
		t.Errorf("EventID %d Channel %q", e.ID(), e.Channel())
	}
	if _, ok := e.Field("xmlns"); ok {
		t.Error("the Event element's attributes are not fields")
	}
	if v, _ := evs[1].Field("Param2"); v != "two" {
		t.Errorf("UserData nests: Param2 = %q", v)
	}
	for _, in := range []string{`[{"EventID":1,"Channel":"c"},{"EventID":2,"Channel":"c"}]`, "{\"EventID\":1}\n{\"EventID\":2}\n"} {
		evs, err := ReadJSON(strings.NewReader(in))
		if err != nil || len(evs) != 2 || evs[1].ID() != 2 {
			t.Errorf("%q: %d events, %v", in, len(evs), err)
		}
	}
	for _, bad := range []string{`{"a":`, `[1]`, `"x"`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzEventJSON: no input makes the event reader panic.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"Event":{"System":{"EventID":{"#text":1,"#attributes":{"Qualifiers":0}},"Channel":"c"},"EventData":{"Data":{"#text":["a","b"]}}}}`))
	f.Add([]byte(`[{"EventID":1},{"UserData":{"X":{"Y":[{"#attributes":{"Name":"n"},"#text":"v"}]}}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ReadJSON(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, ev := range evs {
			ev.Channel()
			ev.ID()
			ev.Values()
		}
	})
}
