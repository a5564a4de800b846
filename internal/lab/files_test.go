package lab

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// isLogRel reports the files of the tree the log hunt reads (Exchange's
// Logging folder, IIS's log folders, event logs), as opposed to the files
// the file hunt reads.
func isLogRel(rel string) bool {
	return strings.Contains(rel, "/Logging/") || strings.Contains(rel, "/inetpub/logs/") || strings.HasSuffix(rel, ".evtx")
}

// webRoots maps the web roots the lab plants in to the URL paths IIS
// serves them at.
var webRoots = map[string]string{frontEnd + "/": "/", "C/inetpub/wwwroot/": "/"}

// shellAnswers re-derives the requests the planted web shells answered:
// every front-end IIS line for a shell's URL with a 2xx status. The shells
// are the scripts the truth reports in a web root.
func shellAnswers(files []*logFileInfo, st ServerTruth) []string {
	shells := map[string]bool{}
	for _, f := range st.Findings {
		if f.Rule != ruleFileScript {
			continue
		}
		rel := strings.TrimPrefix(f.File, st.Name+"/")
		for root, u := range webRoots {
			if rest, ok := strings.CutPrefix(rel, root); ok {
				shells[strings.ToLower(u+rest)] = true
			}
		}
	}
	var out []string
	for _, fi := range files {
		if fi.kind != kIIS {
			continue
		}
		for _, r := range fi.rows {
			stem, err := url.PathUnescape(r.f["cs-uri-stem"])
			if err != nil {
				stem = r.f["cs-uri-stem"]
			}
			if shells[strings.ToLower(stem)] && strings.HasPrefix(r.f["sc-status"], "2") {
				out = append(out, findingKey(r.rel, r.line, ruleShellAnswered, "execution"))
			}
		}
	}
	return out
}

// exchangeAuthPages are the pages Exchange ships in owa\auth and ecp\auth.
var exchangeAuthPages = []string{"logon.aspx", "logoff.aspx", "errorfe.aspx", "expiredpassword.aspx", "frowny.aspx",
	"outlookcn.aspx", "redirsuiteserviceproxy.aspx", "signout.aspx", "timeoutlogoff.aspx"}

// TestPlantedFiles checks the files the scenarios leave: each file finding
// of the truth names a file that exists, dated by the log line that wrote
// it, with the content its rules are about; every server has Exchange's
// own web files; and the servers without a web shell have no page the
// file hunt could mistake for one.
func TestPlantedFiles(t *testing.T) {
	dir, truth := tree(t)
	for _, st := range truth.Servers {
		t.Run(st.Scenario, func(t *testing.T) {
			srv := filepath.Join(dir, st.Name)
			for _, p := range []string{frontEnd + "/owa/auth/logon.aspx", frontEnd + "/ecp/auth/TimeoutLogoff.aspx",
				"C/inetpub/wwwroot/web.config", "C/Windows/System32/inetsrv/config/applicationHost.config"} {
				if _, err := os.Stat(filepath.Join(srv, filepath.FromSlash(p))); err != nil {
					t.Errorf("base file: %v", err)
				}
			}
			planted := map[string]bool{}
			for _, f := range st.Findings {
				if isLogRel(f.File) {
					continue
				}
				planted[f.File] = true
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.File)))
				if err != nil {
					t.Errorf("%s: %v", f.Rule, err)
					continue
				}
				var need []byte
				switch f.Rule {
				case ruleFileScript:
					need = []byte(`eval(Request["`)
				case ruleFileLsass, lsassYara:
					need = []byte("MDMP")
				case ruleFileArchive:
					need = []byte("PK\x03\x04")
				case ruleMsert:
					lines := bytes.Split(data, []byte("\n"))
					if f.Line < 1 || int(f.Line) > len(lines) || !bytes.Contains(lines[f.Line-1], []byte("Threat Detected")) {
						t.Errorf("%s:%d is not a detection", f.File, f.Line)
					}
				}
				if !bytes.Contains(data, need) {
					t.Errorf("%s: %s file lacks %q", f.File, f.Rule, need)
				}
			}
			// the shells are dated by the log lines that wrote them
			for _, f := range st.Findings {
				var wrote string
				switch {
				case strings.HasSuffix(f.File, ".evtx"):
					continue
				case f.Rule == "cve-2021-26858-oab-path":
					wrote = "owa/auth/"
				case f.Rule == "proxyshell-mailbox-export":
					wrote = "aspnet_client/"
				default:
					continue
				}
				var shell string
				for p := range planted {
					if strings.Contains(p, wrote) && strings.HasSuffix(p, ".aspx") {
						shell = p
					}
				}
				info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(shell)))
				if err != nil {
					t.Fatalf("no shell for %s: %v", f.Rule, err)
				}
				line := lineTime(t, serverFiles(t, st.Name), f.File, f.Line)
				if d := info.ModTime().Sub(line); d < 0 || d > time.Minute {
					t.Errorf("%s modified %v, %s line at %v", shell, info.ModTime(), f.Rule, line)
				}
			}
			if len(planted) > 0 && st.Scenario != "proxylogon-full" && st.Scenario != "proxyshell" {
				for p := range planted {
					if !strings.HasSuffix(p, "FrameworkConfig.zip") {
						t.Errorf("%s plants %s", st.Scenario, p)
					}
				}
			}
			// no stray pages: only Exchange's own in the auth folders,
			// none in aspnet_client, but for the planted shells
			for _, d := range []string{frontEnd + "/owa/auth", frontEnd + "/ecp/auth", "C/inetpub/wwwroot/aspnet_client"} {
				filepath.WalkDir(filepath.Join(srv, filepath.FromSlash(d)), func(p string, e os.DirEntry, err error) error {
					if err != nil || e.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(dir, p)
					rel = filepath.ToSlash(rel)
					name := strings.ToLower(e.Name())
					script := strings.HasSuffix(name, ".aspx") || strings.HasSuffix(name, ".ashx") || strings.HasSuffix(name, ".asmx")
					top := filepath.Dir(p) == filepath.Join(srv, filepath.FromSlash(d))
					if script && !planted[rel] && !(top && slices.Contains(exchangeAuthPages, name) && !strings.Contains(d, "aspnet_client")) {
						t.Errorf("stray page %s", rel)
					}
					return nil
				})
			}
		})
	}
}

// lineTime is the time of a data line of the tree.
func lineTime(t *testing.T, files []*logFileInfo, rel string, line int64) time.Time {
	t.Helper()
	for _, fi := range files {
		if fi.rel != rel {
			continue
		}
		for _, r := range fi.rows {
			if r.line == line {
				return r.time
			}
		}
	}
	t.Fatalf("%s:%d not found", rel, line)
	return time.Time{}
}
