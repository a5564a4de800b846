package yara

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestOracleRandom compares the engine with yara on generated rules (text,
// hex and regex strings with random modifiers) and generated files seeded
// with fragments of those strings. Rules yara rejects are dropped first.
func TestOracleRandom(t *testing.T) {
	bin := yaraPath(t)
	seeds := []int64{42, 43, 44}
	if v, err := strconv.ParseInt(os.Getenv("EXHUNT_ORACLE_SEED"), 10, 64); err == nil {
		seeds = []int64{v}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { oracleRandom(t, bin, seed) })
	}
}

func oracleRandom(t *testing.T, bin string, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	var rules []string
	var frags [][]byte
	for i := 0; i < 160; i++ {
		src, fr := randRule(rng, i)
		rules = append(rules, src)
		frags = append(frags, fr...)
	}
	// drop the rules yara rejects, one error at a time
	p := filepath.Join(dir, "check.yar")
	for tries := 0; tries < 100; tries++ {
		os.WriteFile(p, []byte(strings.Join(rules, "\n")), 0o644)
		out, err := exec.Command(bin, p, p).CombinedOutput()
		if err == nil {
			break
		}
		m := regexp.MustCompile(`error: rule "(r\d+)"`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("yara: %s", out)
		}
		for j, r := range rules {
			if strings.HasPrefix(r, "rule "+string(m[1])+" ") {
				t.Logf("yara rejects %s: %s", r, bytes.TrimSpace(out))
				if probs := NewCompiler().Add("one.yar", []byte(r)); len(probs) == 0 {
					t.Errorf("yara rejects a rule exhunt accepts: %s\n%s", r, out)
				}
				rules = append(rules[:j], rules[j+1:]...)
				break
			}
		}
	}
	rulePath := filepath.Join(dir, "random.yar")
	if err := os.WriteFile(rulePath, []byte(strings.Join(rules, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	os.Mkdir(dataDir, 0o755)
	for i := 0; i < 40; i++ {
		var b bytes.Buffer
		n := 200 + rng.Intn(3000)
		for b.Len() < n {
			if rng.Intn(6) == 0 && len(frags) > 0 {
				b.Write(frags[rng.Intn(len(frags))])
				continue
			}
			b.WriteByte("abcAB01 _-.\x00\n\xffxyz"[rng.Intn(17)])
		}
		os.WriteFile(filepath.Join(dataDir, fmt.Sprintf("f%02d", i)), b.Bytes(), 0o644)
	}

	c := NewCompiler()
	src, _ := os.ReadFile(rulePath)
	for _, p := range c.Add(rulePath, src) {
		t.Errorf("problem yara does not have: %s", p)
	}
	r, _ := c.Rules()
	if r == nil {
		t.Fatal("no rules")
	}
	hex := map[string]bool{}
	for _, ra := range parseFile(src).rules {
		for _, s := range ra.strings {
			if s.kind == skHex {
				hex[ra.name+":"+s.id] = true
			}
		}
	}
	out, err := exec.Command(bin, "-s", "-r", rulePath, dataDir).Output()
	if err != nil {
		t.Fatalf("yara: %v", err)
	}
	want := map[string]map[string][]string{} // file -> rule -> lines
	var cur, curFile string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "0x") && strings.Contains(line, ":$") {
			want[curFile][cur] = append(want[curFile][cur], line)
			continue
		}
		rule, file, _ := strings.Cut(line, " ")
		cur, curFile = rule, filepath.Base(file)
		if want[curFile] == nil {
			want[curFile] = map[string][]string{}
		}
		want[curFile][cur] = []string{}
	}
	files, _ := filepath.Glob(filepath.Join(dataDir, "*"))
	compared, diffs := 0, 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		ms, err := r.Scan(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, m := range ms {
			lines := []string{}
			for _, s := range m.Strings {
				lines = append(lines, fmt.Sprintf("0x%x:%s: %s", s.Offset, s.ID, formatData(s.Data, hex[m.Rule+":"+s.ID])))
			}
			got[m.Rule] = lines
		}
		w := want[filepath.Base(f)]
		for k := range union(w, got) {
			a, inA := w[k]
			g, inG := got[k]
			compared++
			if inA != inG {
				diffs++
				t.Errorf("%s: rule %s: yara matched=%v, exhunt matched=%v\n%s", filepath.Base(f), k, inA, inG, ruleSource(rules, k))
				continue
			}
			sort.Strings(a)
			sort.Strings(g)
			if strings.Join(a, "\n") != strings.Join(g, "\n") {
				diffs++
				t.Errorf("%s: rule %s differs\n%s%s", filepath.Base(f), k, ruleSource(rules, k), lineDiff(a, g))
			}
		}
		if diffs > 20 {
			t.Fatal("too many differences")
		}
	}
	t.Logf("%d random rules, %d files, %d rule matches compared", len(rules), len(files), compared)
}

func ruleSource(rules []string, name string) string {
	for _, r := range rules {
		if strings.HasPrefix(r, "rule "+name+" ") {
			return "  " + r + "\n"
		}
	}
	return ""
}

// randRule returns a rule with 1-3 random strings and fragments of data
// that match them (or nearly).
func randRule(rng *rand.Rand, i int) (string, [][]byte) {
	var defs []string
	var frags [][]byte
	n := 1 + rng.Intn(3)
	for j := 0; j < n; j++ {
		var def string
		var fr []byte
		switch rng.Intn(3) {
		case 0:
			def, fr = randText(rng)
		case 1:
			def, fr = randHex(rng)
		default:
			def, fr = randRegexString(rng)
		}
		defs = append(defs, fmt.Sprintf("$s%d = %s", j, def))
		frags = append(frags, fr)
	}
	cond := "any of them"
	last := fmt.Sprintf("$s%d", n-1)
	// the rest exercise the scan's gates (see gate.go): conditions that
	// need one string of a set, or a file size, before they can hold
	switch rng.Intn(9) {
	case 1:
		cond = "#s0 >= 2 or any of them"
	case 2:
		cond = "for any i in (1..#s0) : ( @s0[i] > 10 ) or any of them"
	case 3:
		cond = "all of them"
	case 4:
		cond = fmt.Sprintf("filesize < %d and any of them", []int{64, 1024, 100000}[rng.Intn(3)])
	case 5:
		cond = fmt.Sprintf("$s0 and (%s or filesize > 5000) and any of them", last)
	case 6:
		cond = fmt.Sprintf("($s0 or %s) and not filesize > 200000 and any of them", last)
	case 7:
		cond = fmt.Sprintf("2 of them or (%s and 1 of ($s*))", last)
	case 8:
		cond = fmt.Sprintf("any of them and not %s", last)
	}
	return fmt.Sprintf("rule r%d { strings: %s condition: %s }", i, strings.Join(defs, " "), cond), frags
}

const textAlphabet = "abcAB01 _-."

func randWord(rng *rand.Rand, min, max int) []byte {
	n := min + rng.Intn(max-min+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = textAlphabet[rng.Intn(len(textAlphabet))]
	}
	return b
}

func quoteText(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < 32 || c > 126:
			fmt.Fprintf(&s, "\\x%02x", c)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte('"')
	return s.String()
}

func randText(rng *rand.Rand) (string, []byte) {
	w := randWord(rng, 1, 6)
	frag := append([]byte(nil), w...)
	var mods []string
	switch rng.Intn(9) {
	case 0:
		mods = append(mods, "nocase")
		frag = bytes.ToUpper(frag)
	case 6:
		mods = append(mods, "nocase", "wide")
		frag = utf16le(string(bytes.ToUpper(frag)), false)
	case 7:
		mods = append(mods, "xor", "wide")
		frag = utf16le(string(frag), false)
		k := byte(rng.Intn(256))
		for i := range frag {
			frag[i] ^= k
		}
	case 8:
		if len(w) >= 3 {
			mods = append(mods, "base64wide")
			frag = utf16le(base64.StdEncoding.EncodeToString(append(randWord(rng, 0, 2), w...)), false)
		}
	case 1:
		mods = append(mods, "wide")
		if rng.Intn(2) == 0 {
			mods = append(mods, "ascii")
		}
		frag = utf16le(string(frag), false)
	case 2:
		k := rng.Intn(4)
		mods = append(mods, fmt.Sprintf("xor(0-%d)", k))
		for i := range frag {
			frag[i] ^= byte(rng.Intn(k + 1))
		}
	case 3:
		if len(w) >= 3 {
			mods = append(mods, "base64")
			frag = []byte(base64.StdEncoding.EncodeToString(append(randWord(rng, 0, 2), w...)))
		}
	}
	if rng.Intn(4) == 0 && (len(mods) == 0 || mods[0] != "base64") {
		mods = append(mods, "fullword")
	}
	if rng.Intn(8) == 0 {
		mods = append(mods, "private")
	}
	return strings.TrimSpace(quoteText(w) + " " + strings.Join(mods, " ")), frag
}

func randHex(rng *rand.Rand) (string, []byte) {
	var toks []string
	var frag []byte
	bytesTok := func() {
		c := textAlphabet[rng.Intn(len(textAlphabet))]
		switch rng.Intn(5) {
		case 0:
			toks = append(toks, "??")
		case 1:
			toks = append(toks, fmt.Sprintf("%X?", c>>4))
		default:
			toks = append(toks, fmt.Sprintf("%02X", c))
		}
		frag = append(frag, c)
	}
	bytesTok()
	n := 1 + rng.Intn(5)
	jumped := false
	for i := 0; i < n; i++ {
		switch rng.Intn(6) {
		case 0:
			// one jump at most: with several, the length yara reports
			// depends on its atom and search order (see DIFFERENCES)
			if jumped {
				bytesTok()
				continue
			}
			jumped = true
			lo := rng.Intn(3)
			hi := lo + 1 + rng.Intn(4)
			toks = append(toks, fmt.Sprintf("[%d-%d]", lo, hi))
			frag = append(frag, randWord(rng, lo, lo)...)
			bytesTok()
		case 1:
			// branches of one length, for the same reason
			l := 1 + rng.Intn(2)
			a, b := randWord(rng, l, l), randWord(rng, l, l)
			toks = append(toks, fmt.Sprintf("( %X | %X )", a, b))
			frag = append(frag, a...)
		default:
			bytesTok()
		}
	}
	hexs := strings.Join(toks, " ")
	// spaced bytes: "%X" of a slice prints no spaces; add them
	hexs = spaceHex(hexs)
	return "{ " + hexs + " }", frag
}

// spaceHex splits runs of hex digits into bytes.
func spaceHex(s string) string {
	var b strings.Builder
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		isHex := strings.IndexByte("0123456789ABCDEF?", c) >= 0
		inJump := strings.LastIndexByte(s[:i], '[') > strings.LastIndexByte(s[:i], ']')
		if isHex && !inJump {
			if run > 0 && run%2 == 0 {
				b.WriteByte(' ')
			}
			run++
		} else {
			run = 0
		}
		b.WriteByte(c)
	}
	return b.String()
}

