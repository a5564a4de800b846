package evtx

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleEvents are events of the shapes the lab writes: manifest and
// classic providers, named and unnamed EventData, UserData, every value
// type the writer takes. Signed values stay positive: libevtx prints
// negative ones wrongly (int32 -3 as -2147483645).
func sampleEvents(n int) []*WEvent {
	t0 := time.Date(2021, 3, 3, 7, 12, 44, 123456700, time.UTC)
	var out []*WEvent
	for i := range n {
		t := t0.Add(time.Duration(i) * 1700 * time.Millisecond)
		switch i % 5 {
		case 0:
			out = append(out, &WEvent{
				Provider: "Microsoft-Windows-Sysmon", ProviderGUID: "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
				EventID: 1, Version: 5, Level: 4, Task: 1, Keywords: 0x8000000000000000, Time: t,
				ProcessID: 2916, ThreadID: 4120, Channel: "Microsoft-Windows-Sysmon/Operational",
				Computer: "EX01.corp.example.com", UserID: "S-1-5-18",
				Data: []Data{
					{"RuleName", "-"}, {"UtcTime", t.Format("2006-01-02 15:04:05.000")},
					{"ProcessGuid", GUID("{9A1C2E07-3B6F-6040-5A01-000000000E00}")},
					{"ProcessId", uint32(7000 + i)},
					{"Image", `C:\Windows\System32\cmd.exe`},
					{"CommandLine", fmt.Sprintf(`cmd /c "cd /d "C:\inetpub\wwwroot\aspnet_client"&whoami&echo [S]&cd&echo [E]" %d`, i)},
					{"ParentImage", `C:\Windows\System32\inetsrv\w3wp.exe`},
					{"ParentCommandLine", `c:\windows\system32\inetsrv\w3wp.exe -ap "MSExchangeOWAAppPool" -v "v4.0" -c "C:\Program Files\Microsoft\Exchange Server\V15\bin\GenericAppPoolConfigWithGCServerEnabledFalse.config" -a \\.\pipe\iisipm -h "C:\inetpub\temp\apppools\MSExchangeOWAAppPool\MSExchangeOWAAppPool.config" -w "" -m 0`},
				},
			})
		case 1:
			out = append(out, &WEvent{
				Provider: "Microsoft-Windows-Security-Auditing", ProviderGUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}",
				EventID: 4688, Version: 2, Task: 13312, Keywords: 0x8020000000000000, Time: t,
				ProcessID: 4, ThreadID: 88, Channel: "Security", Computer: "EX01.corp.example.com",
				Data: []Data{
					{"SubjectUserSid", SID("S-1-5-18")}, {"SubjectUserName", "EX01$"},
					{"SubjectDomainName", "CORP"}, {"SubjectLogonId", Hex64(0x3e7)},
					{"NewProcessId", Hex64(0x1f3c)}, {"NewProcessName", `C:\Windows\System32\rundll32.exe`},
					{"TokenElevationType", "%%1936"}, {"ProcessId", Hex64(0xb64)},
					{"CommandLine", `rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 636 C:\windows\temp\lsass.dmp full`},
					{"TargetUserSid", SID("S-1-0-0")}, {"MandatoryLabel", SID("S-1-16-16384")},
					{"ParentProcessName", `C:\Windows\System32\cmd.exe`},
				},
			})
		case 2:
			out = append(out, &WEvent{
				Provider: "MSExchange CmdletLogs", EventID: 1, HasQualifiers: true, Qualifiers: 0x4000,
				Level: 4, Task: 1, Keywords: 0x80000000000000, Time: t, ProcessID: 10544,
				Channel: "MSExchange Management", Computer: "EX01.corp.example.com",
				Data: []Data{
					{"", "Set-OabVirtualDirectory"},
					{"", `-Identity:'EX01\OAB (Default Web Site)' -ExternalUrl:'http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["unsafe"],"unsafe");}</script>'`},
					{"", "corp.example.com/Users/SYSTEM"}, {"", "S-1-5-18"}, {"", "S-1-5-18"},
					{"", "ECP.MSExchangeECPAppPool"}, {"", "10544"},
				},
			})
		case 3:
			out = append(out, &WEvent{
				Provider: "Microsoft-Windows-Eventlog", ProviderGUID: "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}",
				EventID: 1102, Level: 4, Task: 104, Opcode: 0, Keywords: 0x4020000000000000, Time: t,
				ProcessID: 1260, ThreadID: 6012, Channel: "Security", Computer: "EX01.corp.example.com",
				UserData: &UserData{Name: "LogFileCleared", NS: "http://manifests.microsoft.com/win/2004/08/windows/eventlog",
					Fields: []Data{{"SubjectUserSid", SID("S-1-5-21-3623811015-3361044348-30300820-500")},
						{"SubjectUserName", "Administrator"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", Hex64(0x9a4c2)}}},
			})
		case 4:
			out = append(out, &WEvent{
				Provider: "Application Error", EventID: 1000, Level: 2, Task: 100, Keywords: 0x80000000000000, Time: t,
				Channel: "Application", Computer: "EX01.corp.example.com",
				Data: []Data{{"", "UMWorkerProcess.exe"}, {"", "15.1.2176.2"}, {"", "6024a0e7"},
					{"", "KERNELBASE.dll"}, {"", "10.0.14393.4169"}, {"", "5ff3d1ae"}, {"", "e0434352"},
					{"", "0000000000034c48"}, {"", "0x1a0c"}, {"", "0x01d7100c7a1d5b6e"},
					{"", `C:\Program Files\Microsoft\Exchange Server\V15\Bin\UMWorkerProcess.exe`},
					{"", `C:\Windows\System32\KERNELBASE.dll`}, {"", "f6a1a5c0-7c3c-4a4b-9d66-0d3f6fd9a3f2"},
					{"", ""}, {"", ""}, {"", true}, {"", uint8(7)}, {"", int64(1 << 40)}, {"", int32(3)}, {"", []byte{1, 2, 3}}},
			})
		}
	}
	return out
}

func writeEvents(t testing.TB, path string, evs []*WEvent) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWriterRoundTrip writes events over several chunks and reads them
// back: every record, in order, with its values, and no problem reported.
func TestWriterRoundTrip(t *testing.T) {
	evs := sampleEvents(1500)
	path := filepath.Join(t.TempDir(), "w.evtx")
	writeEvents(t, path, evs)
	got, st := readFile(t, path)
	if len(st.Corrupt) > 0 || st.Dirty {
		t.Fatalf("problems %v, dirty %v", st.Corrupt, st.Dirty)
	}
	if st.Chunks < 3 || st.HeaderChunks != st.Chunks {
		t.Errorf("chunks %d, header says %d: want several, equal", st.Chunks, st.HeaderChunks)
	}
	if len(got) != len(evs) {
		t.Fatalf("read %d events, wrote %d", len(got), len(evs))
	}
	for i, g := range got {
		w := evs[i]
		where := fmt.Sprintf("record %d", i+1)
		if g.RecordID != uint64(i+1) || !g.Time.Equal(w.Time.Truncate(100*time.Nanosecond)) {
			t.Fatalf("%s: id %d time %v", where, g.RecordID, g.Time)
		}
		want := map[string]string{
			"Channel": w.Channel, "Computer": w.Computer, "Provider_Name": w.Provider,
			"EventID": fmt.Sprint(w.EventID), "EventRecordID": fmt.Sprint(i + 1),
		}
		if w.UserID != "" {
			want["Security_UserID"] = string(w.UserID)
		}
		switch w.EventID {
		case 1:
			if w.Channel == "MSExchange Management" {
				want["Data"] = "Set-OabVirtualDirectory"
				want["Data_7"] = "10544"
				want["EventID_Qualifiers"] = "16384"
			} else {
				want["Image"] = `C:\Windows\System32\cmd.exe`
				want["ProcessId"] = fmt.Sprint(7000 + i)
				want["ProcessGuid"] = "9A1C2E07-3B6F-6040-5A01-000000000E00"
			}
		case 4688:
			want["SubjectUserSid"] = "S-1-5-18"
			want["NewProcessId"] = "0x1f3c"
		case 1102:
			want["SubjectUserName"] = "Administrator"
			want["SubjectLogonId"] = "0x9a4c2"
		case 1000:
			want["Data"] = "UMWorkerProcess.exe"
			want["Data_16"] = "true"
		}
		for k, v := range want {
			if h, ok := g.Field(k); !ok || h != v {
				t.Errorf("%s: %s = %q (present %v), want %q", where, k, h, ok, v)
			}
		}
		if t.Failed() {
			t.Logf("fields: %v", g.Fields)
			return
		}
	}
}

// TestWriterAgreesWithEvtxexport: libevtx reads what the writer writes
// the same way the reader does.
func TestWriterAgreesWithEvtxexport(t *testing.T) {
	bin := evtxexport(t)
	path := filepath.Join(t.TempDir(), "w.evtx")
	writeEvents(t, path, sampleEvents(700))
	recs, vals := agreeWithOracle(t, bin, path, "w.evtx")
	if recs != 700 || vals < 700*10 {
		t.Errorf("compared %d records, %d values", recs, vals)
	}
}

func TestWriterRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.evtx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	huge := &WEvent{Provider: "p", Channel: "Application", Data: []Data{{"x", strings.Repeat("A", chunkSize)}}}
	if err := w.Write(huge); err != ErrEventTooLarge {
		t.Errorf("huge event: %v", err)
	}
	for _, bad := range []any{GUID("nope"), SID("S-x"), 3.5} {
		if err := w.Write(&WEvent{Provider: "p", Channel: "Application", Data: []Data{{"x", bad}}}); err == nil {
			t.Errorf("%T %v: written", bad, bad)
		}
	}
	// a rejected event leaves the file consistent
	if err := w.Write(sampleEvents(1)[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, st := readFile(t, path)
	if len(got) != 1 || len(st.Corrupt) > 0 {
		t.Errorf("%d events, problems %v", len(got), st.Corrupt)
	}
}
