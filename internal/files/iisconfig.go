package files

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// configIssue is something in an IIS configuration file that makes the
// server run attacker files.
type configIssue struct {
	line int64
	kind string // "vdir" or "handler"
	what string // the element, for the report
	path string // the physical path or handled extension
}

// maxConfigIssues bounds the issues kept from one file.
const maxConfigIssues = 100

// parseIISConfig reads applicationHost.config or a web.config and reports:
//
//   - virtual directories and applications served from folders attackers
//     stage files in (ProgramData, Users, Windows\Temp, C:\root, the root
//     of a drive): ProxyShell-era intrusions added such directories
//     (signature-base's APT_IIS_Config_ProxyShell_Artifacts);
//   - handlers and build providers that run files of another extension as
//     ASP.NET pages, which lets a shell hide as an image or a log.
//
// It streams the XML, so memory stays bounded; a file that is not
// well-formed XML yields what was read before the error and a gap.
func parseIISConfig(data []byte) ([]configIssue, []LineGap) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var issues []configIssue
	var stack []string
	for {
		tok, err := d.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return issues, nil
			}
			line, _ := d.InputPos()
			return issues, []LineGap{{Line: int64(line), Reason: "configuration is not well-formed XML: " + err.Error()}}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := d.InputPos()
			if len(issues) < maxConfigIssues {
				if is, ok := checkElement(t, stack); ok {
					is.line = int64(line)
					issues = append(issues, is)
				}
			}
			if len(stack) < 256 {
				stack = append(stack, strings.ToLower(t.Name.Local))
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if strings.EqualFold(a.Name.Local, name) {
			return a.Value
		}
	}
	return ""
}

func checkElement(t xml.StartElement, stack []string) (configIssue, bool) {
	name := strings.ToLower(t.Name.Local)
	parent := ""
	if len(stack) > 0 {
		parent = stack[len(stack)-1]
	}
	switch {
	case name == "virtualdirectory" || name == "application":
		p := attr(t, "physicalPath")
		if p != "" && stagingFolder(p) {
			return configIssue{kind: "vdir", what: name + ` path="` + attr(t, "path") + `"`, path: p}, true
		}
	case name == "add" && (parent == "handlers" || parent == "httphandlers"):
		typ, hname, p := attr(t, "type"), attr(t, "name"), attr(t, "path")
		if (containsFold(typ, "PageHandlerFactory") || containsFold(hname, "PageHandlerFactory")) && !strings.EqualFold(p, "*.aspx") {
			return configIssue{kind: "handler", what: parent + ` add name="` + hname + `"`, path: p}, true
		}
	case name == "add" && parent == "buildproviders":
		typ, ext := attr(t, "type"), attr(t, "extension")
		if containsFold(typ, "PageBuildProvider") && !strings.EqualFold(ext, ".aspx") {
			return configIssue{kind: "handler", what: `buildProviders add extension="` + ext + `"`, path: ext}, true
		}
	}
	return configIssue{}, false
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// stagingFolder reports physical paths in folders where files are staged,
// not served: ProgramData, user profiles, temp folders, C:\root and the
// root of a drive.
func stagingFolder(p string) bool {
	l := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(p, "/", `\`)))
	for _, v := range []string{"%systemdrive%", "%programdata%", "%windir%", "%systemroot%", "%public%", "%temp%", "%tmp%"} {
		if strings.HasPrefix(l, v) {
			l = map[string]string{
				"%systemdrive%": "c:", "%programdata%": `c:\programdata`, "%windir%": `c:\windows`,
				"%systemroot%": `c:\windows`, "%public%": `c:\users\public`, "%temp%": `c:\windows\temp`, "%tmp%": `c:\windows\temp`,
			}[v] + l[len(v):]
			break
		}
	}
	l = strings.TrimRight(l, `\`)
	if len(l) == 2 && l[1] == ':' {
		return true // a whole drive
	}
	if len(l) < 3 || l[1] != ':' || l[2] != '\\' {
		return false
	}
	rest := l[3:]
	for _, s := range []string{`programdata`, `users`, `windows\temp`, `root`, `perflogs`, `$recycle.bin`} {
		if rest == s || strings.HasPrefix(rest, s+`\`) {
			return true
		}
	}
	return false
}

// configFinding reports one issue of an IIS configuration file.
func (s *Scanner) configFinding(c *check, is configIssue) {
	fields := map[string]string{"element": is.what, "config_line": strconv.FormatInt(is.line, 10)}
	var fd *finding.Finding
	switch is.kind {
	case "vdir":
		fields["physical_path"] = is.path
		fd = c.add("iis-config-staging-vdir", "IIS serves a virtual directory from a staging folder", finding.StagePersistence,
			finding.SeverityHigh, fields)
	default:
		fields["handled"] = is.path
		fd = c.add("iis-config-page-handler", "IIS runs files of another extension as ASP.NET pages", finding.StagePersistence,
			finding.SeverityHigh, fields)
	}
	fd.Source.Line = is.line
}
