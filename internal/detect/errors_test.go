package detect

import (
	"errors"
	"strings"
	"testing"
)

// Compile errors carry the line of the rule file at fault, and a regular
// expression is either compiled, unsupported (a PCRE feature RE2 lacks) or
// broken: a broken one must never pass for unsupported, which callers may
// skip.
func TestCompileErrors(t *testing.T) {
	deep := strings.Repeat("(", 3000) + "a" + strings.Repeat(")", 3000)
	for _, tc := range []struct {
		name, det   string
		dialect     Dialect
		line        int
		unsupported bool
		reason      string
	}{
		{"bad re", "sel:\n  x|re: 'a(b'\ncondition: sel\n", Sigma, 2, false, "missing closing )"},
		{"bad re exhunt", "sel:\n  x|re: 'a(b'\ncondition: sel\n", Exhunt, 2, false, "missing closing )"},
		{"deep re", "sel:\n  x|re: '" + deep + "'\ncondition: sel\n", Sigma, 2, false, "nests 3000 deep"},
		{"deep re exhunt", "sel:\n  x|re: '" + deep + "'\ncondition: sel\n", Exhunt, 2, false, "nests 3000 deep"},
		{"undefined name", "sel:\n  x: a\ncondition: sel or other\n", Sigma, 3, false, `unknown selection "other"`},
		{"deep condition", "sel:\n  x: a\ncondition: " + strings.Repeat("(", 3000) + "sel" + strings.Repeat(")", 3000) + "\n", Sigma, 3, false, "nests deeper"},
		{"look-behind", "sel:\n  x|re: '(?<=a)b'\ncondition: sel\n", Sigma, 2, true, "regular expression"},
		{"look-ahead", "sel:\n  x|re: 'a(?!b)'\ncondition: sel\n", Sigma, 2, true, "regular expression"},
		{"back reference", "sel:\n  x|re: '(a)\\1'\ncondition: sel\n", Sigma, 2, true, "regular expression"},
		{"possessive", "sel:\n  x|re: 'a++'\ncondition: sel\n", Sigma, 2, true, "regular expression"},
		{"bad modifier", "sel:\n  x|sideways: a\ncondition: sel\n", Sigma, 2, false, "sideways"},
	} {
		_, err := Compile(detection(t, tc.det), &Env{Dialect: tc.dialect})
		if err == nil {
			t.Errorf("%s: compiled", tc.name)
			continue
		}
		if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
			t.Errorf("%s: unsupported %v, want %v: %v", tc.name, got, tc.unsupported, err)
		}
		if Line(err) != tc.line || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: line %d %q, want line %d and %q", tc.name, Line(err), err, tc.line, tc.reason)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: error of %d bytes", tc.name, len(err.Error()))
		}
	}
}

func TestRegexpDepth(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want int
	}{
		{"abc", 0}, {"(a(b))", 2}, {`\(\(a`, 0}, {"[(]a", 0}, {"[]()]", 0}, {"[^]((]", 0}, {"(a)(b)", 1}, {"(?:(a|(b)))", 3},
	} {
		if got := regexpDepth(tc.expr); got != tc.want {
			t.Errorf("regexpDepth(%q) = %d, want %d", tc.expr, got, tc.want)
		}
	}
}

func FuzzCompile(f *testing.F) {
	f.Add("sel:\n  x|re: 'a(b)'\n  y|contains|all: [a, b]\ncondition: sel and not 1 of s*\ns1: [kw]\n", "xab", true)
	f.Add("sel:\n  x|windash|base64offset: '-a'\ncondition: all of them\n", "LWE", false)
	f.Fuzz(func(t *testing.T, y string, v string, sigma bool) {
		d, err := parseDetection(y)
		if err != nil {
			return
		}
		env := &Env{Lists: map[string][]string{"l": {"a"}}}
		if sigma {
			env.Dialect = Sigma
		}
		det, err := Compile(d, env)
		if err != nil {
			return
		}
		det.Match(rec{"x": v, "y": v, "_raw": v})
		det.Literals()
	})
}
