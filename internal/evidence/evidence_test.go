package evidence

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

const (
	hpOwa  = "Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG"
	ecpSrv = "Logging/ECP/Server/ECPServer20210303-1.LOG"
	w3svc1 = "inetpub/logs/LogFiles/W3SVC1/u_ex210303.log"
)

// writeFiles creates files (paths '/'-separated, relative to dir) holding
// their own path as content, so reads can be checked.
func writeFiles(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), []byte("#content of "+p+"\n"))
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// describe renders a Set as lines for comparison.
func describe(s *Set) []string {
	var out []string
	for _, srv := range s.Servers {
		out = append(out, fmt.Sprintf("server %q root=%q", srv.Name, srv.Root))
		for _, f := range srv.Files {
			out = append(out, fmt.Sprintf("  %s %s %s", f.Kind, f.Sub, f.Rel))
		}
	}
	for _, g := range s.Gaps {
		out = append(out, "gap "+g.File+": "+g.Reason)
	}
	return out
}

func checkSet(t *testing.T, s *Set, want []string) {
	t.Helper()
	if got := describe(s); !slices.Equal(got, want) {
		t.Errorf("set:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func discover(t *testing.T, opt Options, roots ...string) *Set {
	t.Helper()
	s, err := Discover(t.Context(), roots, opt)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return s
}

func readAll(t *testing.T, f *File) string {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("open %s: %v", f.Rel, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", f.Rel, err)
	}
	return string(b)
}

func TestDiscoverLayouts(t *testing.T) {
	const inst = "Program Files/Microsoft/Exchange Server/V15/"
	tests := []struct {
		name  string
		root  string // folder created in the temp dir and hunted
		files []string
		want  []string
	}{{
		name: "per-server folders",
		root: "case",
		files: []string{
			"SRV1/C/" + inst + hpOwa,
			"SRV1/C/" + inst + "Logging/HttpProxy/Autodiscover/HttpProxy_2021030312-1.LOG",
			"SRV1/C/" + inst + "Logging/CmdletInfra/Powershell-Proxy/Http/Rps_Http_2021030312-1.LOG",
			"SRV1/C/" + inst + "Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_2021030312-1.LOG",
			"SRV1/C/" + inst + "Logging/OABGeneratorLog/OABGenerator_20210303-1.LOG",
			"SRV1/C/" + inst + "Logging/Ews/Ews_2021030312-1.LOG",
			"SRV1/C/" + inst + "Logging/ECP/Activity/ECPActivity_20210303-1.LOG",
			"SRV1/C/" + w3svc1,
			"SRV1/C/inetpub/logs/LogFiles/w3svc2/u_ex210303.log",
			"SRV2/D/program files/microsoft/exchange server/v15/logging/ecp/server/ECPServer20210303-1.LOG",
			"SRV2/C/PROGRAM FILES/MICROSOFT/EXCHANGE SERVER/V15/LOGGING/HTTPPROXY/ECP/HTTPPROXY_2021030312-1.LOG",
			// Ignored without a gap.
			"SRV1/C/" + inst + "Logging/HttpProxy/Owa/readme.txt",
			"SRV1/C/" + inst + "Logging/MessageTracking/MSGTRK2021030312-1.LOG",
			"SRV1/C/inetpub/logs/LogFiles/W3SVC/u_ex210303.log",
			"notes.txt",
			// A file the file hunt reads; the zip is not opened.
			"SRV1/C/ProgramData/stage.zip",
		},
		want: []string{
			`server "SRV1" root="SRV1"`,
			"  ecp-activity  SRV1/C/" + inst + "Logging/ECP/Activity/ECPActivity_20210303-1.LOG",
			"  ews  SRV1/C/" + inst + "Logging/Ews/Ews_2021030312-1.LOG",
			"  file programdata SRV1/C/ProgramData/stage.zip",
			"  httpproxy Autodiscover SRV1/C/" + inst + "Logging/HttpProxy/Autodiscover/HttpProxy_2021030312-1.LOG",
			"  httpproxy Owa SRV1/C/" + inst + hpOwa,
			"  iis W3SVC1 SRV1/C/" + w3svc1,
			"  iis W3SVC2 SRV1/C/inetpub/logs/LogFiles/w3svc2/u_ex210303.log",
			"  oabgenerator  SRV1/C/" + inst + "Logging/OABGeneratorLog/OABGenerator_20210303-1.LOG",
			"  rps-cmdlet  SRV1/C/" + inst + "Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_2021030312-1.LOG",
			"  rps-http  SRV1/C/" + inst + "Logging/CmdletInfra/Powershell-Proxy/Http/Rps_Http_2021030312-1.LOG",
			`server "SRV2" root="SRV2"`,
			"  ecp-server  SRV2/D/program files/microsoft/exchange server/v15/logging/ecp/server/ECPServer20210303-1.LOG",
			"  httpproxy ECP SRV2/C/PROGRAM FILES/MICROSOFT/EXCHANGE SERVER/V15/LOGGING/HTTPPROXY/ECP/HTTPPROXY_2021030312-1.LOG",
		},
	}, {
		name:  "install root",
		root:  "V15",
		files: []string{hpOwa, ecpSrv, "bin/Microsoft.Exchange.dll"},
		want: []string{
			`server "" root="."`,
			"  ecp-server  " + ecpSrv,
			"  httpproxy Owa " + hpOwa,
		},
	}, {
		name:  "server folder with logs and IIS",
		root:  "ex01",
		files: []string{hpOwa, w3svc1},
		want: []string{
			`server "ex01" root="."`,
			"  httpproxy Owa " + hpOwa,
			"  iis W3SVC1 " + w3svc1,
		},
	}, {
		name:  "generic evidence folder",
		root:  "evidence",
		files: []string{"Exchange Server/V15/" + hpOwa},
		want: []string{
			`server "" root="."`,
			"  httpproxy Owa Exchange Server/V15/" + hpOwa,
		},
	}, {
		name: "velociraptor",
		root: "case",
		files: []string{
			"EXCH02/uploads/auto/C%3A/" + inst + ecpSrv,
			"EXCH02/uploads/ntfs/%5C%5C.%5CC%3A/" + w3svc1,
		},
		want: []string{
			`server "EXCH02" root="EXCH02"`,
			"  ecp-server  EXCH02/uploads/auto/C%3A/" + inst + ecpSrv,
			"  iis W3SVC1 EXCH02/uploads/ntfs/%5C%5C.%5CC%3A/" + w3svc1,
		},
	}, {
		name: "kape",
		root: "kape",
		files: []string{
			"2021-03-05T101010_EXCH03/C/" + w3svc1,
			"2021-03-05T101010_EXCH03/E/Exchange Server/V15/" + hpOwa,
			"2021-03-05T101010_EXCH04/c_drive/" + inst + ecpSrv,
		},
		want: []string{
			`server "2021-03-05T101010_EXCH03" root="2021-03-05T101010_EXCH03"`,
			"  httpproxy Owa 2021-03-05T101010_EXCH03/E/Exchange Server/V15/" + hpOwa,
			"  iis W3SVC1 2021-03-05T101010_EXCH03/C/" + w3svc1,
			`server "2021-03-05T101010_EXCH04" root="2021-03-05T101010_EXCH04"`,
			"  ecp-server  2021-03-05T101010_EXCH04/c_drive/" + inst + ecpSrv,
		},
	}, {
		name:  "drive folder as root",
		root:  "EXCH05/C",
		files: []string{inst + hpOwa},
		want: []string{
			`server "EXCH05" root="."`,
			"  httpproxy Owa " + inst + hpOwa,
		},
	}, {
		name:  "root inside the log tree",
		root:  "SRV9/Logging/HttpProxy",
		files: []string{"Owa/HttpProxy_2021030312-1.LOG", "Ecp/HttpProxy_2021030312-1.LOG"},
		want: []string{
			`server "" root="."`,
			"  httpproxy Ecp Ecp/HttpProxy_2021030312-1.LOG",
			"  httpproxy Owa Owa/HttpProxy_2021030312-1.LOG",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), filepath.FromSlash(tt.root))
			writeFiles(t, root, tt.files...)
			s := discover(t, Options{}, root)
			checkSet(t, s, tt.want)
			for _, srv := range s.Servers {
				for _, f := range srv.Files {
					if got, want := readAll(t, f), "#content of "+f.Rel+"\n"; got != want {
						t.Errorf("content of %s = %q, want %q", f.Rel, got, want)
					}
					if f.Size != int64(len("#content of "+f.Rel+"\n")) || f.ModTime.IsZero() {
						t.Errorf("%s: size %d, mtime %v", f.Rel, f.Size, f.ModTime)
					}
				}
			}
		})
	}
}

