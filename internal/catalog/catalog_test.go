package catalog

import (
	"strings"
	"testing"
)

func TestLoadBuiltin(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) < 15 {
		t.Fatalf("only %d rules", len(c.Rules))
	}
	for _, name := range []string{"attacker-ips", "webshell-names", "webshell-url-paths"} {
		if len(c.Env.Lists[name]) == 0 {
			t.Errorf("list %s is empty", name)
		}
	}
}

func TestFileToURL(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\one.aspx`: "/owa/auth/one.aspx",
		`C:\inetpub\wwwroot\aspnet_client\system_web\log.aspx`:                                "/aspnet_client/system_web/log.aspx",
		`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\OAB\log.aspx`:      "/OAB/log.aspx",
		`C:\inetpub\wwwroot\aspnet_client\google.log`:                                         "",
		`C:\users\public\opera\opera_browser.exe`:                                             "",
	} {
		if got := FileToURL(in); got != want {
			t.Errorf("FileToURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExtraRulesCannotReplaceBuiltin(t *testing.T) {
	dir := t.TempDir()
	data := `id: proxylogon-ecp-js
title: t
description: d
stage: attempt
severity: low
logsource: [iis]
references: [x]
detection: {a: {cs-method: GET}, condition: a}
`
	if err := writeFile(dir+"/proxylogon-ecp-js.yaml", data); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Fatalf("want a clash error, got %v", err)
	}
}

func TestCompactLiteralsCoverEveryLiteral(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range c.Rules {
		compact := c.CompactLiterals(cr)
		if len(compact) > len(c.Literals(cr)) {
			t.Errorf("%s: compact set is larger", cr.Rule.ID)
		}
		// every full literal must contain one compact literal, so the
		// compact prefilter selects every line the full one does
		for _, l := range c.Literals(cr) {
			ok := false
			for _, m := range compact {
				if strings.Contains(strings.ToLower(l), strings.ToLower(m)) {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s: literal %q is covered by no compact literal %q", cr.Rule.ID, l, compact)
			}
		}
	}
	if got := reduceLiterals([]string{"/ecp/default.flt", "/ecp/", "/ECP/", "x"}); strings.Join(got, ",") != "/ecp/,x" {
		t.Errorf("reduceLiterals: %v", got)
	}
}
