package evidence

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzGzip: a .gz log is read to its end or to an error; a stream that
// stops early is never a clean end, and nothing comes out past the cap.
func FuzzGzip(f *testing.F) {
	log := []byte("#Fields: date time\n2021-03-03 00:00:00\n")
	whole := gzipBytes(f, bytes.Repeat(log, 50))
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add(whole[:10])
	f.Add(append(bytes.Clone(whole), whole...)) // concatenated members
	f.Add([]byte{})
	dir := f.TempDir()
	var seq atomic.Int64
	const max = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, strconv.FormatInt(seq.Add(1), 10), "Logging", "Ews", "Ews_1.log.gz")
		writeFile(t, p, data)
		defer os.RemoveAll(filepath.Dir(filepath.Dir(filepath.Dir(p))))
		s, err := Discover(t.Context(), []string{p}, Options{MaxFileBytes: max})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Servers) != 1 {
			t.Fatalf("%q", describe(s))
		}
		file := s.Servers[0].Files[0]
		rc, err := file.Open()
		if err != nil {
			if !strings.Contains(err.Error(), file.Rel) {
				t.Fatalf("open error without the file: %v", err)
			}
			return
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if n > max {
			t.Fatalf("read %d bytes, cap %d", n, max)
		}
		if err != nil && (!strings.Contains(err.Error(), file.Rel) || !strings.Contains(err.Error(), "offset")) {
			t.Fatalf("read error without file and offset: %v", err)
		}
		// a prefix of a valid stream cut anywhere inside is an error
		if len(data) < len(whole) && len(data) > 18 && bytes.HasPrefix(whole, data) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut stream (%d of %d bytes) read as complete: %v", len(data), len(whole), err)
		}
	})
}

// FuzzWalk: a folder tree built from the input (names, nesting, zips and
// logs mixed) is discovered without panic or escape: every file found is
// under the root, and every zip member's name is safe.
func FuzzWalk(f *testing.F) {
	f.Add("SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex1.log\nSRV2.zip\nSRV1/logs.zip\nx/../y.log", []byte("#Fields: date\n"))
	f.Add("a/b/c/d/e/f/g/Logging/Ews/Ews_1.log.gz\nV15/Logging/HttpProxy/Owa/HttpProxy_1.LOG", []byte{0x1f, 0x8b, 8})
	f.Add("C:/ProgramData/it.zip\nbundle.zip", []byte("PK\x03\x04"))
	inner := zipBytes(f, zipEntry{name: "Logging/Ews/Ews_1.log", data: []byte("ews"), method: zip.Store})
	f.Add("SRV3.zip", zipBytes(f, zipEntry{name: "SRV4.zip", data: inner, method: zip.Deflate}))
	dir := f.TempDir()
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, names string, content []byte) {
		root := filepath.Join(dir, strconv.FormatInt(seq.Add(1), 10))
		defer os.RemoveAll(root)
		made := 0
		for _, n := range strings.Split(names, "\n") {
			comps := splitSlash(strings.ReplaceAll(n, `\`, "/"))
			if len(comps) == 0 || len(comps) > 40 || made >= 20 || contains(comps, "..") {
				continue
			}
			ok := true
			for _, c := range comps {
				if strings.ContainsAny(c, "\x00:") || len(c) > 100 {
					ok = false
				}
			}
			if !ok {
				continue
			}
			p := filepath.Join(append([]string{root}, comps...)...)
			if os.MkdirAll(filepath.Dir(p), 0o755) != nil || os.WriteFile(p, content, 0o644) != nil {
				continue
			}
			made++
		}
		s, err := Discover(t.Context(), []string{root}, Options{MaxFileBytes: 1 << 20, MaxNestedBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range s.Servers {
			for _, file := range srv.Files {
				disk, _, _ := strings.Cut(file.Rel, "!")
				if hasDotDot("x!"+disk) || strings.HasPrefix(disk, "/") {
					t.Fatalf("file outside the root: %q", file.Rel)
				}
				for _, member := range strings.Split(file.Rel, "!")[1:] {
					if contains(strings.Split(member, "/"), "..") || strings.HasPrefix(member, "/") {
						t.Fatalf("unsafe member: %q", file.Rel)
					}
				}
				if rc, err := file.Open(); err == nil {
					io.Copy(io.Discard, io.LimitReader(rc, 2<<20))
					rc.Close()
				}
			}
		}
	})
}
