package evidence

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClassifyHostFiles(t *testing.T) {
	const fe = install + "/FrontEnd/HttpProxy"
	tests := []struct {
		anc, rel string // '/'-separated; anc is the hunted root
		kind     Kind   // "" = not recognised
		sub      string
		root     string
		name     string
		path     string
	}{
		{"/case", "SRV1/C/" + fe + "/owa/auth/x.aspx", HostFile, LocFrontEnd, "SRV1", "SRV1",
			`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx`},
		{"/case", "SRV1/C/" + fe + "/owa/auth/Current/themes/resources/google.log", HostFile, LocFrontEnd, "SRV1", "SRV1",
			`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\Current\themes\resources\google.log`},
		{"/case", "SRV1/C/" + install + "/ClientAccess/ecp/auth/TimeoutLogoff.aspx", HostFile, LocClientAccess, "SRV1", "SRV1",
			`C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\ecp\auth\TimeoutLogoff.aspx`},
		{"/case", "SRV1/D/Exchange/FrontEnd/HttpProxy/oab/log.aspx", HostFile, LocFrontEnd, "SRV1", "SRV1",
			`D:\Exchange\FrontEnd\HttpProxy\oab\log.aspx`},
		{"/case", "EXCH02/uploads/auto/C%3A/inetpub/wwwroot/aspnet_client/system_web/a.aspx", HostFile, LocWWWRoot, "EXCH02", "EXCH02",
			`C:\inetpub\wwwroot\aspnet_client\system_web\a.aspx`},
		{"/case", "EXCH02/c_drive/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1/App_Web_x.dll", HostFile, LocASPNetTemp, "EXCH02", "EXCH02",
			`C:\Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files\owa\1\App_Web_x.dll`},
		{"/case", "EXCH02/C/Windows/System32/inetsrv/config/applicationHost.config", HostFile, LocIISConfig, "EXCH02", "EXCH02",
			`C:\Windows\System32\inetsrv\config\applicationHost.config`},
		{"/case", "EXCH02/C$/ProgramData/it.zip", HostFile, LocProgramData, "EXCH02", "EXCH02", `C:\ProgramData\it.zip`},
		{"/case", "EXCH02/C/ProgramData/pst/a.7z", HostFile, LocProgramData, "EXCH02", "EXCH02", `C:\ProgramData\pst\a.7z`},
		{"/case", "EXCH02/C/Windows/Temp/lsass.dmp", HostFile, LocWindowsTemp, "EXCH02", "EXCH02", `C:\Windows\Temp\lsass.dmp`},
		{"/case", "EXCH02/C/root/lsass.dmp", HostFile, LocRoot, "EXCH02", "EXCH02", `C:\root\lsass.dmp`},
		{"/case", "EXCH02/C/Users/Public/opera/opera_browser.exe", HostFile, LocUsersPublic, "EXCH02", "EXCH02",
			`C:\Users\Public\opera\opera_browser.exe`},
		{"/case", "EXCH02/C/Windows/debug/msert.log", Msert, "", "EXCH02", "EXCH02", `C:\Windows\debug\msert.log`},
		{"/case", "EXCH02/C/Windows/debug/MSERT.old.log", Msert, "", "EXCH02", "EXCH02", `C:\Windows\debug\MSERT.old.log`},
		// No drive folder: C: for drive-level folders, "…" otherwise.
		{"/case", "EX3/inetpub/wwwroot/aspnet_client/s.aspx", HostFile, LocWWWRoot, "EX3", "EX3", `C:\inetpub\wwwroot\aspnet_client\s.aspx`},
		{"/mnt/V15", "FrontEnd/HttpProxy/owa/auth/a.aspx", HostFile, LocFrontEnd, "", "", `…\V15\FrontEnd\HttpProxy\owa\auth\a.aspx`},
		// A root inside a location; a zip's name as the only ancestor.
		{"/case/EXCH04/C/inetpub/wwwroot", "aspnet_client/x.aspx", HostFile, LocWWWRoot, "", "", `C:\inetpub\wwwroot\aspnet_client\x.aspx`},
		{"/case/EXCH04/C/ProgramData", "x.rar", HostFile, LocProgramData, "", "", `C:\ProgramData\x.rar`},
		{"srv1", "C/Windows/Temp/1.dmp", HostFile, LocWindowsTemp, "", "srv1", `C:\Windows\Temp\1.dmp`},
		// The same server root as its logs.
		{"/case", "a/b/EX1/C/inetpub/wwwroot/iisstart.htm", HostFile, LocWWWRoot, "a/b/EX1", "EX1", `C:\inetpub\wwwroot\iisstart.htm`},
		// Not recognised: other folders, the analyst's own ProgramData
		// above the root, "root" without a drive, msert logs elsewhere.
		{"/case", "SRV1/C/Windows/notes.txt", "", "", "", "", ""},
		{"/case", "SRV1/C/Program Files/Other/x.aspx", "", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Bin/Microsoft.Exchange.dll", "", "", "", "", ""},
		{"/case", "SRV1/C/inetpub/logs/FailedReqLogFiles/x.xml", "", "", "", "", ""},
		{"/home/ProgramData/cases", "SRV1/notes.txt", "", "", "", "", ""},
		{"/case", "SRV1/root/lsass.dmp", "", "", "", "", ""},
		{"/case", "SRV1/C/Windows/debug/old/msert.log", "", "", "", "", ""},
		{"/case", "SRV1/C/Windows/debug/netlogon.log", "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			anc, rel := splitSlash(tt.anc), splitSlash(tt.rel)
			c, ok := classify(anc, rel)
			if ok != (tt.kind != "") {
				t.Fatalf("classify ok = %v, want %v (class %+v)", ok, tt.kind != "", c)
			}
			if !ok {
				return
			}
			root := strings.Join(rel[:c.prefix], "/")
			name := serverName(c, rel[:c.prefix], anc)
			if c.kind != tt.kind || c.sub != tt.sub || root != tt.root || name != tt.name || c.path != tt.path {
				t.Errorf("got kind %q sub %q root %q name %q path %q;\nwant %q %q %q %q %q",
					c.kind, c.sub, root, name, c.path, tt.kind, tt.sub, tt.root, tt.name, tt.path)
			}
		})
	}
}