func randRegexString(rng *rand.Rand) (string, []byte) {
	var parts []string
	var frag []byte
	n := 1 + rng.Intn(4)
	for i := 0; i < n; i++ {
		c := textAlphabet[rng.Intn(len(textAlphabet))]
		lit := regexpQuote(c)
		switch rng.Intn(10) {
		case 7:
			parts = append(parts, "[^a-c\\x00]")
			frag = append(frag, 'A')
		case 8:
			parts = append(parts, `\b`)
		case 9:
			parts = append(parts, lit+"{2,}")
			frag = append(frag, c, c, c)
		case 0:
			parts = append(parts, "[a-c]")
			frag = append(frag, 'b')
		case 1:
			parts = append(parts, ".")
			frag = append(frag, 'x')
		case 2:
			q := []string{"?", "*", "+", "{1,3}", "{2}", "*?", "+?", "{0,2}?"}[rng.Intn(8)]
			parts = append(parts, lit+q)
			frag = append(frag, c, c)
		case 3:
			a, b := randWord(rng, 2, 2), randWord(rng, 2, 2)
			parts = append(parts, "("+regexpQuoteAll(a)+"|"+regexpQuoteAll(b)+")")
			frag = append(frag, a...)
		case 4:
			parts = append(parts, `\w`)
			frag = append(frag, 'a')
		default:
			parts = append(parts, lit)
			frag = append(frag, c)
		}
	}
	// a literal anchor so yara finds an atom
	w := randWord(rng, 2, 3)
	parts = append([]string{regexpQuoteAll(w)}, parts...)
	frag = append(append([]byte(nil), w...), frag...)
	mods := ""
	switch rng.Intn(5) {
	case 0:
		mods = " nocase"
	case 1:
		mods = " wide ascii"
	case 2:
		mods = " fullword"
	}
	flags := []string{"", "i", "s"}[rng.Intn(3)]
	return "/" + strings.Join(parts, "") + "/" + flags + mods, frag
}

func regexpQuote(c byte) string {
	if strings.IndexByte(`\.+*?()|[]{}^$/`, c) >= 0 {
		return `\` + string(c)
	}
	return string(c)
}

func regexpQuoteAll(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		s.WriteString(regexpQuote(c))
	}
	return s.String()
}
