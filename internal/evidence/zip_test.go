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
	"strconv"
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
		// as some collectors write members: mapped to C:\inetpub\...
		zipEntry{name: `C:\inetpub\logs\LogFiles\W3SVC1\u_ex1.log`, data: []byte("drive letter"), method: zip.Deflate},
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
		"  iis W3SVC1 srv1.zip!C:/inetpub/logs/LogFiles/W3SVC1/u_ex1.log",
		"gap srv1.zip!../../SRV9/Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG: unsafe path in zip (absolute or with ..); member skipped",
		"gap srv1.zip!/Logging/Ews/Ews_1.log: unsafe path in zip (absolute or with ..); member skipped",
	})
	want := map[string]string{
		"srv1": "srv1", "srv1 ews": "srv1 ews", "srv2": "srv2",
		"ecp log\n": "", "owa log\n": "", "gunzipped iis log\n": "", "PK": "", "drive letter": "",
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
	var content bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&content, "2021-03-03T12:%02d:%02d.%03dZ,%08x,GetItem\n", i/60%60, i%60, i%1000, crc32.ChecksumIEEE([]byte{byte(i), byte(i >> 8)}))
	}
	good := zipBytes(t, zipEntry{name: "Logging/Ews/Ews_1.log", data: content.Bytes(), method: zip.Deflate})
	garbage := filepath.Join(dir, "garbage.zip")
	truncated := filepath.Join(dir, "truncated.zip")
	ok := filepath.Join(dir, "SRV3.zip")
	writeFile(t, garbage, []byte("this is not a zip file at all"))
	writeFile(t, truncated, good[:len(good)/2])
	writeFile(t, ok, good)

	s := discover(t, Options{}, garbage, truncated, ok)
	checkSet(t, s, []string{
		`server "SRV3" root="SRV3.zip"`,
		"  ews  SRV3.zip!Logging/Ews/Ews_1.log",
		`server "truncated" root="truncated.zip"`,
		"  ews  truncated.zip!Logging/Ews/Ews_1.log",
		"gap " + garbage + ": corrupt or truncated zip, not read: zip: not a valid zip file",
		"gap " + truncated + ": corrupt or truncated zip (zip: not a valid zip file): 1 members recovered from their local headers; a member cut short is read up to the cut",
	})
	// The member cut in half: what was read comes out, then an error naming
	// the member and the offset where the data ends.
	cut := s.Servers[1].Files[0]
	rc, err := cut.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), cut.Rel+" at offset "+strconv.Itoa(len(got))) {
		t.Errorf("cut member: error %v, want unexpected EOF naming %s and offset %d", err, cut.Rel, len(got))
	}
	if len(got) < 1000 || !bytes.HasPrefix(content.Bytes(), got) {
		t.Errorf("cut member: read %d bytes %q, want the start of the content", len(got), got)
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

func TestZipsInFolders(t *testing.T) {
	root := t.TempDir()
	ews := zipBytes(t, zipEntry{name: "Logging/Ews/Ews_1.log", data: []byte("ews"), method: zip.Deflate})
	// a server's zip in its folder joins the folder's server
	writeFile(t, filepath.Join(root, "SRV1", "logs.zip"), ews)
	writeFile(t, filepath.Join(root, "SRV1", "C", "inetpub", "logs", "LogFiles", "W3SVC1", "u_ex1.log"), []byte("iis"))
	// SRV2.zip beside SRV1/ is server SRV2
	writeFile(t, filepath.Join(root, "SRV2.zip"), zipBytes(t,
		zipEntry{name: "C/inetpub/logs/LogFiles/W3SVC1/u_ex2.log", data: []byte("srv2"), method: zip.Deflate}))
	// a bundle of server zips, one stored and one deflated, one holding a
	// third level; a staging zip in ProgramData stays a file to hunt
	srv4 := zipBytes(t, zipEntry{name: "V15/Logging/Ews/Ews_4.log", data: []byte("srv4"), method: zip.Deflate})
	srv3 := zipBytes(t,
		zipEntry{name: "Program Files/Microsoft/Exchange Server/V15/Logging/Ews/Ews_3.log", data: []byte("srv3"), method: zip.Deflate},
		zipEntry{name: "SRV4.zip", data: srv4, method: zip.Deflate},
		zipEntry{name: "C/ProgramData/it.zip", data: []byte("PK staging"), method: zip.Store})
	writeFile(t, filepath.Join(root, "bundle.zip"), zipBytes(t,
		zipEntry{name: "servers/SRV3.zip", data: srv3, method: zip.Store},
		zipEntry{name: "SRV5.zip", data: zipBytes(t, zipEntry{name: "Logging/Ews/Ews_5.log", data: []byte("srv5"), method: zip.Store}), method: zip.Deflate}))

	s := discover(t, Options{}, root)
	checkSet(t, s, []string{
		`server "SRV1" root="SRV1"`,
		"  ews  SRV1/logs.zip!Logging/Ews/Ews_1.log",
		"  iis W3SVC1 SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex1.log",
		`server "SRV2" root="SRV2.zip"`,
		"  iis W3SVC1 SRV2.zip!C/inetpub/logs/LogFiles/W3SVC1/u_ex2.log",
		`server "SRV3" root="bundle.zip!servers/SRV3.zip"`,
		"  ews  bundle.zip!servers/SRV3.zip!Program Files/Microsoft/Exchange Server/V15/Logging/Ews/Ews_3.log",
		"  file programdata bundle.zip!servers/SRV3.zip!C/ProgramData/it.zip",
		`server "SRV4" root="bundle.zip!servers/SRV3.zip!SRV4.zip"`,
		"  ews  bundle.zip!servers/SRV3.zip!SRV4.zip!V15/Logging/Ews/Ews_4.log",
		`server "SRV5" root="bundle.zip!SRV5.zip"`,
		"  ews  bundle.zip!SRV5.zip!Logging/Ews/Ews_5.log",
	})
	want := map[string]bool{"ews": true, "iis": true, "srv2": true, "srv3": true, "srv4": true, "srv5": true, "PK staging": true}
	for _, srv := range s.Servers {
		for _, f := range srv.Files {
			if got := readAll(t, f); !want[got] {
				t.Errorf("%s: content %q", f.Rel, got)
			}
		}
	}

	// Past the depth and the memory budget: gaps naming the zip.
	deep := ews
	for range maxZipDepth {
		deep = zipBytes(t, zipEntry{name: "inner.zip", data: deep, method: zip.Store})
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "deep.zip"), deep)
	writeFile(t, filepath.Join(dir, "big.zip"), zipBytes(t, zipEntry{name: "SRV6.zip", data: srv3, method: zip.Deflate}))
	s = discover(t, Options{MaxNestedBytes: 100}, dir)
	checkSet(t, s, []string{
		"gap big.zip!SRV6.zip: nested zip of " + strconv.Itoa(len(srv3)) + " bytes is over what is left of the budget for nested archives (100 bytes); extract it and hunt the folder",
		"gap deep.zip!inner.zip!inner.zip!inner.zip!inner.zip: zip nested deeper than 4 levels, not opened",
	})
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
