package yara

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// upstreamDir holds the public rule files the engine must agree with yara
// on; ownDir exhunt's own rules, shipped with them.
const (
	upstreamDir = "../../rules/yara/signature-base"
	ownDir      = "../../rules/yara/exhunt"
)

var externalNames = []string{"filename", "filepath", "extension", "filetype"}

// yaraPath returns the yara tool. Without it the oracle tests fail rather
// than pass unchecked: CI installs it (.ci/run), and so must a developer.
func yaraPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("yara")
	if err != nil {
		t.Fatal("the yara tool is needed as the oracle of these tests: apt-get install yara")
	}
	return p
}

// ruleFile is a rule source with the namespace it is compiled in.
type ruleFile struct {
	ns, path string
}

func oracleRuleFiles(t testing.TB) []ruleFile {
	t.Helper()
	up, err := filepath.Glob(filepath.Join(upstreamDir, "*.yar"))
	if err != nil || len(up) == 0 {
		t.Fatalf("no upstream rule files in %s (shared/upstream/yara must sit beside the repository): %v", upstreamDir, err)
	}
	shipped, _ := filepath.Glob(filepath.Join(ownDir, "*.yar"))
	if len(shipped) == 0 {
		t.Fatalf("no rule files in %s", ownDir)
	}
	own, _ := filepath.Glob("testdata/oracle/*.yar")
	var out []ruleFile
	for _, p := range append(append(up, shipped...), own...) {
		ns := strings.TrimSuffix(filepath.Base(p), ".yar")
		out = append(out, ruleFile{ns: ns, path: p})
	}
	return out
}

// compileOracle compiles the files with the four externals declared.
func compileOracle(t testing.TB, files []ruleFile) (*Rules, map[string]string) {
	t.Helper()
	c := NewCompiler()
	for _, e := range externalNames {
		c.DefineString(e, "")
	}
	skipped := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.AddNamespace(f.ns, f.path, src) {
			if !p.Skipped || p.Rule == "" {
				t.Errorf("unexpected problem: %s", p)
				continue
			}
			skipped[f.ns+":"+p.Rule] = p.Reason
		}
	}
	r, probs := c.Rules()
	if r == nil {
		t.Fatalf("compile: %v", probs)
	}
	return r, skipped
}

// formatData renders match data as yara -s prints it.
func formatData(d []byte, hex bool) string {
	var b strings.Builder
	if hex {
		for i := 0; i < len(d) && i < 64; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%02X", d[i])
		}
		if len(d) > 64 {
			b.WriteString(" ...")
		}
		return b.String()
	}
	for _, c := range d {
		if c >= 32 && c <= 126 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02X", c)
		}
	}
	return b.String()
}

// runYara scans one file with yara -s -e and returns, per "ns:rule", the
// string lines "offset:$id: data".
func runYara(t testing.TB, bin string, files []ruleFile, target corpusFile) map[string][]string {
	t.Helper()
	args := []string{"-s", "-e"}
	for _, e := range externalNames {
		args = append(args, "-d", e+"="+target.ext[e])
	}
	for _, f := range files {
		args = append(args, f.ns+":"+f.path)
	}
	args = append(args, target.path)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("yara %s: %v\n%s", target.name, err, stderr.String())
	}
	res := map[string][]string{}
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "0x") && strings.Contains(line, ":$") {
			res[cur] = append(res[cur], line)
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		cur = name
		res[cur] = res[cur][:0:0]
	}
	return res
}