func TestDiscoverRoots(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "alpha"), filepath.Join(dir, "beta")
	writeFiles(t, a, w3svc1)
	writeFiles(t, b, w3svc1)
	missing := filepath.Join(dir, "missing")
	notes := filepath.Join(dir, "notes.txt")
	writeFile(t, notes, []byte("x"))

	s := discover(t, Options{}, missing, a, notes, b)
	checkSet(t, s, []string{
		`server "alpha" root="."`,
		"  iis W3SVC1 " + w3svc1,
		`server "beta" root="."`,
		"  iis W3SVC1 " + w3svc1,
		"gap " + missing + ": root does not exist",
		"gap " + notes + ": root is not a folder, .zip or .log file",
	})
	if s.Servers[0].Source != a || s.Servers[1].Source != b {
		t.Errorf("sources %q %q, want %q %q", s.Servers[0].Source, s.Servers[1].Source, a, b)
	}
}

func TestDiscoverSingleFile(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "HttpProxy_2021030312-1.LOG")
	writeFile(t, bare, []byte("bare"))
	deep := filepath.Join(dir, "SRV1", "C", filepath.FromSlash(w3svc1))
	writeFile(t, deep, []byte("deep"))
	other := filepath.Join(dir, "other.log")
	writeFile(t, other, []byte("?"))

	s := discover(t, Options{}, bare, deep, other)
	checkSet(t, s, []string{
		`server "" root="."`,
		"  httpproxy  HttpProxy_2021030312-1.LOG",
		`server "" root="."`,
		"  iis W3SVC1 u_ex210303.log",
		"gap " + other + ": not a recognised Exchange or IIS log file name",
	})
	if got := readAll(t, s.Servers[1].Files[0]); got != "deep" {
		t.Errorf("content %q", got)
	}
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	content := []byte("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time\n")
	gz := gzipBytes(t, content)
	root := t.TempDir()
	dir := filepath.Join(root, "SRV1", "C", filepath.FromSlash("inetpub/logs/LogFiles/W3SVC1"))
	writeFile(t, filepath.Join(dir, "u_ex210303.log.gz"), gz)
	writeFile(t, filepath.Join(dir, "u_ex210304.LOG.GZ"), []byte("this is not gzip"))
	writeFile(t, filepath.Join(dir, "u_ex210305.log.gz"), gz[:len(gz)-12])
	writeFile(t, filepath.Join(dir, "u_ex210306.log.gz"), nil)

	s := discover(t, Options{}, root)
	if len(s.Servers) != 1 || len(s.Servers[0].Files) != 4 {
		t.Fatalf("got %v", describe(s))
	}
	files := s.Servers[0].Files
	if files[0].Size != int64(len(gz)) {
		t.Errorf("size %d, want the compressed size %d", files[0].Size, len(gz))
	}
	if got := readAll(t, files[0]); got != string(content) {
		t.Errorf("gunzipped %q, want %q", got, content)
	}
	// Corrupt, truncated and empty .gz: an error naming the file, at Open
	// or at the latest when reading.
	for _, f := range files[1:] {
		err := readErr(f)
		if err == nil || !strings.Contains(err.Error(), f.Rel) {
			t.Errorf("%s: error %v, want one naming the file", f.Rel, err)
		}
	}

	// A gzip bomb is stopped by MaxFileBytes.
	writeFile(t, filepath.Join(dir, "u_ex210307.log.gz"), gzipBytes(t, make([]byte, 1<<20)))
	s = discover(t, Options{MaxFileBytes: 1000}, root)
	f := s.Servers[0].Files[4]
	if err := readErr(f); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%s: error %v, want ErrTooLarge", f.Rel, err)
	}
}

