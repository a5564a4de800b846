package evidence

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func splitAny(p string) []string { return splitSlash(strings.ReplaceAll(p, `\`, "/")) }

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func FuzzClassify(f *testing.F) {
	for _, s := range [][2]string{
		{"/case", "SRV1/C/" + install + "/Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG"},
		{"/case", `EXCH02\uploads\auto\C%3A\Program Files\Microsoft\Exchange Server\V15\Logging\ECP\Server\x.LOG`},
		{"/mnt/V15", "Logging/CmdletInfra/a/b/Rps_Http_1.log.gz"},
		{"srv1", "C/inetpub/logs/LogFiles/W3SVC12/u_ex1.log"},
		{"/x/Logging/HttpProxy", "Owa/HttpProxy_1.log"},
		{"", "Logging/OABGeneratorLog/x.log"},
		{"/case/EXCH04/c_drive", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log"},
		{"/case", "SRV1/C/" + install + "/FrontEnd/HttpProxy/owa/auth/x.aspx"},
		{"/case", "SRV1/C$/ProgramData/it.zip"},
		{"srv1", "C/Windows/debug/msert.log"},
		{"/x/C", "root/lsass.dmp"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ancPath, relPath string) {
		anc, rel := splitAny(ancPath), splitAny(relPath)
		c, ok := classify(anc, rel)
		if c2, ok2 := classify(anc, rel); c2 != c || ok2 != ok {
			t.Fatalf("unstable: %+v %v then %+v %v", c, ok, c2, ok2)
		}
		// Windows paths are case-insensitive: so is the classifier.
		ua, ur := make([]string, len(anc)), make([]string, len(rel))
		for i := range anc {
			ua[i] = upperASCII(anc[i])
		}
		for i := range rel {
			ur[i] = upperASCII(rel[i])
		}
		cu, oku := classify(ua, ur)
		if oku != ok || cu.kind != c.kind || cu.prefix != c.prefix || cu.rootInside != c.rootInside || !eq(cu.sub, c.sub) {
			t.Fatalf("case changes the result: %+v %v vs %+v %v", c, ok, cu, oku)
		}
		if !ok {
			return
		}
		if c.prefix < 0 || c.prefix >= len(rel) {
			t.Fatalf("prefix %d out of range for %q", c.prefix, rel)
		}
		if c.prefix > 0 && isNoise(rel[c.prefix-1]) {
			t.Fatalf("server root %q ends with noise", rel[:c.prefix])
		}
		if !isHostKind(c.kind) && !isLogName(rel[len(rel)-1]) {
			t.Fatalf("%q accepted as a log", rel[len(rel)-1])
		}
		if isHostKind(c.kind) != (c.path != "") {
			t.Fatalf("%s with path %q", c.kind, c.path)
		}
		switch c.kind {
		case HostFile:
			if !contains([]string{LocFrontEnd, LocClientAccess, LocWWWRoot, LocASPNetTemp, LocIISConfig,
				LocProgramData, LocWindowsTemp, LocRoot, LocUsersPublic}, c.sub) {
				t.Fatalf("file location %q", c.sub)
			}
			if !strings.HasSuffix(c.path, `\`+rel[len(rel)-1]) {
				t.Fatalf("path %q does not end with %q", c.path, rel[len(rel)-1])
			}
		case Msert:
			if c.sub != "" {
				t.Fatalf("msert with sub %q", c.sub)
			}
		case HTTPProxy:
			if c.sub == "" {
				t.Fatal("httpproxy without protocol")
			}
		case IIS:
			if !isW3SVC(c.sub) || c.sub != strings.ToUpper(c.sub) {
				t.Fatalf("iis sub %q", c.sub)
			}
		case ECPServer, ECPActivity, OABGen, RpsHTTP, RpsCmdlet, EWS:
			if c.sub != "" {
				t.Fatalf("%s with sub %q", c.kind, c.sub)
			}
		default:
			t.Fatalf("unknown kind %q", c.kind)
		}
		name := serverName(c, rel[:c.prefix], anc)
		if name != "" && (isGeneric(name) || !contains(rel[:c.prefix], name) && !contains(anc, name)) {
			t.Fatalf("server name %q from %q %q", name, anc, rel[:c.prefix])
		}
	})
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func FuzzZip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add(zipBytes(f,
		zipEntry{name: `C\inetpub\logs\LogFiles\W3SVC1\u_ex210303.log`, data: []byte("#Fields: date time\n"), method: zip.Deflate},
		zipEntry{name: "SRV1/Logging/HttpProxy/Owa/HttpProxy_1.LOG", data: []byte("a,b\n"), method: zip.Store},
		zipEntry{name: "../Logging/Ews/Ews_1.log", data: []byte("x"), method: zip.Deflate},
	))
	f.Add(zipBytes(f, zipEntry{name: "Logging/Ews/Ews_1.log", data: make([]byte, 1<<20), method: zip.Deflate}))
	f.Add(zipBytes(f, zipEntry{name: "Logging/Ews/Ews_1.log.gz", data: gzipBytes(f, []byte("gz\n")), method: zip.Store}))

	dir := f.TempDir()
	var seq atomic.Int64
	const max = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, strconv.FormatInt(seq.Add(1), 10)+".zip")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
		s, err := Discover(t.Context(), []string{p}, Options{MaxFileBytes: max, MaxZipRatio: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range s.Servers {
			for _, file := range srv.Files {
				if !strings.HasPrefix(file.Rel, filepath.Base(p)+"!") || hasDotDot(file.Rel) {
					t.Fatalf("bad Rel %q", file.Rel)
				}
				rc, err := file.Open()
				if err != nil {
					continue
				}
				n, _ := io.Copy(io.Discard, rc)
				rc.Close()
				if n > max {
					t.Fatalf("read %d bytes, limit %d", n, max)
				}
			}
		}
	})
}

func hasDotDot(rel string) bool {
	_, member, _ := strings.Cut(rel, "!")
	return contains(strings.Split(member, "/"), "..")
}