func TestOracle(t *testing.T) {
	bin := yaraPath(t)
	files := oracleRuleFiles(t)
	rules, skipped := compileOracle(t, files)
	hexIDs := map[string]bool{} // ns:rule:$id of hex strings, printed in hex by yara
	for _, s := range rules.strs {
		if len(s.parts) > 0 || (len(s.pats) > 0 && rules.pats[s.pats[0]].prog != nil && rules.pats[s.pats[0]].lit == nil) {
			r := rules.rules[s.rule]
			hexIDs[r.ns+":"+r.name+":"+s.id] = isHexString(t, r, s.id, files)
		}
	}
	dir := t.TempDir()
	corpus := genCorpus(t, dir)
	var nRules, nStrings, nFiles, nStreamed int
	matchedRules := map[string]int{}
	perNS := map[string]int{} // string matches compared per rule file
	for _, f := range corpus {
		want := runYara(t, bin, files, f)
		for k := range want {
			if _, ok := skipped[k]; ok {
				delete(want, k)
			}
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := rules.Scan(data, f.ext)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		got := matchLines(ms, hexIDs)
		nFiles++
		for k := range union(want, got) {
			w, inW := want[k]
			g, inG := got[k]
			if inW != inG {
				t.Errorf("%s: rule %s: yara matched=%v, exhunt matched=%v", f.name, k, inW, inG)
				continue
			}
			nRules++
			matchedRules[k]++
			sort.Strings(w)
			sort.Strings(g)
			if strings.Join(w, "\n") != strings.Join(g, "\n") {
				t.Errorf("%s: rule %s: string matches differ\n%s", f.name, k, lineDiff(w, g))
				continue
			}
			nStrings += len(w)
			ns, _, _ := strings.Cut(k, ":")
			perNS[ns] += len(w)
		}
		// Large files are streamed by the hunt in overlapping windows
		// (ScanReader): the same matches are required that way too.
		if len(data) > streamedOver {
			fh, err := os.Open(f.path)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := rules.ScanReader(fh, -1, f.ext, ScanOptions{MaxBuffer: streamedOver})
			fh.Close()
			if err != nil {
				t.Fatalf("%s streamed: %v", f.name, err)
			}
			got := matchLines(ms, hexIDs)
			for k := range union(want, got) {
				w, g := want[k], got[k]
				sort.Strings(w)
				sort.Strings(g)
				if _, inW := want[k]; !inW || strings.Join(w, "\n") != strings.Join(g, "\n") {
					t.Errorf("%s streamed in windows of %d: rule %s differs from yara\n%s", f.name, streamedOver, k, lineDiff(w, g))
				}
			}
			nStreamed++
		}
	}
	for k, reason := range skipped {
		if ns, _, _ := strings.Cut(k, ":"); !strings.HasPrefix(ns, "testdata") && !isOwnTest(files, ns) {
			t.Errorf("shipped rule %s skipped: %s", k, reason)
		}
	}
	var loaded []string
	for _, r := range rules.rules {
		loaded = append(loaded, r.ns+":"+r.name)
	}
	t.Logf("rules loaded: %d, skipped: %d %v", len(loaded), len(skipped), skipped)
	t.Logf("files: %d (%d also streamed), rule matches compared: %d, string matches compared: %d", nFiles, nStreamed, nRules, nStrings)
	perFile := map[string]int{}
	for k, n := range matchedRules {
		ns, _, _ := strings.Cut(k, ":")
		perFile[ns] += n
	}
	for _, f := range files {
		t.Logf("  %-36s rule matches %4d, string matches %4d", f.ns, perFile[f.ns], perNS[f.ns])
	}
	var never []string
	for _, k := range loaded {
		if matchedRules[k] == 0 && !rules.rules[rules.indexOf(k)].private {
			never = append(never, k)
		}
	}
	t.Logf("rules that matched no corpus file (%d): %v", len(never), never)
	// the math module's rules must both match and miss corpus files, or
	// the comparison with yara does not check the values
	nMath := 0
	for _, r := range rules.rules {
		if r.ns != "math" {
			continue
		}
		nMath++
		if n := matchedRules["math:"+r.name]; n == 0 || n == nFiles {
			t.Errorf("math:%s matched %d of %d corpus files: it does not tell values apart", r.name, n, nFiles)
		}
	}
	if nMath == 0 {
		t.Error("no math rules (testdata/oracle/math.yar) compared")
	}
}

// streamedOver is the window the oracle streams large files in.
const streamedOver = 256 << 10

// matchLines renders matches per "ns:rule" as yara -s prints them.
func matchLines(ms []Match, hexIDs map[string]bool) map[string][]string {
	got := map[string][]string{}
	for _, m := range ms {
		k := m.Namespace + ":" + m.Rule
		lines := []string{}
		for _, s := range m.Strings {
			lines = append(lines, fmt.Sprintf("0x%x:%s: %s", s.Offset, s.ID, formatData(s.Data, hexIDs[k+":"+s.ID])))
		}
		got[k] = lines
	}
	return got
}

// isOwnTest reports the namespaces of testdata/oracle, whose rules may
// exercise unsupported features on purpose.
func isOwnTest(files []ruleFile, ns string) bool {
	for _, f := range files {
		if f.ns == ns {
			return strings.HasPrefix(filepath.ToSlash(f.path), "testdata/")
		}
	}
	return false
}

func (r *Rules) indexOf(key string) int {
	for i, rule := range r.rules {
		if rule.ns+":"+rule.name == key {
			return i
		}
	}
	return -1
}

// isHexString tells a hex string from a regular expression by its source.
func isHexString(t testing.TB, r *crule, id string, files []ruleFile) bool {
	for _, f := range files {
		if f.ns != r.ns {
			continue
		}
		src, _ := os.ReadFile(f.path)
		ast := parseFile(src)
		for _, ra := range ast.rules {
			if ra.name != r.name {
				continue
			}
			for _, s := range ra.strings {
				if s.id == id {
					return s.kind == skHex
				}
			}
		}
	}
	return false
}

func union(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func lineDiff(want, got []string) string {
	w := map[string]bool{}
	g := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	n := 0
	for _, l := range want {
		if !g[l] && n < 10 {
			fmt.Fprintf(&b, "  only yara:   %.200s\n", l)
			n++
		}
	}
	n = 0
	for _, l := range got {
		if !w[l] && n < 10 {
			fmt.Fprintf(&b, "  only exhunt: %.200s\n", l)
			n++
		}
	}
	return b.String()
}
