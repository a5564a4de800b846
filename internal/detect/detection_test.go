package detect

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func detection(t *testing.T, y string) map[string]yaml.Node {
	t.Helper()
	d, err := parseDetection(y)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func parseDetection(y string) (map[string]yaml.Node, error) {
	var d map[string]yaml.Node
	err := yaml.Unmarshal([]byte(y), &d)
	return d, err
}

// valuesRec is a record whose keyword searches look at each value.
type valuesRec map[string]string

func (r valuesRec) Field(n string) (string, bool) { v, ok := r[n]; return v, ok }
func (r valuesRec) Raw() string                   { return "<Event>...</Event>" }
func (r valuesRec) Values() []string {
	var vs []string
	for _, v := range r {
		vs = append(vs, v)
	}
	return vs
}

func TestCompileDetectionDialects(t *testing.T) {
	d := detection(t, "sel: {x|exists: true}\ncondition: sel\n")
	exhunt, err := Compile(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigma, err := Compile(d, &Env{Dialect: Sigma})
	if err != nil {
		t.Fatal(err)
	}
	empty := rec{"x": ""}
	if exhunt.Match(empty) || !sigma.Match(empty) {
		t.Error("exists: exhunt wants a value, Sigma only the field")
	}
	if got := sigma.Selections(); len(got) != 1 || got[0] != "sel" {
		t.Errorf("Selections = %v", got)
	}

	d = detection(t, "kw: ['evil']\ncondition: kw\n")
	kw, err := Compile(d, &Env{Dialect: Sigma})
	if err != nil {
		t.Fatal(err)
	}
	if !kw.Match(valuesRec{"a": "x EVIL y"}) || kw.Match(valuesRec{"a": "good"}) || !kw.Match(rec{"_raw": "evil"}) {
		t.Error("keywords search each value of a Valuer, else Raw")
	}

	for _, dialect := range []*Env{nil, {Dialect: Sigma}} {
		_, err := Compile(detection(t, "sel: {x: 1}\ncondition: sel | count() > 3\n"), dialect)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("aggregation (sigma %v): %v", dialect != nil, err)
		}
	}
	if _, err := Compile(detection(t, "sel: {x|windash: a}\ncondition: sel\n"), nil); err == nil {
		t.Error("Sigma-only modifiers are not exhunt's")
	}
	if _, err := Compile(detection(t, "sel: {x|list: a}\ncondition: sel\n"), &Env{Dialect: Sigma, Lists: map[string][]string{"a": {"b"}}}); err == nil {
		t.Error("exhunt's list modifier is not Sigma's")
	}
}

func TestSigmaBudget(t *testing.T) {
	// 6 windash positions before base64offset: 5^6 = 15625 spellings.
	d := detection(t, "sel: {x|windash|base64offset|contains: '-a -b -c -d -e -f'}\ncondition: sel\n")
	if _, err := Compile(d, &Env{Dialect: Sigma}); err == nil {
		t.Error("a value expanding past the bound is accepted")
	}
	// 5^5*3 = 9375 forms each: the detection's bound stops the list.
	y := "sel:\n  x|windash|base64offset|contains:\n"
	for range 20 {
		y += "    - '-a -b -c -d -e'\n"
	}
	if _, err := Compile(detection(t, y+"condition: sel\n"), &Env{Dialect: Sigma}); err == nil {
		t.Error("a detection expanding past the bound is accepted")
	}
}

// A contains/startswith value that ends in a backslash keeps it literal
// rather than escaping the wildcard the modifier adds.
func TestTrailingBackslash(t *testing.T) {
	for _, tc := range []struct {
		mod, value, field string
		want              bool
	}{
		{"contains", `\inetpub\wwwroot\`, `makecab C:\inetpub\wwwroot\aspnet_client\x.zip`, true},
		{"contains", `\inetpub\wwwroot\`, `C:\inetpub\wwwroot`, false},
		{"startswith", `C:\ProgramData\`, `C:\ProgramData\pst\a.pst`, true},
		{"startswith", `C:\ProgramData\`, `C:\ProgramData`, false},
		{"contains", `a\\`, `xa\y`, true},
	} {
		d, err := Compile(detection(t, "sel:\n  f|"+tc.mod+": '"+tc.value+"'\ncondition: sel\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Match(rec{"f": tc.field}); got != tc.want {
			t.Errorf("f|%s %q on %q: %v, want %v", tc.mod, tc.value, tc.field, got, tc.want)
		}
	}
}

// Case-insensitive globs fold ASCII values in place and lower others;
// both paths must agree with a plain lower-case comparison.
func TestGlobFolding(t *testing.T) {
	for _, tc := range []struct {
		pattern, value string
		want           bool
	}{
		{`*\w3wp.exe`, `C:\Windows\System32\INETSRV\W3WP.EXE`, true},
		{`*comsvcs*minidump*`, `rundll32 C:\windows\System32\COMSVCS.dll, MiniDump 6 x full`, true},
		{`*comsvcs*minidump*`, `rundll32 minidump comsvcs`, false},
		{`c:\programdata\pst*`, `C:\ProgramData\pst\a.pst`, true},
		{`*ä*`, `xÄy`, true},
		{`?at`, `BAT`, true},
		{`?at`, `BATS`, false},
		{`*?x`, `aX`, true},
		{`*Kelvin*`, `kelvin`, true},
		{`a*b*c`, `AxxBxxC`, true},
		{`a*b*c`, `AxxCxxB`, false},
	} {
		g := newGlob(tc.pattern, false)
		if got := g.match(tc.value); got != tc.want {
			t.Errorf("%q on %q: %v, want %v", tc.pattern, tc.value, got, tc.want)
		}
	}
}
