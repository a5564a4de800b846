package scan

import (
	"bytes"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/literal"
)

// LogonInfo is what an OWA logon page says about the server.
type LogonInfo struct {
	// Markers counts the Exchange-specific features found (page comment,
	// scripts, texts, titles, versioned resource paths); two or more make
	// it an Exchange logon page, as Greenbone's detection requires.
	Markers int
	// Build is from the resource paths: three parts on 2013 and later
	// (/owa/auth/15.1.2176/themes/...), four on 2010 (/owa/14.3.123.4/...).
	Build    exchange.Build
	HasBuild bool
	// Path is the resource path the build was read from.
	Path string
}

var logonMarkers = [][]byte{
	[]byte("OwaPage = ASP.auth_logon_aspx"),
	[]byte("IsOwaPremiumBrowser"),
	[]byte("browser settings must allow scripts to run"),
	[]byte("<title>Outlook"),
	[]byte("<title>Microsoft Exchange - Outlook Web Access</title>"),
	[]byte(`class="signInHeader">Outlook`),
	[]byte("Microsoft Corporation. All rights reserved"),
}

// ParseLogon reads a logon page. It never fails: an unrelated page gives
// no markers.
func ParseLogon(body []byte) LogonInfo {
	var li LogonInfo
	for _, m := range logonMarkers {
		if bytes.Contains(body, m) {
			li.Markers++
		}
	}
	rest := body
	for {
		i := bytes.Index(rest, []byte("/owa/"))
		if i < 0 {
			break
		}
		rest = rest[i+len("/owa/"):]
		seg := rest
		seg = bytes.TrimPrefix(seg, []byte("auth/"))
		j := 0
		for j < len(seg) && j < 32 && (seg[j] >= '0' && seg[j] <= '9' || seg[j] == '.') {
			j++
		}
		if j == 0 || j >= len(seg) || seg[j] != '/' {
			continue
		}
		tail := seg[j+1:]
		if !bytes.HasPrefix(tail, []byte("themes/")) && !bytes.HasPrefix(tail, []byte("scripts/")) {
			continue
		}
		b, ok := exchange.ParseBuild(string(seg[:j]))
		if !ok || b.Major < 6 || b.Major > 99 {
			continue
		}
		li.Build, li.HasBuild = b, true
		li.Path = "/owa/" + string(rest[:len(rest)-len(tail)])
		li.Markers++
		break
	}
	return li
}

// ParseManifest reads the build from the export tool's ClickOnce
// manifest (<assemblyIdentity ... version="15.2.986.5" ...>).
func ParseManifest(body []byte) (exchange.Build, bool) {
	if !bytes.Contains(body, []byte("microsoft.exchange.ediscovery.exporttool")) {
		return exchange.Build{}, false
	}
	rest := body
	for {
		i := bytes.Index(rest, []byte("<assemblyIdentity"))
		if i < 0 {
			return exchange.Build{}, false
		}
		rest = rest[i:]
		end := bytes.IndexByte(rest, '>')
		if end < 0 {
			return exchange.Build{}, false
		}
		tag := rest[:end]
		rest = rest[end:]
		j := bytes.Index(tag, []byte(` version="`))
		if j < 0 {
			continue
		}
		v := tag[j+len(` version="`):]
		k := bytes.IndexByte(v, '"')
		if k < 0 || k > 32 {
			continue
		}
		if b, ok := ParseOWAVersion(string(v[:k])); ok {
			return b, true
		}
	}
}

// ParseOWAVersion reads an X-OWA-Version value: a four-part build of a
// known Exchange major version (14 or 15).
func ParseOWAVersion(v string) (exchange.Build, bool) {
	v = strings.TrimSpace(v)
	if len(v) > 32 {
		return exchange.Build{}, false
	}
	b, ok := exchange.ParseBuild(v)
	if !ok || b.Rev < 0 || b.Major < 8 || b.Major > 15 {
		return exchange.Build{}, false
	}
	return b, true
}

// owaErrorVersion reads the owaVer parameter of an OWA error redirect
// (…/errorFE.aspx?…&owaVer=15.1.2176.2&…), which names the full build.
func owaErrorVersion(loc string) (exchange.Build, bool) {
	i := literal.IndexFold(loc, "owaver=")
	if i < 0 {
		return exchange.Build{}, false
	}
	v := loc[i+len("owaver="):]
	if j := strings.IndexByte(v, '&'); j >= 0 {
		v = v[:j]
	}
	return ParseOWAVersion(v)
}