// TestDiscoverHostFiles: a server's web shells, dumps and archives join its
// logs in one server; zipped .gz files in web folders are not gunzipped.
func TestDiscoverHostFiles(t *testing.T) {
	const inst = "Program Files/Microsoft/Exchange Server/V15/"
	root := filepath.Join(t.TempDir(), "case")
	writeFiles(t, root,
		"EXCH01/C/"+inst+hpOwa,
		"EXCH01/C/"+inst+"FrontEnd/HttpProxy/owa/auth/errorPage.aspx",
		"EXCH01/C/inetpub/wwwroot/aspnet_client/system_web/x.aspx.gz",
		"EXCH01/C/ProgramData/it.zip",
		"EXCH01/C/Windows/Temp/lsass.dmp",
		"EXCH01/C/Windows/debug/msert.log",
		"EXCH01/C/Windows/System32/drivers/etc/hosts",
	)
	s := discover(t, Options{}, root)
	checkSet(t, s, []string{
		`server "EXCH01" root="EXCH01"`,
		"  file exchange-frontend EXCH01/C/" + inst + "FrontEnd/HttpProxy/owa/auth/errorPage.aspx",
		"  file inetpub-wwwroot EXCH01/C/inetpub/wwwroot/aspnet_client/system_web/x.aspx.gz",
		"  file programdata EXCH01/C/ProgramData/it.zip",
		"  file windows-temp EXCH01/C/Windows/Temp/lsass.dmp",
		"  httpproxy Owa EXCH01/C/" + inst + hpOwa,
		"  msert  EXCH01/C/Windows/debug/msert.log",
	})
	paths := map[string]string{}
	for _, f := range s.Servers[0].Files {
		paths[f.Rel] = f.Path
		if f.Kind != HostFile && f.Kind != Msert {
			continue
		}
		// read as stored: the .gz is not gunzipped
		if got, want := readAll(t, f), "#content of "+f.Rel+"\n"; got != want {
			t.Errorf("content of %s = %q, want %q", f.Rel, got, want)
		}
	}
	if p := paths["EXCH01/C/Windows/Temp/lsass.dmp"]; p != `C:\Windows\Temp\lsass.dmp` {
		t.Errorf("path %q", p)
	}
	if p := paths["EXCH01/C/"+inst+hpOwa]; p != "" {
		t.Errorf("log has a path: %q", p)
	}
}

