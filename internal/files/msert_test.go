package files

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf16"
)

// msertLog is a Microsoft Safety Scanner log as msert.exe /Q writes it to
// %SystemRoot%\debug\msert.log: a header per scan, detections with their
// resources, a summary. Two scans, the first clean.
const msertLog = `---------------------------------------------------------------------------------------
Microsoft Safety Scanner v1.333, (build 1.333.1321.0)
Started On Wed Mar 10 09:12:01 2021

Engine: 1.1.17900.7
Signatures: 1.333.1321.0
MpGear: 1.1.16330.1
Run Mode: Scan Run in Quiet Mode

Results Summary:
----------------
No infection found.
Microsoft Safety Scanner Finished On Wed Mar 10 09:20:44 2021


Return code: 0 (0x0)

---------------------------------------------------------------------------------------
Microsoft Safety Scanner v1.333, (build 1.333.1321.0)
Started On Thu Mar 11 10:05:20 2021

Engine: 1.1.17900.7
Signatures: 1.333.1321.0
Run Mode: Scan Run in Quiet Mode

Threat Detected: Backdoor:ASP/Chopper.F!dha, not removed.
  Action: Remove, Result: 0x80508015
    file://C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\errorPage.aspx SigSeq: 0x00007E9A76ACC9D2
    file://C:\inetpub\wwwroot\aspnet_client\system_web\Ykxa4tHB.aspx SigSeq: 0x00007E9A76ACC9D3

Threat Detected: Exploit:Script/Exmann.A!dha, and successfully removed.
    containerfile://C:\ProgramData\it.zip->x.aspx

Results Summary:
----------------
Found Backdoor:ASP/Chopper.F!dha, not removed.
Found Exploit:Script/Exmann.A!dha, and removed.
Microsoft Safety Scanner Finished On Thu Mar 11 10:09:07 2021

Return code: 7 (0x7)
`

func parse(t *testing.T, data []byte) ([]MsertDetection, int64, []LineGap) {
	t.Helper()
	var ds []MsertDetection
	n, gaps, err := ParseMsert(bytes.NewReader(data), func(d MsertDetection) { ds = append(ds, d) })
	if err != nil {
		t.Fatal(err)
	}
	return ds, n, gaps
}

func TestParseMsert(t *testing.T) {
	check := func(t *testing.T, ds []MsertDetection) {
		t.Helper()
		if len(ds) != 2 {
			t.Fatalf("%d detections: %+v", len(ds), ds)
		}
		a, b := ds[0], ds[1]
		if a.Line != 26 || a.Threat != "Backdoor:ASP/Chopper.F!dha" || a.Status != "not removed." || a.Scan != "Thu Mar 11 10:05:20 2021" ||
			len(a.Files) != 2 || a.Files[1] != `C:\inetpub\wwwroot\aspnet_client\system_web\Ykxa4tHB.aspx` {
			t.Errorf("first: %+v", a)
		}
		if b.Line != 31 || b.Threat != "Exploit:Script/Exmann.A!dha" || len(b.Files) != 1 || b.Files[0] != `C:\ProgramData\it.zip->x.aspx` {
			t.Errorf("second: %+v", b)
		}
	}
	t.Run("ansi", func(t *testing.T) {
		ds, n, gaps := parse(t, []byte(msertLog))
		check(t, ds)
		if n != int64(strings.Count(msertLog, "\n")) || len(gaps) != 0 {
			t.Errorf("%d lines, gaps %v", n, gaps)
		}
	})
	t.Run("crlf", func(t *testing.T) {
		ds, _, _ := parse(t, crlf(msertLog))
		check(t, ds)
	})
	t.Run("utf16", func(t *testing.T) {
		for _, be := range []bool{false, true} {
			var b []byte
			if be {
				b = []byte{0xfe, 0xff}
			} else {
				b = []byte{0xff, 0xfe}
			}
			for _, u := range utf16.Encode([]rune(string(crlf(msertLog)))) {
				if be {
					b = append(b, byte(u>>8), byte(u))
				} else {
					b = append(b, byte(u), byte(u>>8))
				}
			}
			ds, _, _ := parse(t, b)
			check(t, ds)
		}
	})
	t.Run("clean", func(t *testing.T) {
		ds, _, _ := parse(t, []byte(msertLog[:strings.Index(msertLog, "Threat")]))
		if len(ds) != 0 {
			t.Errorf("detections in a clean log: %+v", ds)
		}
	})
	t.Run("long line", func(t *testing.T) {
		long := "Threat Detected: Trojan:Win32/X, not removed.\n    file://C:\\" + strings.Repeat("a", 100<<10) + "\nnext\n"
		ds, n, gaps := parse(t, []byte(long))
		if len(ds) != 1 || n != 3 || len(gaps) != 1 || gaps[0].Line != 2 || len(ds[0].Files[0]) > maxMsertLine {
			t.Errorf("detections %d, lines %d, gaps %v", len(ds), n, gaps)
		}
	})
	t.Run("letters whose lower case is longer", func(t *testing.T) {
		// 'İ' lowers to three bytes: offsets found in a lowered copy are
		// off by one in the original
		log := "İ Threat Detected: Backdoor:ASP/Chopper.F!dha, not removed.\n    file://C:\\İnetpub\\x.aspx SigSeq: 0x1\n"
		ds, _, _ := parse(t, []byte(log))
		if len(ds) != 1 || ds[0].Threat != "Backdoor:ASP/Chopper.F!dha" || len(ds[0].Files) != 1 || ds[0].Files[0] != `C:\İnetpub\x.aspx` {
			t.Errorf("%+v", ds)
		}
	})
	t.Run("many resources", func(t *testing.T) {
		log := "Threat Detected: Trojan:Win32/X, not removed.\n" + strings.Repeat("    file://C:\\x.exe\n", 50)
		ds, _, _ := parse(t, []byte(log))
		if len(ds) != 1 || len(ds[0].Files) != maxMsertFiles || ds[0].More != 30 {
			t.Errorf("%+v", ds)
		}
	})
}