// readErr opens and reads f to the end and returns the first error.
func readErr(f *File) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

func TestMaxFileBytes(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, filepath.FromSlash(w3svc1)), make([]byte, 100))
	for _, tt := range []struct {
		max  int64
		fail bool
	}{{99, true}, {100, false}, {1 << 20, false}} {
		s := discover(t, Options{MaxFileBytes: tt.max}, root)
		rc, err := s.Servers[0].Files[0].Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if tt.fail != errors.Is(err, ErrTooLarge) || (!tt.fail && (err != nil || n != 100)) || n > tt.max {
			t.Errorf("max %d: read %d bytes, err %v", tt.max, n, err)
		}
	}
}

func TestSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on windows")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "case")
	outside := filepath.Join(dir, "outside")
	writeFiles(t, outside, "u_ex1.log")
	writeFiles(t, root, "SRV1/C/"+w3svc1, "store/w3/u_ex9.log")
	logFiles := filepath.Join(root, "SRV1", "C", "inetpub", "logs", "LogFiles")
	symlink := func(target, link string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	symlink(outside, filepath.Join(logFiles, "W3SVC2"))                                          // leaves the root
	symlink(filepath.Join(outside, "u_ex1.log"), filepath.Join(logFiles, "W3SVC3", "u_ex1.log")) // leaves the root
	symlink("../../../../..", filepath.Join(logFiles, "W3SVC4"))                                 // loops to SRV1
	symlink("W3SVC1/u_ex210303.log", filepath.Join(logFiles, "W3SVC5", "u_ex210303.log"))        // dangling (relative to W3SVC5)
	symlink("b", filepath.Join(root, "loop", "a"))                                               // a -> b -> a
	symlink("a", filepath.Join(root, "loop", "b"))
	symlink("../../../../../store/w3", filepath.Join(root, "SRV2", "C", "inetpub", "logs", "LogFiles", "W3SVC1"))

	gaps := []string{
		"gap SRV1/C/inetpub/logs/LogFiles/W3SVC2: symlink target outside the hunted root",
		"gap SRV1/C/inetpub/logs/LogFiles/W3SVC3/u_ex1.log: symlink target outside the hunted root",
		"gap loop/a: symlink loop or unresolvable target: EvalSymlinks: too many links",
		"gap loop/b: symlink loop or unresolvable target: EvalSymlinks: too many links",
	}
	s := discover(t, Options{}, root)
	checkSet(t, s, append([]string{
		`server "SRV1" root="SRV1"`,
		"  iis W3SVC1 SRV1/C/" + w3svc1,
	}, gaps...))

	// Following: links inside the root are walked once, loops end, and
	// links leaving the root are still refused.
	s = discover(t, Options{FollowSymlinks: true}, root)
	checkSet(t, s, append([]string{
		`server "SRV1" root="SRV1"`,
		"  iis W3SVC1 SRV1/C/" + w3svc1,
		`server "SRV2" root="SRV2"`,
		"  iis W3SVC1 SRV2/C/inetpub/logs/LogFiles/W3SVC1/u_ex9.log",
	}, gaps...))
	if got := readAll(t, s.Servers[1].Files[0]); got != "#content of store/w3/u_ex9.log\n" {
		t.Errorf("content through symlink: %q", got)
	}
}

func TestUnreadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not apply on windows")
	}
	if os.Geteuid() == 0 {
		t.Skip("root can read everything")
	}
	root := t.TempDir()
	writeFiles(t, root, "SRV1/C/"+w3svc1, "SRV1/C/inetpub/logs/LogFiles/W3SVC2/u_ex1.log", "SRV2/C/"+w3svc1)
	locked := filepath.Join(root, "SRV2")
	file := filepath.Join(root, "SRV1", "C", "inetpub", "logs", "LogFiles", "W3SVC2", "u_ex1.log")
	for _, p := range []string{locked, file} {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(p, 0o755) })
	}
	s := discover(t, Options{}, root)
	checkSet(t, s, []string{
		`server "SRV1" root="SRV1"`,
		"  iis W3SVC1 SRV1/C/" + w3svc1,
		"gap SRV1/C/inetpub/logs/LogFiles/W3SVC2/u_ex1.log: cannot open file: permission denied",
		"gap SRV2: cannot read folder: permission denied",
	})
	if s.Gaps[0].Server != "SRV1" {
		t.Errorf("gap server %q, want SRV1", s.Gaps[0].Server)
	}
}

func TestCancel(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, w3svc1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s, err := Discover(ctx, []string{root}, Options{}); !errors.Is(err, context.Canceled) || s != nil {
		t.Errorf("Discover after cancel = %v, %v", s, err)
	}
	// The walk itself checks ctx, not only the loop over roots.
	if err := walkRoot(ctx, newBuilder(), 0, root, root, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("walk after cancel: %v", err)
	}
}

