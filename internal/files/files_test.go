package files

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/rules"
)

var (
	loadOnce   sync.Once
	shipped    *Rules
	shippedErr error
)

// shippedRules are the embedded rules, loaded once for the package's tests.
func shippedRules(t testing.TB) *Rules {
	t.Helper()
	loadOnce.Do(func() { shipped, shippedErr = Load(rules.FS, nil) })
	if shippedErr != nil {
		t.Fatal(shippedErr)
	}
	return shipped
}

const inst = "Program Files/Microsoft/Exchange Server/V15/"

// tree writes files (paths below one server folder, '/'-separated) and
// returns what discovery finds, by path below the server folder.
func tree(t testing.TB, files map[string][]byte) map[string]*evidence.File {
	t.Helper()
	return treeIn(t, filepath.Join(t.TempDir(), "case"), files)
}

// treeIn is tree with the server folder EXCH01 under root.
func treeIn(t testing.TB, root string, files map[string][]byte) map[string]*evidence.File {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, "EXCH01", filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := evidence.Discover(context.Background(), []string{root}, evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*evidence.File{}
	for _, s := range set.Servers {
		for _, f := range s.Files {
			out[strings.TrimPrefix(f.Rel, "EXCH01/")] = f
		}
	}
	return out
}

func scan(t testing.TB, r *Rules, opt Options, f *evidence.File) (Result, error) {
	t.Helper()
	return r.NewScanner(opt).Scan(context.Background(), f, nil)
}

// rulesOf lists the distinct rules of findings, sorted; with prefix, only
// those starting with it (the prefix removed).
func rulesOf(fs []finding.Finding, prefix string) []string {
	var out []string
	for _, f := range fs {
		if id, ok := strings.CutPrefix(f.Rule, prefix); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func TestLoadShipped(t *testing.T) {
	r := shippedRules(t)
	if p := r.Problems(); len(p) != 0 {
		t.Errorf("problems loading the shipped rules: %v", p)
	}
	st := r.Stats()
	// signature-base's rules (7 files) and exhunt's own (2)
	if st.YaraRules < 55 || st.YaraFiles != 9 {
		t.Errorf("yara: %d rules in %d files", st.YaraRules, st.YaraFiles)
	}
	if st.NameIOCs != 3828 || st.PathIOCs < 40 || st.Hashes < 3000 {
		t.Errorf("iocs: %d names, %d paths, %d hashes", st.NameIOCs, st.PathIOCs, st.Hashes)
	}
	for _, h := range readList(rules.FS, blogHashFile) {
		if len(r.hashes[h]) == 0 {
			t.Errorf("blog hash %s not loaded", h)
		}
	}
	if !r.needMD5 || !r.needSHA1 {
		t.Error("signature-base's MD5 and SHA-1 hashes not loaded")
	}
}

// TestShippedUnmodified: the signature-base rules and IOCs ship exactly as
// published, every file of them, with their licence. The published files'
// digests are kept in testdata/upstream.sha256.
func TestShippedUnmodified(t *testing.T) {
	sums, err := os.ReadFile("testdata/upstream.sha256")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(sums), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		got, err := fs.ReadFile(rules.FS, name)
		if err != nil {
			t.Errorf("%s is not shipped: %v", name, err)
			continue
		}
		if d := sha256.Sum256(got); hex.EncodeToString(d[:]) != sum {
			t.Errorf("rules/%s differs from upstream", name)
		}
	}
	if n < 10 {
		t.Fatalf("only %d digests in testdata/upstream.sha256", n)
	}
}

// TestYaraSamples: the shells of the campaigns are found by the rules
// meant for them, edited variants by exhunt's own, and look-alikes by none.
func TestYaraSamples(t *testing.T) {
	r := shippedRules(t)
	files := map[string][]byte{}
	want := map[string][]string{}
	for _, s := range shellSamples() {
		p := "C/inetpub/wwwroot/aspnet_client/" + s.name
		if strings.HasSuffix(s.name, ".dmp") {
			p = "C/Windows/Temp/" + s.name
		}
		files[p], want[p] = s.data, s.yara
	}
	for _, s := range benignSamples() {
		p := "C/" + inst + "FrontEnd/HttpProxy/owa/" + s.name
		files[p], want[p] = s.data, s.yara
	}
	for p, f := range tree(t, files) {
		res, err := scan(t, r, Options{}, f)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := rulesOf(res.Findings, "yara:"); !slices.Equal(got, want[p]) {
			t.Errorf("%s: yara rules %v, want %v", p, got, want[p])
		}
	}
}

func TestPlaceAndName(t *testing.T) {
	r := shippedRules(t)
	const fe = "C/" + inst + "FrontEnd/HttpProxy/"
	tests := []struct {
		path       string
		rules      []string // non-YARA rules expected, sorted
		supporting []string // of those, the supporting ones
		shell      bool
	}{
		// Microsoft's path IOC, signature-base's name IOC, not Exchange's
		{fe + "owa/auth/errorPage.aspx", []string{"file-ioc-name", "file-ioc-path", "file-nonstandard-script"}, nil, true},
		// the look-alikes of Exchange's own pages
		{fe + "owa/auth/RedirSuiteServerProxy.aspx", []string{"file-nonstandard-script"}, nil, true},
		{fe + "owa/auth/RedirSuiteServiceProxy.aspx", nil, nil, false},
		{fe + "ecp/auth/TimeoutLogout.aspx", []string{"file-nonstandard-script"}, nil, true},
		{fe + "ecp/auth/TimeoutLogoff.aspx", nil, nil, false},
		{fe + "owa/auth/logon.aspx", nil, nil, false},
		{fe + "owa/auth/LOGON.ASPX", nil, nil, false},
		// scripts in the sub-folders, which hold static files
		{fe + "owa/auth/Current/themes/resources/logon.css", nil, nil, false},
		{fe + "owa/auth/Current/one1.aspx", []string{"file-ioc-name", "file-ioc-path", "file-nonstandard-script"}, nil, true},
		{fe + "owa/auth/15.1.2176/x.aspx", []string{"file-ioc-name", "file-nonstandard-script"}, nil, true},
		{fe + "owa/auth/15.1.2176/scripts/x.aspx", []string{"file-nonstandard-script"}, nil, true},
		{fe + "OAB/log.aspx", []string{"file-ioc-name", "file-ioc-path"}, nil, true},
		{fe + "owa/auth/Current/themes/resources/google.log", nil, nil, false},
		// aspnet_client holds no pages
		{"C/inetpub/wwwroot/aspnet_client/system_web/abcdefgh.aspx", []string{"file-ioc-name", "file-nonstandard-script"}, nil, true},
		{"C/inetpub/wwwroot/aspnet_client/shell.aspx", []string{"file-ioc-name", "file-ioc-path", "file-nonstandard-script"}, nil, true},
		{"C/inetpub/wwwroot/aspnet_client/system_web/4_0_30319/readme.txt", nil, nil, false},
		{"C/inetpub/wwwroot/iisstart.htm", nil, nil, false},
		// dumps and archives
		{"C/Windows/Temp/lsass.dmp", []string{"file-ioc-name", "file-lsass-dump"}, nil, false},
		{"C/root/lsass_1.dmp", []string{"file-ioc-name", "file-lsass-dump"}, nil, false},
		{"C/ProgramData/it.zip", []string{"file-ioc-name", "file-staging-archive"}, []string{"file-ioc-name", "file-staging-archive"}, false},
		{"C/ProgramData/McAfee/Agent/FrameworkConfig.zip", []string{"file-staging-archive"}, []string{"file-staging-archive"}, false},
		{"C/ProgramData/Microsoft/Windows/Start Menu/desktop.ini", nil, nil, false},
		{"C/Users/Public/opera/opera_browser.exe", []string{"file-ioc-name", "file-ioc-path"}, nil, false},
	}
	files := map[string][]byte{}
	for _, tt := range tests {
		files[tt.path] = []byte("benign content")
	}
	found := tree(t, files)
	for _, tt := range tests {
		f := found[tt.path]
		if f == nil {
			t.Errorf("%s: not discovered", tt.path)
			continue
		}
		res, err := scan(t, r, Options{}, f)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		var nonYara []finding.Finding
		var sup []string
		for _, fd := range res.Findings {
			if !strings.HasPrefix(fd.Rule, "yara:") {
				nonYara = append(nonYara, fd)
				if fd.Supporting {
					sup = append(sup, fd.Rule)
				}
			}
		}
		sort.Strings(sup)
		if got := rulesOf(nonYara, ""); !slices.Equal(got, tt.rules) || !slices.Equal(sup, tt.supporting) || res.Shell != tt.shell {
			t.Errorf("%s: rules %v (supporting %v) shell %v;\nwant %v (%v) %v", tt.path, got, sup, res.Shell, tt.rules, tt.supporting, tt.shell)
		}
		for _, fd := range res.Findings {
			if fd.Source.File != f.Rel || fd.File == nil || fd.File.Path != f.Path || fd.Fields["path"] != f.Path || fd.Time.IsZero() {
				t.Errorf("%s: finding %s lacks its file evidence: %+v", tt.path, fd.Rule, fd)
			}
		}
	}
}

// TestOneRead: hashes, YARA and the size come from one read of the file,
// for a file read whole and for one streamed in windows.
func TestOneRead(t *testing.T) {
	r := shippedRules(t)
	big := make([]byte, 1800<<10) // under the rule's 2 MB
	for i := range big {
		big[i] = byte(i * 7)
	}
	shell := []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`)
	copy(big[1500<<10:], shell) // past the first windows
	found := tree(t, map[string][]byte{"C/ProgramData/x/big.bin": big, "C/ProgramData/x/small.aspx": shell})
	for _, name := range []string{"big.bin", "small.aspx"} {
		f := found["C/ProgramData/x/"+name]
		data := big
		if name == "small.aspx" {
			data = shell
		}
		opens, bytesRead := 0, 0
		s := r.NewScanner(Options{MaxBuffer: 256 << 10})
		res, err := s.Scan(context.Background(), f, func(rd io.Reader) io.Reader {
			opens++
			return readerFunc(func(p []byte) (int, error) {
				n, err := rd.Read(p)
				bytesRead += n
				return n, err
			})
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if opens != 1 || bytesRead != len(data) || res.Bytes != int64(len(data)) {
			t.Errorf("%s: opened %d times, %d bytes read, %d reported, size %d", name, opens, bytesRead, res.Bytes, len(data))
		}
		got := rulesOf(res.Findings, "yara:")
		if !slices.Contains(got, "EXHUNT_WEBSHELL_Chopper_JScript_Eval") {
			t.Fatalf("%s: chopper not found: %v", name, got)
		}
		s256, s1, m5 := sha256.Sum256(data), sha1.Sum(data), md5.Sum(data)
		fi := res.Findings[0].File
		if fi.SHA256 != hex.EncodeToString(s256[:]) || fi.SHA1 != hex.EncodeToString(s1[:]) || fi.MD5 != hex.EncodeToString(m5[:]) || fi.Size != int64(len(data)) {
			t.Errorf("%s: file evidence %+v", name, fi)
		}
		m := fi.Matches
		if len(m) == 0 || m[0].Offset != int64(bytesIndex(data, "eval(")) {
			t.Errorf("%s: matches %+v", name, m)
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func bytesIndex(b []byte, s string) int { return strings.Index(string(b), s) }

// overlayFS is rules.FS with some files replaced.
func overlayFS(t testing.TB, files map[string]string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(rules.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(rules.FS, p)
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		m[p] = &fstest.MapFile{Data: []byte(data)}
	}
	return m
}

// TestStagesNameShippedRules: an entry of stages.yaml for a rule that is
// not shipped stops the load, naming the file and the entry's line.
func TestStagesNameShippedRules(t *testing.T) {
	shipped, err := fs.ReadFile(rules.FS, stagesFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := string(shipped) + "- rule: WEBSHELL_Not_Shipped_*\n  stage: persistence\n"
	line := strings.Count(string(shipped), "\n") + 1
	_, err = Load(overlayFS(t, map[string]string{stagesFile: bad}), nil)
	want := fmt.Sprintf("%s line %d: \"WEBSHELL_Not_Shipped_*\" matches no shipped YARA rule", stagesFile, line)
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// a rule given with --yara does not make the entry valid: the file
	// describes the shipped rules
	dir := t.TempDir()
	user := filepath.Join(dir, "user.yar")
	if err := os.WriteFile(user, []byte("rule WEBSHELL_Not_Shipped_1 { condition: true }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = Load(overlayFS(t, map[string]string{stagesFile: bad}), []string{user}); err == nil || err.Error() != want {
		t.Errorf("with a user rule: got %v, want %s", err, want)
	}
	if _, err := Load(rules.FS, []string{user}); err != nil {
		t.Errorf("shipped stages.yaml: %v", err)
	}
}

// TestHashIOCs: a file whose SHA-256, SHA-1 or MD5 is listed is reported
// with every source that lists it.
func TestHashIOCs(t *testing.T) {
	a, b, c := []byte("first dropped tool"), []byte("second dropped tool"), []byte("third")
	sa, sb, sc := sha256.Sum256(a), sha1.Sum(b), md5.Sum(c)
	fsys := overlayFS(t, map[string]string{
		blogHashFile: "# test\n" + hex.EncodeToString(sa[:]) + "\n",
		sbHashFile: hex.EncodeToString(sa[:]) + ";Tool A\n" + strings.ToUpper(hex.EncodeToString(sb[:])) + ";Tool B\n" +
			hex.EncodeToString(sc[:]) + ";Tool C\n",
	})
	r, err := Load(fsys, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := tree(t, map[string][]byte{"C/Windows/Temp/a.exe": a, "C/Windows/Temp/b.exe": b, "C/Windows/Temp/c.exe": c, "C/Windows/Temp/d.exe": []byte("other")})
	for name, want := range map[string]string{
		"a.exe": "Microsoft HAFNIUM blog, 2021-03-02; signature-base: Tool A",
		"b.exe": "signature-base: Tool B",
		"c.exe": "signature-base: Tool C",
		"d.exe": "",
	} {
		res, err := scan(t, r, Options{}, found["C/Windows/Temp/"+name])
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, fd := range res.Findings {
			if fd.Rule == "file-ioc-hash" {
				got = fd.Fields["ioc_source"]
				if len(fd.IOCs) == 0 || fd.Stage != finding.StagePersistence {
					t.Errorf("%s: %+v", name, fd)
				}
			}
		}
		if got != want {
			t.Errorf("%s: sources %q, want %q", name, got, want)
		}
	}
}

// TestSizeCap: a file over the cap is checked by place and name and
// reported; a zip member that inflates past it is cut.
func TestSizeCap(t *testing.T) {
	r := shippedRules(t)
	found := tree(t, map[string][]byte{"C/inetpub/wwwroot/aspnet_client/shell.aspx": make([]byte, 5000)})
	res, err := scan(t, r, Options{MaxScanBytes: 4096}, found["C/inetpub/wwwroot/aspnet_client/shell.aspx"])
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "place and name") {
		t.Errorf("err = %v", err)
	}
	if got := rulesOf(res.Findings, ""); !slices.Contains(got, "file-ioc-path") || res.Bytes != 0 {
		t.Errorf("findings %v, %d bytes read", got, res.Bytes)
	}
	for _, fd := range res.Findings {
		if fd.File.SHA256 != "" {
			t.Errorf("hash of an unread file: %+v", fd.File)
		}
	}
}

// TestSlowRuleIsAGap: a user rule whose regular expression backtracks
// badly stops at its budget, and the file reports it.
func TestSlowRuleIsAGap(t *testing.T) {
	user := filepath.Join(t.TempDir(), "slow.yar")
	os.WriteFile(user, []byte("rule slow { strings: $e = /[^\\n]{0,2000}q[^\\n]{0,2000}z/ condition: $e }\n"), 0o644)
	r, err := Load(rules.FS, []string{user})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("a", 300000))
	for i := 1000; i < len(data); i += 1000 {
		data[i] = 'q'
	}
	f := tree(t, map[string][]byte{"C/Windows/Temp/a.txt": data})["C/Windows/Temp/a.txt"]
	res, err := scan(t, r, Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Gaps) != 1 || !strings.Contains(res.Gaps[0].Reason, "slow:$e") {
		t.Errorf("gaps %+v", res.Gaps)
	}
}

// FuzzScanFile runs the whole per-file pipeline (place and name, one read
// for hashes, YARA and the configuration parser) over arbitrary content:
// no panic, the hashes are those of the content, every finding carries
// its file.
func FuzzScanFile(f *testing.F) {
	f.Add([]byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`), true)
	f.Add([]byte(appHostConfig), false)
	f.Add(oabDump("EXCH01", `http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["c"],"unsafe");}</script>`), true)
	f.Add([]byte("!BDN\x00\x00"), true)
	r := shippedRules(f)
	root := filepath.Join(f.TempDir(), "case")
	const page, config = "C/inetpub/wwwroot/aspnet_client/x.aspx", "C/Windows/System32/inetsrv/config/applicationHost.config"
	found := treeIn(f, root, map[string][]byte{page: nil, config: nil})
	s := r.NewScanner(Options{MaxBuffer: 64 << 10})
	f.Fuzz(func(t *testing.T, data []byte, isPage bool) {
		rel := config
		if isPage {
			rel = page
		}
		fl := found[rel]
		// rewritten in place: the same file, as discovery saw it
		if err := os.WriteFile(filepath.Join(root, "EXCH01", filepath.FromSlash(rel)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := s.Scan(context.Background(), fl, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		for _, fd := range res.Findings {
			if fd.File == nil || fd.File.SHA256 != hex.EncodeToString(sum[:]) || fd.Source.File != fl.Rel {
				t.Fatalf("finding %s: %+v", fd.Rule, fd.File)
			}
		}
	})
}

// TestImplausibleTimes: a file dated past year 9999 (possible on some file
// systems) is reported without a time rather than breaking the JSON.
func TestImplausibleTimes(t *testing.T) {
	found := tree(t, map[string][]byte{"C/inetpub/wwwroot/aspnet_client/shell.aspx": []byte("x")})
	f := found["C/inetpub/wwwroot/aspnet_client/shell.aspx"]
	f.ModTime = time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := scan(t, shippedRules(t), Options{}, f)
	if err != nil || len(res.Findings) == 0 {
		t.Fatal(err, res.Findings)
	}
	for _, fd := range res.Findings {
		if !fd.Time.IsZero() || !fd.File.Modified.IsZero() {
			t.Errorf("%s: time %v, modified %v", fd.Rule, fd.Time, fd.File.Modified)
		}
		if _, err := json.Marshal(fd); err != nil {
			t.Errorf("%s: %v", fd.Rule, err)
		}
	}
}
