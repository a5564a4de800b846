package yara

import (
	"strings"
	"testing"
)

// TestParserRecoveryIsLinear: 50,000 broken rules are each reported and
// skipped, and the rule after them still loads. Recovery that rescanned
// from the start would make this test run for hours, past go test's
// timeout, rather than fail a clock check.
func TestParserRecoveryIsLinear(t *testing.T) {
	src := strings.Repeat("rule broken { condition: ( }\n", 50000) + "rule good { condition: true }\n"
	c := NewCompiler()
	probs := c.Add("many.yar", []byte(src))
	if len(probs) != 50000 || probs[49999].Line != 50000 {
		t.Fatalf("%d problems, last %+v", len(probs), probs[len(probs)-1])
	}
	r, _ := c.Rules()
	if got := matched(t, r, "", nil); !got["good"] {
		t.Errorf("good rule lost: %v", got)
	}
}

func TestParseTokens(t *testing.T) {
	f := parseFile([]byte(`
import "pe"
/* comment */ rule a : t1 t2 { // comment
  meta:
    s = "x\"y" i = 0x10 n = -5 b = false
  strings:
    $h = { 4D 5A /* mz */ [2-4] ( 00 | ?1 ) }
    $r = /a\/b[^\n]{1,3}/is
    $t = "t\x41\\\n" wide ascii nocase fullword private
    $x = "xor" xor(1-3)
    $b = "base64text" base64("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  condition:
    #h in (0..10KB) > 1 and @r[1] == !t[1] and 50% of ($*) and $x at 0x10 + 2
}`))
	if len(f.errs) != 0 {
		t.Fatalf("errors: %v", f.errs[0])
	}
	r := f.rules[0]
	if r.name != "a" || strings.Join(r.tags, " ") != "t1 t2" || len(r.meta) != 4 || len(r.strings) != 5 {
		t.Fatalf("rule: %+v", r)
	}
	if r.meta[0].val != `x"y` || r.meta[1].val != int64(16) || r.meta[2].val != int64(-5) || r.meta[3].val != false {
		t.Errorf("meta: %+v", r.meta)
	}
	h, re, txt, x, b := r.strings[0], r.strings[1], r.strings[2], r.strings[3], r.strings[4]
	if h.kind != skHex || !strings.Contains(h.text, "4D 5A") || strings.Contains(h.text, "mz") {
		t.Errorf("hex: %+v", h)
	}
	if re.kind != skRegex || re.text != `a/b[^\n]{1,3}` || re.flags != "is" {
		t.Errorf("regex: %+v", re)
	}
	if txt.text != "tA\\\n" || !txt.wide || !txt.ascii || !txt.nocase || !txt.fullword || !txt.private {
		t.Errorf("text: %+v", txt)
	}
	if !x.xor || x.xorMin != 1 || x.xorMax != 3 || !b.base64 || len(b.alphabet) != 64 {
		t.Errorf("modifiers: %+v %+v", x, b)
	}
	if r.cond.kind != eBinary || r.cond.op != "and" {
		t.Errorf("condition: %+v", r.cond)
	}
}

func TestSyntaxErrorMessages(t *testing.T) {
	cases := []struct{ src, want string }{
		{"rule a { condition: $a }", "undefined string identifier $a"},
		{"rule a { strings: $a = \"x\" condition: $a and }", "syntax error"},
		{"rule a { strings: $a = \"\\q\" condition: $a }", "illegal escape sequence"},
		{"rule a { strings: $a = { 4G } condition: $a }", "bad byte"},
		{"rule a { strings: $a = { [1] 41 } condition: $a }", "jump at the start or end"},
		{"rule a { strings: $a = { 41 ( 42 | 43 [-] 44 ) 45 } condition: $a }", "unbounded"},
		{"rule a { strings: $a = /a{5,2}/ condition: $a }", "bad repeat interval"},
		{"rule a { strings: $a = /(?:a)/ condition: $a }", "not supported"},
		{"rule a { strings: $a = /a**/ condition: $a }", "repeated quantifier"},
		{"rule a { strings: $a = \"x\" xor(3-1) condition: $a }", "invalid xor range"},
		{"rule a { strings: $a = \"x\" base64(\"short\") condition: $a }", "alphabet must be 64"},
		{"rule a { condition: true }\nrule a { condition: true }", "duplicated rule identifier"},
		{"rule a { strings: $a = \"x\" $a = \"y\" condition: $a }", "duplicated string identifier"},
		{"rule a { condition: 1 + \"x\" == 2 }", "wrong type"},
		{"rule a { condition: /* open", "unterminated comment"},
	}
	for _, tc := range cases {
		probs := NewCompiler().Add("e.yar", []byte(tc.src))
		if len(probs) == 0 || !strings.Contains(probs[len(probs)-1].Reason, tc.want) || probs[0].File != "e.yar" || probs[0].Line < 1 {
			t.Errorf("%s: got %v, want %q", tc.src, probs, tc.want)
		}
	}
}