func TestLive(t *testing.T) {
	if runtime.GOOS != "windows" {
		if _, err := Live(t.Context(), Options{}); !errors.Is(err, ErrNoLive) {
			t.Errorf("Live = %v, want ErrNoLive", err)
		}
	}
	dir := t.TempDir()
	logging := filepath.Join(dir, "Program Files", "Microsoft", "Exchange Server", "V15", "Logging")
	iis := filepath.Join(dir, "inetpub", "logs", "LogFiles")
	writeFiles(t, logging, "HttpProxy/Owa/HttpProxy_2021030312-1.LOG", "ECP/Server/ECPServer20210303-1.LOG", "other/x.log")
	writeFiles(t, iis, "W3SVC1/u_ex210303.log")
	winevt := filepath.Join(dir, "Windows", "System32", "winevt", "Logs")
	writeFiles(t, winevt, "Security.evtx")
	missing := filepath.Join(dir, "D", "inetpub")
	pre := finding.Gap{File: "registry", Reason: "test"}
	dirs := []liveDir{{path: logging, what: "log folder"}, {path: iis, what: "log folder"}, {path: missing, what: "log folder"},
		{path: filepath.Join(dir, "C", "root"), what: "folder", optional: true}, {path: winevt, what: "event log folder"}}
	s, err := liveSet(t.Context(), "EXCH01", dirs, []finding.Gap{pre}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	slash := filepath.ToSlash
	checkSet(t, s, []string{
		`server "EXCH01" root="."`,
		"  ecp-server  " + slash(logging) + "/ECP/Server/ECPServer20210303-1.LOG",
		"  evtx Security " + slash(winevt) + "/Security.evtx",
		"  httpproxy Owa " + slash(logging) + "/HttpProxy/Owa/HttpProxy_2021030312-1.LOG",
		"  iis W3SVC1 " + slash(iis) + "/W3SVC1/u_ex210303.log",
		"gap registry: test",
		"gap " + slash(missing) + ": log folder does not exist",
	})
	if got := readAll(t, s.Servers[0].Files[3]); got != "#content of W3SVC1/u_ex210303.log\n" {
		t.Errorf("content %q", got)
	}
}

// Stream hands over the host files Discover lists, each with its server,
// keeps the logs listed, and lists the servers that have only host files.
func TestStream(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir,
		"EX1/C/Program Files/Microsoft/Exchange Server/V15/"+hpOwa,
		"EX1/C/inetpub/wwwroot/aspnet_client/a.aspx",
		"EX1/C/Windows/debug/msert.log",
		"EX2/C/ProgramData/x.zip",
		"EX2/C/Windows/Temp/lsass.dmp",
	)
	all := discover(t, Options{}, dir)
	var want, got []string
	for _, s := range all.Servers {
		for _, f := range s.Files {
			if isHostKind(f.Kind) {
				want = append(want, s.Name+" "+string(f.Kind)+" "+f.Rel)
			}
		}
	}
	set, err := Stream(t.Context(), []string{dir}, Options{}, func(s *Server, f *File) {
		got = append(got, s.Name+" "+string(f.Kind)+" "+f.Rel)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) != 4 || !slices.Equal(got, want) {
		t.Errorf("streamed %q, want %q", got, want)
	}
	checkSet(t, set, []string{
		`server "EX1" root="EX1"`,
		"  httpproxy Owa EX1/C/Program Files/Microsoft/Exchange Server/V15/" + hpOwa,
		`server "EX2" root="EX2"`,
	})
}
