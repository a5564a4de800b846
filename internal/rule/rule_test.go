package rule

import (
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

type rec map[string]string

func (r rec) Field(n string) (string, bool) {
	v, ok := r[strings.ToLower(n)]
	return v, ok
}
func (r rec) Raw() string { return r["_raw"] }

const base = `id: test-rule
title: t
description: d
stage: attempt
severity: high
logsource: [iis]
references: [x]
`

func compile(t *testing.T, y string, env *Env) *Compiled {
	t.Helper()
	r, err := Parse([]byte(base + y))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Validate("test-rule.yaml"); err != nil {
		t.Fatal(err)
	}
	c, err := r.Compile(env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDetection(t *testing.T) {
	env := &Env{Lists: map[string][]string{"ips": {"198.51.100.7"}}}
	c := compile(t, `
detection:
  post:
    cs-method: POST
  js:
    cs-uri-stem|re|i: '^/ecp/[a-z0-9]{1,4}\.js$'
  ua:
    cs-user-agent|contains: ['python-requests', 'antSword']
  anon:
    cs-username: null
  ip:
    c-ip|list: ips
  net:
    c-ip|cidr: 203.0.113.0/24
  all:
    cs-uri-query|contains|all: ['Reset', 'VirtualDirectory']
  glob:
    cs-uri-stem: '/owa/auth/*.as?x'
  big:
    time-taken|gte: 1000
  condition: (post and js and not anon) or 1 of ip* or net or all or glob or big or (ua and anon)
`, env)
	cases := []struct {
		name string
		r    rec
		want bool
	}{
		{"post js user", rec{"cs-method": "POST", "cs-uri-stem": "/ECP/y.js", "cs-username": "bob"}, true},
		{"post js anonymous", rec{"cs-method": "POST", "cs-uri-stem": "/ecp/y.js", "cs-username": ""}, false},
		{"get js", rec{"cs-method": "GET", "cs-uri-stem": "/ecp/y.js", "cs-username": "bob"}, false},
		{"long js name", rec{"cs-method": "POST", "cs-uri-stem": "/ecp/abcde.js", "cs-username": "bob"}, false},
		{"listed ip", rec{"c-ip": "198.51.100.7"}, true},
		{"cidr", rec{"c-ip": "203.0.113.200"}, true},
		{"cidr outside", rec{"c-ip": "203.0.114.1"}, false},
		{"all values", rec{"cs-uri-query": "schema=ResetOABVirtualDirectory"}, true},
		{"one of all", rec{"cs-uri-query": "schema=Reset"}, false},
		{"glob", rec{"cs-uri-stem": "/OWA/auth/shell.ASPX"}, true},
		{"glob ? needs one char", rec{"cs-uri-stem": "/owa/auth/shell.asx"}, false},
		{"numeric", rec{"time-taken": "1500"}, true},
		{"numeric below", rec{"time-taken": "999"}, false},
		{"ua case-insensitive, field missing counts as null", rec{"cs-user-agent": "Python-Requests/2.25.1"}, true},
		{"nothing", rec{}, false},
	}
	for _, tc := range cases {
		if got := c.Match(tc.r); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOutcomes(t *testing.T) {
	c := compile(t, `
detection:
  sel:
    AnchorMailbox|startswith: 'ServerInfo~'
  localhost:
    AnchorMailbox|startswith: 'ServerInfo~localhost'
  fail:
    HttpStatus|re: '^[45]'
  condition: sel
outcomes:
  - when: localhost
    label: probe
    stage: reconnaissance
    severity: low
  - when: fail
    label: failed
    stage: attempt
extract:
  - name: mailbox
    field: AnchorMailbox
    regex: '(?i)Mailbox=([^&]+@[^&#]+)'
`, nil)
	for _, tc := range []struct {
		r     rec
		stage finding.Stage
		sev   finding.Severity
		label string
	}{
		{rec{"anchormailbox": "ServerInfo~localhost/ecp/default.flt?", "httpstatus": "200"}, finding.StageReconnaissance, finding.SeverityLow, "probe"},
		{rec{"anchormailbox": "ServerInfo~a]@x:444/mapi/emsmdb", "httpstatus": "500"}, finding.StageAttempt, finding.SeverityHigh, "failed"},
		{rec{"anchormailbox": "ServerInfo~a]@x:444/mapi/emsmdb", "httpstatus": "200"}, finding.StageAttempt, finding.SeverityHigh, ""},
	} {
		st, sev, label := c.Classify(tc.r)
		if st != tc.stage || sev != tc.sev || label != tc.label {
			t.Errorf("%v: got %s %s %q, want %s %s %q", tc.r, st, sev, label, tc.stage, tc.sev, tc.label)
		}
	}
	if m := c.Extracted(rec{"anchormailbox": "ServerInfo~a]@x/mapi/emsmdb?Mailbox=ceo@contoso.com#"}, "mailbox"); m != "ceo@contoso.com" {
		t.Errorf("extract: %q", m)
	}
}

func TestKeywords(t *testing.T) {
	c := compile(t, `
detection:
  kw:
    - 'Download failed and temporary file'
  condition: kw
`, nil)
	if !c.Match(rec{"_raw": "x DOWNLOAD FAILED AND TEMPORARY FILE y"}) || c.Match(rec{"_raw": "download ok"}) {
		t.Fatal("keyword search")
	}
}

func TestInvalidRules(t *testing.T) {
	for name, y := range map[string]string{
		"unknown key":         "detection: {a: {x: 1}, condition: a}\nbogus: 1\n",
		"unknown selection":   "detection: {a: {x: 1}, condition: b}\n",
		"unbalanced":          "detection: {a: {x: 1}, condition: (a}\n",
		"bad modifier":        "detection: {a: {x|sideways: 1}, condition: a}\n",
		"bad regex":           "detection: {a: {x|re: '('}, condition: a}\n",
		"undefined list":      "detection: {a: {x|list: nope}, condition: a}\n",
		"aggregation":         "detection: {a: {x: 1}, condition: a | count() > 5}\n",
		"no condition":        "detection: {a: {x: 1}}\n",
		"bad outcome stage":   "detection: {a: {x: 1}, condition: a}\noutcomes: [{when: a, label: l, stage: pwned}]\n",
		"outcome unknown sel": "detection: {a: {x: 1}, condition: a}\noutcomes: [{when: zz, label: l, stage: attempt}]\n",
		"deep nesting":        "detection: {a: {x: 1}, condition: " + strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100) + "}\n",
	} {
		r, err := Parse([]byte(base + y))
		if err == nil {
			err = r.Validate("test-rule.yaml")
		}
		if err == nil {
			_, err = r.Compile(&Env{})
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r, _ := Parse([]byte(strings.Replace(base, "id: test-rule", "id: Bad_ID", 1) + "detection: {a: {x: 1}, condition: a}\n"))
	if err := r.Validate("other.yaml"); err == nil || !strings.Contains(err.Error(), "file name") {
		t.Errorf("id checks: %v", err)
	}
}

func FuzzRule(f *testing.F) {
	f.Add([]byte(base+"detection: {a: {x|contains: 'y*z?'}, condition: a or not a}\n"), "Y123Z!")
	f.Add([]byte(base+"detection: {a: [{x: 1}, {y|re: 'a+'}], b: [k1, k2], condition: 1 of them}\n"), "aa")
	f.Fuzz(func(t *testing.T, y []byte, v string) {
		r, err := Parse(y)
		if err != nil {
			return
		}
		_ = r.Validate("x.yaml")
		c, err := r.Compile(&Env{Lists: map[string][]string{"l": {"a"}}})
		if err != nil {
			return
		}
		rr := rec{"x": v, "y": v, "_raw": v}
		c.Match(rr)
		c.Classify(rr)
	})
}
