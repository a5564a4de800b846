package hunt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
)

// proc4688 is a Security 4688 event as Windows audits a process start with
// its command line.
func proc4688(t time.Time, pid uint64, image, cmdline, parent string) *evtx.WEvent {
	return &evtx.WEvent{
		Provider: "Microsoft-Windows-Security-Auditing", ProviderGUID: "{54849625-5478-4994-A5BA-3E3B0328C30D}",
		EventID: 4688, Version: 2, Task: 13312, Keywords: 0x8020000000000000, ProcessID: 4, ThreadID: 88,
		Time: t, Channel: "Security", Computer: "EXCH01.contoso.local",
		Data: []evtx.Data{
			{Name: "SubjectUserSid", Value: evtx.SID("S-1-5-18")},
			{Name: "SubjectUserName", Value: "EXCH01$"},
			{Name: "SubjectDomainName", Value: "CONTOSO"},
			{Name: "SubjectLogonId", Value: evtx.Hex64(0x3e7)},
			{Name: "NewProcessId", Value: evtx.Hex64(pid)},
			{Name: "NewProcessName", Value: image},
			{Name: "TokenElevationType", Value: "%%1936"},
			{Name: "ProcessId", Value: evtx.Hex64(0x1f4)},
			{Name: "CommandLine", Value: cmdline},
			{Name: "TargetUserSid", Value: evtx.SID("S-1-0-0")},
			{Name: "TargetUserName", Value: "-"},
			{Name: "TargetDomainName", Value: "-"},
			{Name: "TargetLogonId", Value: evtx.Hex64(0)},
			{Name: "ParentProcessName", Value: parent},
			{Name: "MandatoryLabel", Value: evtx.SID("S-1-16-16384")},
		},
	}
}

// TestDumpTargetFromProcessCreation: a comsvcs.dll MiniDump gives a PID;
// the title says LSASS only when lsass's own process-creation event gave
// it that PID, and otherwise names the process the PID belonged to.
func TestDumpTargetFromProcessCreation(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "EXCH01", "C", "Windows", "System32", "winevt", "Logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(logs, "Security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := evtx.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	boot := time.Date(2021, 3, 1, 4, 10, 0, 0, time.UTC)
	rundll := `C:\Windows\System32\rundll32.exe`
	cmd := `C:\Windows\System32\cmd.exe`
	for _, ev := range []*evtx.WEvent{
		proc4688(boot, 0x27c, `C:\Windows\System32\lsass.exe`, "", `C:\Windows\System32\wininit.exe`),
		proc4688(boot.Add(20*time.Hour), 0x10d8, `C:\Windows\System32\notepad.exe`, `"C:\Windows\system32\notepad.exe"`, `C:\Windows\explorer.exe`),
		// PID 636 (0x27c) is lsass's; the dump file's name says nothing
		proc4688(boot.Add(48*time.Hour), 0x1a12, rundll, `rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 636 C:\windows\temp\out.bin full`, cmd),
		// PID 4312 (0x10d8) is notepad's, whatever the file is called
		proc4688(boot.Add(49*time.Hour), 0x1a40, rundll, `rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump 4312 C:\windows\temp\lsass.dmp full`, cmd),
		// no event gives PID 9120 out
		proc4688(boot.Add(50*time.Hour), 0x1a58, rundll, `rundll32.exe comsvcs.dll #24 9120 C:\ProgramData\d.bin full`, cmd),
	} {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	res := huntDir(t, dir)
	if len(res.Servers) != 1 {
		t.Fatalf("%d servers", len(res.Servers))
	}
	byPID := map[string]finding.Finding{}
	for _, fd := range res.Servers[0].Findings {
		if fd.Rule != "lsass-memory-dump" && fd.Rule != "process-memory-dump-comsvcs" {
			continue
		}
		for _, pid := range []string{"636", "4312", "9120"} {
			if strings.Contains(fd.Fields["CommandLine"], " "+pid+" ") {
				byPID[pid] = fd
			}
		}
	}
	for pid, want := range map[string]struct{ rule, title, outcome string }{
		"636":  {"lsass-memory-dump", "LSASS memory dumped", "lsass.exe (process creation at EXCH01/C/Windows/System32/winevt/Logs/Security.evtx:1)"},
		"4312": {"process-memory-dump-comsvcs", "Process memory dumped via comsvcs.dll", "PID 4312, notepad.exe (process creation at"},
		"9120": {"process-memory-dump-comsvcs", "Process memory dumped via comsvcs.dll", "no event in the evidence names that process"},
	} {
		fd, ok := byPID[pid]
		if !ok {
			t.Errorf("PID %s: no dump finding", pid)
			continue
		}
		if fd.Rule != want.rule || !strings.HasPrefix(fd.Title, want.title) || !strings.Contains(fd.Outcome, want.outcome) {
			t.Errorf("PID %s: %s %q %q, want %s %q %q", pid, fd.Rule, fd.Title, fd.Outcome, want.rule, want.title, want.outcome)
		}
		if fd.Stage != finding.StageExecution {
			t.Errorf("PID %s: stage %s, want execution", pid, fd.Stage)
		}
		if pid != "636" && strings.Contains(strings.ToLower(fd.Title), "lsass") {
			t.Errorf("PID %s: title %q names LSASS without evidence", pid, fd.Title)
		}
	}
}

// TestUnusableClientAddresses: a client-address field that is no address
// makes no attacker entry; the server result counts it.
func TestUnusableClientAddresses(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "EXCH01", "C", "inetpub", "logs", "LogFiles", "W3SVC1")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n" +
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"
	for i, ip := range []string{"-", "[REDACTED]", "203.0.113.9", "not\x1b[31m-an-ip", "198.51.100.7:51234", "::ffff:192.0.2.44", "10.0.0.11"} {
		log += "2021-03-03 04:1" + string(rune('0'+i)) + ":00 10.0.0.11 GET /aspnet_client/shell.aspx - 443 - " + ip + " Mozilla/5.0+zgrab/0.x - 404 0 2 15\r\n"
	}
	if err := os.WriteFile(filepath.Join(logDir, "u_ex210303.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	res := huntDir(t, dir)
	if len(res.Servers) != 1 {
		t.Fatalf("%d servers", len(res.Servers))
	}
	s := res.Servers[0]
	var ips []string
	for _, a := range s.Attackers {
		ips = append(ips, a.IP)
	}
	// the server's own address is no attacker; a port or a mapped IPv4
	// address is still the address
	if want := []string{"192.0.2.44", "198.51.100.7", "203.0.113.9"}; strings.Join(ips, " ") != strings.Join(want, " ") {
		t.Errorf("attackers %q, want %q", ips, want)
	}
	if s.UnusableClientAddresses != 3 {
		t.Errorf("unusable client addresses %d, want 3", s.UnusableClientAddresses)
	}
}
