package yara

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSyntaxErrorsNameFileAndLine(t *testing.T) {
	src := `rule good1 { condition: true }

rule bad {
  strings:
    $a = "unterminated
  condition:
    $a
}

rule good2 { strings: $b = "x" condition: $b }
rule bad2 { condition: 1 + }
rule good3 { condition: filesize > 0 }
`
	c := NewCompiler()
	probs := c.Add("rules/bad.yar", []byte(src))
	if len(probs) != 2 {
		t.Fatalf("want 2 problems, got %v", probs)
	}
	if probs[0].File != "rules/bad.yar" || probs[0].Line != 5 || !strings.Contains(probs[0].Reason, "unterminated string") {
		t.Errorf("first problem: %+v", probs[0])
	}
	if probs[1].Line != 11 || !strings.Contains(probs[1].Reason, "syntax error") {
		t.Errorf("second problem: %+v", probs[1])
	}
	if s := probs[0].String(); !strings.HasPrefix(s, "rules/bad.yar:5: ") {
		t.Errorf("String() = %q", s)
	}
	// a second file still loads
	if p := c.Add("other.yar", []byte(`rule other { condition: true }`)); len(p) != 0 {
		t.Fatalf("other.yar: %v", p)
	}
	r, _ := c.Rules()
	got := matched(t, r, "x", nil)
	for _, want := range []string{"good1", "good2", "good3", "other"} {
		if !got[want] {
			t.Errorf("rule %s did not load or match: %v", want, got)
		}
	}
	if got["bad"] || got["bad2"] {
		t.Errorf("broken rules matched: %v", got)
	}
}

func TestSkippedRules(t *testing.T) {
	src := `import "pe"
import "math"
rule uses_pe { condition: pe.is_dll() }
rule uses_math { strings: $a = "x" condition: $a and math.count(0x0A) < 2 } rule math_string_form { condition: math.entropy("abc") > 1.0 }
rule uses_entrypoint { strings: $a = { E8 00 00 00 00 } condition: $a at entrypoint }
rule backref { strings: $a = /(ab)\1/ condition: $a }
rule depends { condition: uses_pe or true }
rule unref { strings: $a = "x" $b = "y" condition: $a }
rule undefined_ident { condition: nosuchvar == 1 }
rule bad_mods { strings: $a = "abc" xor nocase condition: $a }
rule hex_nocase { strings: $a = { 41 42 } nocase condition: $a }
rule mixed_types { condition: "a" == 1 }
rule ok { strings: $a = "x" condition: $a }
include "other.yar"
`
	c := NewCompiler()
	probs := c.Add("mod.yar", []byte(src))
	reasons := map[string]string{}
	for _, p := range probs {
		if p.Skipped {
			reasons[p.Rule] = p.Reason
		}
	}
	want := map[string]string{
		"uses_pe":          `module "pe" is not supported`,
		"uses_math":        `module "math" is not supported (uses math.count())`,
		"math_string_form": "math.entropy takes 2 arguments",
		"uses_entrypoint":  "entrypoint is not supported",
		"backref":          "backreferences are not allowed",
		"depends":          "depends on skipped rule uses_pe",
		"unref":            "unreferenced string $b",
		"undefined_ident":  `undefined identifier "nosuchvar"`,
		"bad_mods":         "xor nocase",
		"hex_nocase":       "hex strings take only the private modifier",
		"mixed_types":      "type mismatch",
	}
	for rule, frag := range want {
		if !strings.Contains(reasons[rule], frag) {
			t.Errorf("rule %s: reason %q, want it to contain %q", rule, reasons[rule], frag)
		}
	}
	include := false
	for _, p := range probs {
		if strings.Contains(p.Reason, "include") && p.Line == 14 && !p.Skipped {
			include = true
		}
	}
	if !include {
		t.Errorf("include not reported: %v", probs)
	}
	r, _ := c.Rules()
	if got := matched(t, r, "x", nil); !got["ok"] || len(got) != 1 {
		t.Errorf("matched %v, want only ok", got)
	}
}

