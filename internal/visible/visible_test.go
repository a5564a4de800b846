package visible

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"EXCH01":                           "EXCH01",
		`C:\inetpub\wwwroot\aspnet_client`: `C:\inetpub\wwwroot\aspnet_client`,
		"a\x1b[31mb\x07":                   `a\x1b[31mb\x07`,
		"title\x1b]0;pwned\x07":            `title\x1b]0;pwned\x07`,
		"cr\rover":                         `cr\x0dover`,
		"nul\x00byte":                      `nul\x00byte`,
		"tab\tnl\n":                        `tab\x09nl\x0a`,
		"del\x7f":                          `del\x7f`,
		"c1\u0085\u009b":                   `c1\u0085\u009b`,
		"\u202egpj.exe":                    `\u202egpj.exe`,
		"zero\u200bwidth\ufeff":            `zero\u200bwidth\ufeff`,
		"ls\u2028ps\u2029":                 `ls\u2028ps\u2029`,
		"tag\U000e0041":                    `tag\U000e0041`,
		"bad\xffutf8":                      "bad\ufffdutf8",
		"ünïcödé ok — 日本":                  "ünïcödé ok — 日本",
		`<script>alert(1)</script>`:        `<script>alert(1)</script>`,
		"=cmd|' /C calc'!A0":               "=cmd|' /C calc'!A0",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRuneStart(t *testing.T) {
	s := strings.Repeat("é", 3)
	if got := RuneStart(s, 3); got != 2 {
		t.Errorf("RuneStart in a character: %d", got)
	}
	if got := RuneStart(s, 100); got != len(s) {
		t.Errorf("RuneStart past the end: %d", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("a\x1b[31m\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		for _, c := range out {
			if Hidden(c) {
				t.Fatalf("String(%q) = %q keeps a hidden character %U", s, out, c)
			}
		}
	})
}
