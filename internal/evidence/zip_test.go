package evidence

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type zipEntry struct {
	name   string
	data   []byte
	method uint16
}

// zipBytes builds a zip; entries with a nil data and a name ending in '/'
// are folders.
func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// BestSpeed keeps the 50 MB bomb quick to build under -race.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method, Modified: time.Date(2021, 3, 3, 12, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestZipRoot(t *testing.T) {
	const inst = `C\Program Files\Microsoft\Exchange Server\V15\`
	gz := gzipBytes(t, []byte("gunzipped iis log\n"))
	data := zipBytes(t,
		zipEntry{name: `C/`},
		zipEntry{name: inst + `Logging\HttpProxy\Owa\HttpProxy_2021030312-1.LOG`, data: []byte("owa log\n"), method: zip.Deflate},
		zipEntry{name: `c/program files/microsoft/exchange server/v15/logging/ecp/server/ECPServer20210303-1.LOG`, data: []byte("ecp log\n"), method: zip.Store},
		zipEntry{name: `C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log.gz`, data: gz, method: zip.Store},
		zipEntry{name: `C/ProgramData/stage/HttpProxy_2021030312-1.zip`, data: []byte("PK"), method: zip.Store},
		zipEntry{name: `C/Windows/notes.txt`, data: []byte("x"), method: zip.Deflate},
		zipEntry{name: `..\..\SRV9\Logging\HttpProxy\Owa\HttpProxy_2021030312-1.LOG`, data: []byte("evil"), method: zip.Deflate},
		zipEntry{name: `/Logging/Ews/Ews_1.log`, data: []byte("evil"), method: zip.Deflate},
		zipEntry{name: `C:\inetpub\logs\LogFiles\W3SVC1\u_ex1.log`, data: []byte("evil"), method: zip.Deflate},
	)
	multi := zipBytes(t,
		zipEntry{name: `SRV1\C\inetpub\logs\LogFiles\W3SVC1\u_ex210303.log`, data: []byte("srv1"), method: zip.Deflate},
		zipEntry{name: `SRV2/uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC2/u_ex210303.log`, data: []byte("srv2"), method: zip.Deflate},
		zipEntry{name: `srv1/d/Exchange Server/V15/Logging/Ews/Ews_2021030312-1.log`, data: []byte("srv1 ews"), method: zip.Deflate},
	)
	dir := t.TempDir()
	srv1, mz := filepath.Join(dir, "srv1.zip"), filepath.Join(dir, "Multi.ZIP")
	writeFile(t, srv1, data)
	writeFile(t, mz, multi)

	s := discover(t, Options{}, srv1, mz)
	const rel = "srv1.zip!C/Program Files/Microsoft/Exchange Server/V15/"
	checkSet(t, s, []string{
		`server "SRV1" root="Multi.ZIP!SRV1"`,
		"  ews  Multi.ZIP!srv1/d/Exchange Server/V15/Logging/Ews/Ews_2021030312-1.log",
		"  iis W3SVC1 Multi.ZIP!SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log",
		`server "SRV2" root="Multi.ZIP!SRV2"`,
		"  iis W3SVC2 Multi.ZIP!SRV2/uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC2/u_ex210303.log",
		`server "srv1" root="srv1.zip"`,
		"  ecp-server  srv1.zip!c/program files/microsoft/exchange server/v15/logging/ecp/server/ECPServer20210303-1.LOG",
		// A zip in a zip is a staging archive to read as bytes, not opened.
		"  file programdata srv1.zip!C/ProgramData/stage/HttpProxy_2021030312-1.zip",
		"  httpproxy Owa " + rel + "Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG",
		"  iis W3SVC1 srv1.zip!C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log.gz",
		"gap srv1.zip!../../SRV9/Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG: unsafe path in zip (absolute or with ..); member skipped",
		"gap srv1.zip!/Logging/Ews/Ews_1.log: unsafe path in zip (absolute or with ..); member skipped",
		"gap srv1.zip!C:/inetpub/logs/LogFiles/W3SVC1/u_ex1.log: unsafe path in zip (absolute or with ..); member skipped",
	})
	want := map[string]string{
		"srv1": "srv1", "srv1 ews": "srv1 ews", "srv2": "srv2",
		"ecp log\n": "", "owa log\n": "", "gunzipped iis log\n": "", "PK": "",
	}
	for _, srv := range s.Servers {
		for _, f := range srv.Files {
			got := readAll(t, f)
			if _, ok := want[got]; !ok {
				t.Errorf("%s: unexpected content %q", f.Rel, got)
			}
			delete(want, got)
			if f.ModTime.IsZero() || f.Size <= 0 {
				t.Errorf("%s: size %d mtime %v", f.Rel, f.Size, f.ModTime)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("contents not read: %q", want)
	}
}

func TestZipCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := zipBytes(t, zipEntry{name: "Logging/Ews/Ews_1.log", data: bytes.Repeat([]byte("ews line\n"), 100), method: zip.Deflate})
	garbage := filepath.Join(dir, "garbage.zip")
	truncated := filepath.Join(dir, "truncated.zip")
	ok := filepath.Join(dir, "SRV3.zip")
	writeFile(t, garbage, []byte("this is not a zip file at all"))
	writeFile(t, truncated, good[:len(good)/2])
	writeFile(t, ok, good)

	s := discover(t, Options{}, garbage, truncated, ok)
	if len(s.Servers) != 1 || s.Servers[0].Name != "SRV3" || len(s.Gaps) != 2 {
		t.Fatalf("got %q", describe(s))
	}
	for i, root := range []string{garbage, truncated} {
		if g := s.Gaps[i]; g.File != root || !strings.Contains(g.Reason, "corrupt or truncated zip") {
			t.Errorf("gap %d = %v, want one naming %s", i, g, root)
		}
	}

	// A member whose compressed data is damaged after discovery: the read
	// fails with an error naming it.
	f := s.Servers[0].Files[0]
	bad := bytes.Clone(good)
	off := bytes.Index(bad, []byte("Ews_1.log")) + len("Ews_1.log")
	for i := off; i < off+20; i++ {
		bad[i] ^= 0xff
	}
	writeFile(t, ok, bad)
	if err := readErr(f); err == nil || !strings.Contains(err.Error(), f.Rel) {
		t.Errorf("damaged member: error %v, want one naming %s", err, f.Rel)
	}
}

func TestZipBomb(t *testing.T) {
	var text bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&text, "2021-03-03T12:%02d:%02d.%03dZ,%08x,GetItem,user%d@example.com\n", i/60%60, i%60, i%1000, crc32.ChecksumIEEE([]byte{byte(i), byte(i >> 8)}), i)
	}
	bomb := filepath.Join(t.TempDir(), "bomb.zip")
	writeFile(t, bomb, zipBytes(t,
		zipEntry{name: "Logging/Ews/Ews_1.log", data: make([]byte, 50<<20), method: zip.Deflate},
		zipEntry{name: "Logging/Ews/Ews_2.log", data: text.Bytes(), method: zip.Deflate},
		zipEntry{name: "Logging/Ews/Ews_3.log", data: make([]byte, 10000), method: zip.Store},
	))

	s := discover(t, Options{MaxZipRatio: 100}, bomb)
	files := s.Servers[0].Files
	if err := readErr(files[0]); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), files[0].Rel) {
		t.Errorf("50 MB of zeros: %v, want ErrTooLarge naming the file", err)
	}
	if err := readErr(files[1]); err != nil {
		t.Errorf("ordinary member: %v", err)
	}
	if err := readErr(files[2]); err != nil {
		t.Errorf("stored member: %v", err)
	}

	s = discover(t, Options{MaxFileBytes: 5000}, bomb)
	if err := readErr(s.Servers[0].Files[2]); !errors.Is(err, ErrTooLarge) {
		t.Errorf("stored member over MaxFileBytes: %v, want ErrTooLarge", err)
	}
}

// rawZip builds a one-member zip whose central directory declares sizes
// other than the data's, as a hostile archive would.
func rawZip(t *testing.T, name string, content []byte, declared uint64) []byte {
	t.Helper()
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(content)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(content),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func TestZipDeclaredSize(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("line\n"), 1000)
	for _, tt := range []struct {
		name     string
		declared uint64
		want     error
	}{
		{"huge", 1 << 40, ErrTooLarge},       // refused before inflating
		{"lie", 100, zip.ErrFormat},          // more data than declared
		{"short", 6000, io.ErrUnexpectedEOF}, // less data than declared
		{"exact", 5000, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".zip")
			writeFile(t, p, rawZip(t, "Logging/Ews/Ews_1.log", content, tt.declared))
			s := discover(t, Options{}, p)
			err := readErr(s.Servers[0].Files[0])
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("read: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestZipGapCap(t *testing.T) {
	var entries []zipEntry
	for range maxZipGaps + 5 {
		entries = append(entries, zipEntry{name: "../x.log", method: zip.Store})
	}
	p := filepath.Join(t.TempDir(), "many.zip")
	writeFile(t, p, zipBytes(t, entries...))
	s := discover(t, Options{}, p)
	if len(s.Gaps) != maxZipGaps+1 || !strings.HasPrefix(s.Gaps[maxZipGaps].Reason, "5 more") {
		t.Errorf("%d gaps, last %v", len(s.Gaps), s.Gaps[len(s.Gaps)-1])
	}
}

func TestZipNotFollowedInFolders(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "SRV1", "logs.zip"), zipBytes(t,
		zipEntry{name: "Logging/Ews/Ews_1.log", data: []byte("x"), method: zip.Store}))
	if s := discover(t, Options{}, root); len(s.Servers) != 0 || len(s.Gaps) != 0 {
		t.Errorf("zip inside a folder root was opened: %q", describe(s))
	}
}

func TestZipMemberChangedOnDisk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.zip")
	writeFile(t, p, zipBytes(t, zipEntry{name: "Logging/Ews/Ews_1.log", data: []byte("x"), method: zip.Store}))
	s := discover(t, Options{}, p)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	f := s.Servers[0].Files[0]
	if _, err := f.Open(); err == nil || !strings.Contains(err.Error(), f.Rel) {
		t.Errorf("open after removal: %v", err)
	}
}