// ntfsExtra builds a zip NTFS extra field with the given times.
func ntfsExtra(mtime, atime, ctime time.Time) []byte {
	ft := func(t time.Time) uint64 { return uint64(t.UnixNano()/100) + 116444736000000000 }
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint16(0x000a))
	binary.Write(&b, binary.LittleEndian, uint16(32))
	b.Write(make([]byte, 4))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint16(24))
	for _, t := range []time.Time{mtime, atime, ctime} {
		binary.Write(&b, binary.LittleEndian, ft(t))
	}
	return b.Bytes()
}

func TestZipCreationTime(t *testing.T) {
	created := time.Date(2021, 3, 3, 4, 5, 6, 0, time.UTC)
	mod := created.Add(time.Hour)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "EXCH01/C/inetpub/wwwroot/aspnet_client/s.aspx", Method: zip.Store, Modified: mod}
	fh.Extra = ntfsExtra(mod, mod, created)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("<%@ Page %>"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "case.zip")
	writeFile(t, p, buf.Bytes())
	s := discover(t, Options{}, p)
	if len(s.Servers) != 1 || len(s.Servers[0].Files) != 1 {
		t.Fatalf("set: %q", describe(s))
	}
	f := s.Servers[0].Files[0]
	if !f.Created.Equal(created) || !f.ModTime.Equal(mod) || f.Path != `C:\inetpub\wwwroot\aspnet_client\s.aspx` {
		t.Errorf("created %v modified %v path %q", f.Created, f.ModTime, f.Path)
	}
}

func TestNTFSCreatedMalformed(t *testing.T) {
	good := ntfsExtra(time.Unix(1e9, 0), time.Unix(1e9, 0), time.Unix(1e9, 0))
	for i := range good {
		ntfsCreated(good[:i]) // must not panic on any truncation
	}
	if got := ntfsCreated(good); !got.Equal(time.Unix(1e9, 0)) {
		t.Errorf("created %v", got)
	}
	if got := ntfsCreated([]byte{0x0a, 0, 0xff, 0xff, 1, 2}); !got.IsZero() {
		t.Errorf("oversized field gave %v", got)
	}
	if got := fileTime(0); !got.IsZero() {
		t.Errorf("FILETIME 0 gave %v", got)
	}
}

// TestLiveHostFiles: the live walk recognises host files from the absolute
// folder it is given, and optional folders that are missing are no gap.
func TestLiveHostFiles(t *testing.T) {
	dir := t.TempDir()
	fe := filepath.Join(dir, "C", "Program Files", "Microsoft", "Exchange Server", "V15", "FrontEnd", "HttpProxy")
	pd := filepath.Join(dir, "C", "ProgramData")
	writeFiles(t, fe, "owa/auth/x.aspx")
	writeFiles(t, pd, "it.zip", "Microsoft/Windows Defender/Support/MPLog-1.log")
	dirs := []liveDir{{path: fe, what: "web root"}, {path: pd, what: "folder"},
		{path: filepath.Join(dir, "C", "root"), what: "folder", optional: true}}
	s, err := liveSet(t.Context(), "EXCH01", dirs, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	slash := filepath.ToSlash
	checkSet(t, s, []string{
		`server "EXCH01" root="."`,
		"  file exchange-frontend " + slash(fe) + "/owa/auth/x.aspx",
		"  file programdata " + slash(pd) + "/Microsoft/Windows Defender/Support/MPLog-1.log",
		"  file programdata " + slash(pd) + "/it.zip",
	})
	want := []string{
		`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\x.aspx`,
		`C:\ProgramData\Microsoft\Windows Defender\Support\MPLog-1.log`,
		`C:\ProgramData\it.zip`,
	}
	for i, f := range s.Servers[0].Files {
		if f.Path != want[i] {
			t.Errorf("path %q, want %q", f.Path, want[i])
		}
	}
}

// FuzzNTFSCreated: the NTFS extra field of a zip member is attacker data.
func FuzzNTFSCreated(f *testing.F) {
	f.Add(ntfsExtra(time.Unix(1e9, 0), time.Unix(1e9, 0), time.Unix(1e9, 0)))
	f.Add([]byte{0x0a, 0x00, 0x04, 0x00, 0, 0, 0, 0})
	f.Add([]byte{0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x20, 0x00})
	f.Fuzz(func(t *testing.T, extra []byte) {
		c := ntfsCreated(extra)
		if !c.IsZero() && (c.Year() < 1970 || c.Year() > 9999) {
			t.Fatalf("created %v", c)
		}
		if _, err := c.MarshalJSON(); err != nil {
			t.Fatalf("created %v cannot be written: %v", c, err)
		}
	})
}