// TestMsertFindings: each detection is a finding at its line.
func TestMsertFindings(t *testing.T) {
	r := shippedRules(t)
	found := tree(t, map[string][]byte{"C/Windows/debug/msert.log": []byte(msertLog)})
	f := found["C/Windows/debug/msert.log"]
	res, err := r.NewScanner(Options{}).Scan(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Lines != int64(strings.Count(msertLog, "\n")) || res.Bytes != int64(len(msertLog)) {
		t.Fatalf("findings %d, lines %d, bytes %d", len(res.Findings), res.Lines, res.Bytes)
	}
	fd := res.Findings[0]
	if fd.Rule != "msert-threat-detected" || fd.Source.Line != 26 || fd.Source.File != f.Rel || fd.Fields["threat"] != "Backdoor:ASP/Chopper.F!dha" ||
		!strings.Contains(fd.Fields["resources"], "errorPage.aspx") || !fd.Time.IsZero() || fd.File.Path != `C:\Windows\debug\msert.log` {
		t.Errorf("%+v", fd)
	}
}

func FuzzParseMsert(f *testing.F) {
	f.Add([]byte(msertLog))
	f.Add(crlf(msertLog))
	f.Add([]byte("\xff\xfeT\x00h\x00r\x00e\x00a\x00t\x00 \x00D\x00e\x00t\x00e\x00c\x00t\x00e\x00d\x00:\x00x\x00\n\x00 \x00f\x00i\x00l\x00e\x00:\x00/\x00/\x00y\x00"))
	f.Add([]byte("Threat Detected\n\tfile:"))
	f.Add([]byte("\xfe\xff\xd8\x00\xd8\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ds []MsertDetection
		n, gaps, err := ParseMsert(bytes.NewReader(data), func(d MsertDetection) { ds = append(ds, d) })
		if err != nil {
			t.Fatal(err)
		}
		if n > int64(len(data))+1 || len(gaps) > maxMsertGaps {
			t.Fatalf("%d lines, %d gaps from %d bytes", n, len(gaps), len(data))
		}
		last := int64(0)
		for _, d := range ds {
			if d.Line <= last || d.Line > n || len(d.Files) > maxMsertFiles {
				t.Fatalf("detection %+v after line %d of %d", d, last, n)
			}
			last = d.Line
		}
	})
}