func TestConditions(t *testing.T) {
	data := "MZ\x90\x00 hello world hello HELLO\x00h\x00e\x00l\x00l\x00o\x00 end"
	cases := []struct {
		cond string
		want bool
	}{
		{`$h`, true},
		{`#h == 2`, true},
		{`#h in (0..10) == 1`, true},
		{`@h[1] == 5 and @h[2] == 17 and @h == 5`, true},
		{`!h[1] == 5`, true},
		{`@h[3] == 0`, false},
		{`not (@h[3] == 0)`, false}, // undefined stays undefined under not
		{`@h[3] == 0 or true`, true},
		{`$h at 5 and not $h at 6`, true},
		{`$h in (6..17) and not $h in (18..100)`, true},
		{`$hn`, true},
		{`#hn == 3`, true},
		{`$hw`, true},
		{`all of ($h*)`, true}, {`all of them`, false},
		{`2 of ($h*)`, true},
		{`3 of ($h*)`, true},
		{`none of ($h, $hw)`, false},
		{`for any of ($h, $hw) : ( $ at 5 )`, true},
		{`for all of ($h*) : ( # >= 1 )`, true},
		{`for all i in (1..#h) : ( @h[i] >= 4 )`, true},
		{`for any i in (1..#hn) : ( !hn[i] == 5 and @hn[i] == 23 )`, true},
		{`for 2 i in (5, 17, 99) : ( $h at i )`, true},
		{`for all i in (1..0) : ( true )`, false},
		{`uint16(0) == 0x5a4d and uint16be(0) == 0x4d5a and uint8(2) == 0x90 and int8(2) == -112`, true},
		{`uint32(filesize - 3) == 0`, false},
		{`not defined uint32(filesize - 3)`, true},
		{`filesize == 43`, true},
		{`filesize < 1KB and 2MB == 2097152`, true},
		{`1 + 2 * 3 == 7 and (1 + 2) * 3 == 9 and 7 \ 2 == 3 and 7 % 4 == 3 and -7 \ 2 == -3`, true},
		{`0x10 | 0x01 == 0x11 and 6 & 3 == 2 and 6 ^ 3 == 5 and ~0 == -1 and 1 << 3 == 8 and -16 >> 2 == -4`, true},
		{`1 << 64 == 0`, true},
		{`filesize \ (filesize - 43) == 0`, false},
		{`1.5 < 2 and 2.0 == 2`, true},
		{`"abc" contains "b" and "abc" startswith "a" and "abc" endswith "c"`, true},
		{`"ABC" iequals "abc" and "xABCx" icontains "abc" and "ABC" istartswith "a" and "ABC" iendswith "bc"`, true},
		{`"abc" matches /^A.C$/i and not ("abc" matches /^b/)`, true},
		{`50% of ($h, $hw, $nope)`, true},
		{`67% of ($h, $hw, $nope)`, false},
		{`any of them in (0..3)`, false},
		{`true and not false or false`, true},
		{`defined filesize`, true},
	}
	for _, tc := range cases {
		src := fmt.Sprintf(`rule t { strings: $h = "hello" $hn = "hello" nocase $hw = "hello" wide $nope = "zzz" condition: (%s) or ($h and $hn and $hw and $nope and false) }`, tc.cond)
		r := mustCompile(t, src)
		if got := matched(t, r, data, nil)["t"]; got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func TestExternals(t *testing.T) {
	c := NewCompiler()
	c.DefineString("filename", "default.txt")
	c.DefineInt("limit", 10)
	c.DefineBool("strict", true)
	c.Add("x.yar", []byte(`
rule name_default { condition: filename == "default.txt" }
rule name_aspx { condition: filename iendswith ".ASPX" }
rule ints { condition: limit == 10 and strict }
`))
	r, probs := c.Rules()
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if got := matched(t, r, "", nil); !got["name_default"] || !got["ints"] || got["name_aspx"] {
		t.Errorf("defaults: %v", got)
	}
	if got := matched(t, r, "", map[string]string{"filename": "Shell.aspx"}); got["name_default"] || !got["name_aspx"] {
		t.Errorf("per file: %v", got)
	}
}

func TestMatchDataAndMeta(t *testing.T) {
	r := mustCompile(t, `rule m : t1 t2 { meta: a = "x" b = 5 c = true d = -2 strings: $s = "hello" $p = "world" private condition: $s and $p }`)
	ms, err := r.Scan([]byte("hello world"), nil)
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v %v", ms, err)
	}
	m := ms[0]
	if m.Namespace != "default" || strings.Join(m.Tags, ",") != "t1,t2" {
		t.Errorf("match: %+v", m)
	}
	if m.Meta["a"] != "x" || m.Meta["b"] != int64(5) || m.Meta["c"] != true || m.Meta["d"] != int64(-2) {
		t.Errorf("meta: %v", m.Meta)
	}
	if len(m.Strings) != 1 || m.Strings[0].ID != "$s" || string(m.Strings[0].Data) != "hello" || m.Strings[0].Length != 5 {
		t.Errorf("strings (private ones must not show): %+v", m.Strings)
	}
}

// regexMatches scans data with one regular expression string and returns
// "offset:data" of its matches.
func regexMatches(t *testing.T, re, mods, data string) []string {
	t.Helper()
	r := mustCompile(t, fmt.Sprintf("rule r { strings: $a = %s %s condition: $a }", re, mods))
	ms, err := r.Scan([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		for _, s := range m.Strings {
			out = append(out, fmt.Sprintf("%d:%s", s.Offset, s.Data))
		}
	}
	return out
}

// The expectations below were taken from yara 4.2.3.
func TestRegexSemantics(t *testing.T) {
	cases := []struct{ re, mods, data, want string }{
		{`/b+/`, "", "abbb a b", "1:bbb 2:bb 3:b 7:b"},
		{`/a.*b/`, "", "abbb a b b xyzb\na", "0:abbb a b b xyzb 5:a b b xyzb"},
		{`/a.*?bc/`, "", "a bc bc", "0:a bc"},
		{`/(a|ab)(c|bcd)/`, "", "abcd", "0:abcd"},
		{`/q[0-9]{2,8}/`, "", "q123456789", "0:q12345678"},
		{`/q[0-9]{2,8}?/`, "", "q123456789", "0:q12"},
		{`/k.{0,6}z/`, "", "kzzzzzzzzz", "0:kzzzzzzz"},
		{`/x[^\n]{1,5}b/`, "", "xyzb\nxb", "0:xyzb"},
		{`/a{,3}b/`, "", "aaaab", "1:aaab 2:aab 3:ab 4:b"},
		{`{ 61 [1-5] 62 }`, "", "abbb", "0:abb"},
		{`{ 61 [-] 62 }`, "", "a\n\nb", "0:a\n\nb"},
		{`/\bfoo\b/`, "", "foo foobar _foo foo", "0:foo 16:foo"},
		{`/^ab/`, "", "abab", "0:ab"},
		{`/ab$/`, "", "abab", "2:ab"},
		{`/abc/`, "nocase", "ABC aBc", "0:ABC 4:aBc"},
		{`/ab/`, "wide", "a\x00b\x00", "0:a\x00b\x00"},
		{`/fo+/`, "fullword", "foo fooo xfoo foo_", "0:foo 4:fooo 14:foo"}, // _ is no alphanumeric for fullword
		{`/[\x41-\x43]+/`, "", "xABCDx", "1:ABC 2:BC 3:C"},
		{`/\d\s\w\W/`, "", "1 a!", "0:1 a!"},
		{`/a.b/s`, "", "a\nb", "0:a\nb"},
		{`/a.b/`, "", "a\nb", ""},
		{`/\xe9t\xe9/`, "", "\xe9t\xe9", "0:\xe9t\xe9"},
	}
	for _, tc := range cases {
		got := strings.Join(regexMatches(t, tc.re, tc.mods, tc.data), " ")
		if got != tc.want {
			t.Errorf("%s %s on %q: got %q, want %q", tc.re, tc.mods, tc.data, got, tc.want)
		}
	}
}

func TestStringModifiers(t *testing.T) {
	cases := []struct{ def, data, want string }{
		{`"aa"`, "aaaa", "0:aa 1:aa 2:aa"},
		{`"Hi" xor`, "Hi Ih", "0:Hi 3:Ih"},
		{`"hello" xor(7)`, "hello obkkh", "6:obkkh"},
		{`"ab" wide ascii`, "ab a\x00b\x00", "0:ab 3:a\x00b\x00"},
		{`"ab" ascii wide nocase`, "AB A\x00b\x00", "0:AB 3:A\x00b\x00"},
		{`"This program cannot" base64`, "VGhpcyBwcm9ncmFtIGNhbm5vdA==", "0:VGhpcyBwcm9ncmFtIGNhbm5vd"},
		{`"abc" fullword`, "abc abcd xabc (abc)", "0:abc 15:abc"},
		{`"\x00\x01\xff"`, "x\x00\x01\xffx", "1:\x00\x01\xff"},
	}
	for _, tc := range cases {
		got := strings.Join(regexMatches(t, tc.def, "", tc.data), " ")
		if got != tc.want {
			t.Errorf("%s on %q: got %q, want %q", tc.def, tc.data, got, tc.want)
		}
	}
}

func TestHexStrings(t *testing.T) {
	cases := []struct{ hex, data, want string }{
		{`{ 41 ?? 43 }`, "ABC AxC", "0:ABC 4:AxC"},
		{`{ 4? ?2 }`, "AB\x4f\x52", "0:AB 2:\x4f\x52"},
		{`{ 41 [2] 44 }`, "ABCD", "0:ABCD"},
		{`{ 41 ( 42 | 43 44 ) 45 }`, "ABE ACDE AXE", "0:ABE 4:ACDE"},
		{`{ 41 ( 42 ( 43 | 44 ) | 45 ) 46 }`, "ABCF ABDF AEF", "0:ABCF 5:ABDF 10:AEF"},
		{`{ 41 [300-] 42 }`, "A" + strings.Repeat("x", 400) + "B", "0:A" + strings.Repeat("x", 400) + "B"},
		{`{ 41 [300-] 42 }`, "A" + strings.Repeat("x", 200) + "B", ""},
	}
	for _, tc := range cases {
		got := strings.Join(regexMatches(t, tc.hex, "", tc.data), " ")
		if len(got) > 600 || len(tc.want) > 600 {
			if len(got) != len(tc.want) && !(len(got) == 516 && len(tc.want) > 516) {
				// data is capped at 512 bytes
				if !strings.HasPrefix(tc.want, got[:min(len(got), len(tc.want))]) {
					t.Errorf("%s: got %.40q, want %.40q", tc.hex, got, tc.want)
				}
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s on %q: got %q, want %q", tc.hex, tc.data, got, tc.want)
		}
	}
}

func TestFixedOffsetString(t *testing.T) {
	// YARA only looks for a string at C when "$a at C" is its only use.
	r := mustCompile(t, `rule a { strings: $m = "MARK" condition: $m at 0 }
rule b { strings: $m = "MARK" condition: $m at 0 and #m == 3 }`)
	ms, _ := r.Scan([]byte("MARK x MARK y MARK"), nil)
	if len(ms) != 2 || len(ms[0].Strings) != 1 || len(ms[1].Strings) != 3 {
		t.Fatalf("%v", ms)
	}
}

// TestPathologicalRegexIsBounded: patterns that backtrack badly stop at
// their step budget, deterministically, and say so.
func TestPathologicalRegexIsBounded(t *testing.T) {
	r := mustCompile(t, `rule p { strings:
  $a = /(a|a)*b/
  $b = /(a*)*c/
  $c = /(.*)*x/
  $d = /(a|aa)+$/
  $e = /[^\n]{0,2000}q[^\n]{0,2000}z/
 condition: any of them }`)
	data := bytes.Repeat([]byte("a"), 300000)
	for i := 1000; i < len(data); i += 1000 {
		data[i] = 'q'
	}
	var info ScanInfo
	ms, err := r.ScanWithOptions(data, nil, ScanOptions{StepBudget: 1 << 20, Info: &info})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.SlowStrings, "p:$e") || len(ms) != 0 {
		t.Errorf("slow strings %v, matches %v", info.SlowStrings, ms)
	}
	// the default budget ends too
	if _, err := r.Scan(data, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoopBudget(t *testing.T) {
	r := mustCompile(t, `rule l { condition: for all i in (0..0x7fffffffffffffff) : ( true ) }
rule ok { condition: true }`)
	var info ScanInfo
	ms, err := r.ScanWithOptions([]byte("x"), nil, ScanOptions{Info: &info})
	if err != nil || len(ms) != 1 || ms[0].Rule != "ok" || !info.LoopBudgetExceeded {
		t.Fatalf("%v %v %+v", ms, err, info)
	}
}

func TestMatchCap(t *testing.T) {
	r := mustCompile(t, `rule c { strings: $a = "a" condition: #a >= 10 }`)
	var info ScanInfo
	ms, err := r.ScanWithOptions(bytes.Repeat([]byte("a"), 1000), nil, ScanOptions{MaxMatchesPerString: 10, Info: &info})
	if err != nil || len(ms) != 1 || !ms[0].Truncated || len(ms[0].Strings) != 10 {
		t.Fatalf("%v %v", ms, err)
	}
	if len(info.TruncatedStrings) != 1 || info.TruncatedStrings[0] != "c:$a" {
		t.Errorf("info: %+v", info)
	}
}

// TestScanReaderWindows checks that windowed scanning reports what a whole
// scan does for matches shorter than half the overlap.
func TestScanReaderWindows(t *testing.T) {
	r := mustCompile(t, `
rule lit { strings: $a = "needle" $b = "NEEDLE" nocase wide $c = "xor-key" xor condition: any of them }
rule hex { strings: $a = { 4E 45 [2-6] 44 } condition: $a }
rule re { strings: $a = /needle[0-9]{1,40}x/ condition: $a }
rule chain { strings: $a = { F0 F1 [-] F2 F3 } condition: $a }
rule pos { condition: uint32(0) == 0x464c457f and filesize > 100KB }
`)
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 3<<20)
	rng.Read(data)
	copy(data, "\x7fELF")
	plant := func(off int, s string) { copy(data[off:], s) }
	for i := 0; i < 300; i++ {
		off := rng.Intn(len(data) - 100)
		switch i % 5 {
		case 0:
			plant(off, "needle")
		case 1:
			plant(off, string(utf16le("NeEdLe", false)))
		case 2:
			plant(off, "needle"+strings.Repeat("7", rng.Intn(40))+"x")
		case 3:
			plant(off, "NE\x00\x00\x00D")
		case 4:
			x := []byte("xor-key")
			for j := range x {
				x[j] ^= 0x5a
			}
			plant(off, string(x))
		}
	}
	plant(100, "\xf0\xf1")
	plant(2<<20+5, "\xf2\xf3")
	want, err := r.Scan(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var info ScanInfo
	got, err := r.ScanReader(bytes.NewReader(data), int64(len(data)), nil, ScanOptions{MaxBuffer: 256 << 10, Overlap: 64 << 10, Info: &info})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Streamed || info.Windows < 10 {
		t.Errorf("info: %+v", info)
	}
	if a, b := fmt.Sprint(want), fmt.Sprint(got); a != b {
		t.Errorf("windowed scan differs:\nwhole: %.500s\nwindows: %.500s", a, b)
	}
	// a small file goes through the whole-buffer path
	small := data[:1000]
	w2, _ := r.Scan(small, nil)
	g2, _ := r.ScanReader(bytes.NewReader(small), -1, nil, ScanOptions{})
	if fmt.Sprint(w2) != fmt.Sprint(g2) {
		t.Errorf("small file differs")
	}
}

func TestConcurrentScans(t *testing.T) {
	r := mustCompile(t, `rule a { strings: $a = "hello" $b = /wor+ld/ condition: $a and $b }`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				data := []byte(fmt.Sprintf("%d hello worrrld %d", g, i))
				ms, err := r.Scan(data, nil)
				if err != nil || len(ms) != 1 || len(ms[0].Strings) != 2 {
					t.Errorf("scan %d/%d: %v %v", g, i, ms, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestStatsFallback(t *testing.T) {
	r := mustCompile(t, `rule noatom { strings: $a = /[a-z]{3}[0-9]/ condition: $a }
rule atom { strings: $a = "fixed" condition: $a }`)
	st := r.Stats()
	if len(st.FallbackRules) != 1 || st.FallbackRules[0] != "noatom" || st.Rules != 2 || st.States == 0 {
		t.Errorf("stats: %+v", st)
	}
	if got := strings.Join(regexMatches(t, `/[a-z]{3}[0-9]/`, "", "xx abc1 zzz9"), " "); got != "3:abc1 8:zzz9" {
		t.Errorf("fallback scan: %q", got)
	}
}

func TestGlobalAndPrivateRules(t *testing.T) {
	r := mustCompile(t, `global rule small { condition: filesize < 10 }
private rule p { strings: $a = "x" condition: $a }
rule uses { condition: p }`)
	if got := matched(t, r, "x", nil); !got["small"] || !got["uses"] || got["p"] {
		t.Errorf("small file: %v", got)
	}
	if got := matched(t, r, "x0123456789", nil); len(got) != 0 {
		t.Errorf("big file: %v", got)
	}
}
