package evidence

import (
	"path/filepath"
	"strings"
)

// class is what a file's path says about it.
type class struct {
	kind Kind
	sub  string
	// prefix is how many leading components of the path below the hunted
	// root form the server root, collection noise stripped.
	prefix int
	// rootInside is true when the hunted root itself is a marker folder
	// (V15, Logging, inetpub...) or lies inside the log tree: the root's name
	// then says nothing about the server.
	rootInside bool
	// path is the Windows path of a host file or msert log (see winPath).
	path string
}

// classify recognises a log file from its path. anc are the components of
// the hunted root (its absolute path for a folder, the zip's name without
// ".zip" for a zip), rel the components below it, the file name last.
//
// The kind is decided on anc+rel, so that a root pointing inside the log tree
// (".../Logging/HttpProxy") still works. The server root is searched only in
// the root's own name and rel: markers above the hunted root must not merge
// every server found in it.
func classify(anc, rel []string) (class, bool) {
	var c class
	if len(rel) == 0 {
		return c, false
	}
	var ok bool
	if isLogName(rel[len(rel)-1]) {
		all := make([]string, 0, len(anc)+len(rel))
		all = append(append(all, anc...), rel...)
		c.kind, c.sub, ok = kindOf(all)
	}
	if !ok {
		// Not a log: maybe a file the file hunt reads (a .log in a web
		// folder, like the campaign's google.log, included).
		var start int
		if c.kind, c.sub, start, ok = hostFileOf(anc, rel); !ok {
			return c, false
		}
		all := make([]string, 0, len(anc)+len(rel))
		all = append(append(all, anc...), rel...)
		c.path = winPath(all, start)
	}

	// Marker search over the root's name (if any) and the folders of rel.
	dirs := rel[:len(rel)-1]
	base := 0
	if len(anc) > 0 {
		dirs = append([]string{anc[len(anc)-1]}, dirs...)
		base = 1
	}
	m := firstMarker(dirs)
	if m < 0 && c.path == "" && c.kind != EVTX {
		m = looseMarker(dirs)
	}
	if m < 0 && c.kind == EVTX && len(rel) >= 2 {
		// Event logs are often collected loose, one folder per server:
		// the first folder below the root names the server.
		m = base + 1
	}
	if m < base {
		// No marker below the root (the root is inside the log tree) or the
		// root is the marker itself.
		c.rootInside = true
		return c, true
	}
	p := m - base
	for p > 0 && isNoise(rel[p-1]) {
		p--
	}
	c.prefix = p
	return c, true
}

// elem is all[i], or "" above the path's first element.
func elem(all []string, i int) string {
	if i < 0 {
		return ""
	}
	return all[i]
}

// kindOf matches the well-known log folders, nearest to the file first.
func kindOf(all []string) (Kind, string, bool) {
	n := len(all)
	at := func(i int) string { return elem(all, i) }
	file := all[n-1]
	if f := strings.TrimSuffix(file, ".gz"); isEvtxName(f) || isEvtxName(strings.TrimSuffix(file, ".GZ")) {
		f = f[:len(f)-len(".evtx")]
		return EVTX, f, true
	}
	switch {
	case eq(at(n-4), "logging") && eq(at(n-3), "httpproxy") && hasPrefixFold(file, "httpproxy_"):
		return HTTPProxy, at(n - 2), true
	case eq(at(n-4), "logging") && eq(at(n-3), "ecp") && eq(at(n-2), "server"):
		return ECPServer, "", true
	case eq(at(n-4), "logging") && eq(at(n-3), "ecp") && eq(at(n-2), "activity"):
		return ECPActivity, "", true
	case eq(at(n-3), "logging") && eq(at(n-2), "ews"):
		return EWS, "", true
	case eq(at(n-3), "logfiles") && isW3SVC(at(n-2)):
		return IIS, strings.ToUpper(at(n - 2)), true
	}
	// Recursive folders: the nearest one above the file decides.
	for i := n - 2; i >= 1; i-- {
		if !eq(all[i-1], "logging") {
			continue
		}
		switch {
		case eq(all[i], "oabgeneratorlog"):
			return OABGen, "", true
		case eq(all[i], "cmdletinfra") && hasPrefixFold(file, "rps_http"):
			return RpsHTTP, "", true
		case eq(all[i], "cmdletinfra") && hasPrefixFold(file, "rps_cmdlet"):
			return RpsCmdlet, "", true
		}
	}
	return looseKind(all)
}

// looseKind matches log folders copied on their own, without the Logging
// or LogFiles folder above them: W3SVC1/, HttpProxy/<protocol>/,
// ECP/Server/, Ews/, CmdletInfra/..., OABGeneratorLog/. Where the folder
// name is common (Ews) the file name must be Exchange's too.
func looseKind(all []string) (Kind, string, bool) {
	n := len(all)
	at := func(i int) string { return elem(all, i) }
	file := all[n-1]
	switch {
	case isW3SVC(at(n - 2)):
		return IIS, strings.ToUpper(at(n - 2)), true
	case eq(at(n-3), "httpproxy") && hasPrefixFold(file, "httpproxy_"):
		return HTTPProxy, at(n - 2), true
	case eq(at(n-3), "ecp") && eq(at(n-2), "server"):
		return ECPServer, "", true
	case eq(at(n-3), "ecp") && eq(at(n-2), "activity"):
		return ECPActivity, "", true
	case eq(at(n-2), "ews") && hasPrefixFold(file, "ews_"):
		return EWS, "", true
	}
	for i := n - 2; i >= 0; i-- {
		switch {
		case eq(all[i], "oabgeneratorlog"):
			return OABGen, "", true
		case eq(all[i], "cmdletinfra") && hasPrefixFold(file, "rps_http"):
			return RpsHTTP, "", true
		case eq(all[i], "cmdletinfra") && hasPrefixFold(file, "rps_cmdlet"):
			return RpsCmdlet, "", true
		}
	}
	return "", "", false
}

// looseMarker returns the index of the outermost log folder copied without
// its parents (see looseKind), or -1: the folder above it is the server's.
func looseMarker(dirs []string) int {
	for i, d := range dirs {
		next := ""
		if i+1 < len(dirs) {
			next = dirs[i+1]
		}
		switch {
		case isW3SVC(d), eq(d, "httpproxy"), eq(d, "cmdletinfra"), eq(d, "oabgeneratorlog"), eq(d, "ews"):
			return i
		case eq(d, "ecp") && (eq(next, "server") || eq(next, "activity")):
			return i
		}
	}
	return -1
}

// Layouts names the folder layouts exhunt recognises, for the message
// given when a path holds none of them.
var Layouts = []string{
	`an Exchange install or a copy of one: …\Exchange Server\V15\Logging\{HttpProxy,ECP,Ews,CmdletInfra,OABGeneratorLog}\…, inetpub\logs\LogFiles\W3SVC1`,
	`a triage collection holding such paths (KAPE, Velociraptor uploads, C\, C%3A\…)`,
	`log folders copied on their own: W3SVC1\u_ex*.log, HttpProxy\<protocol>\HttpProxy_*.LOG, ECP\Server\, Ews\Ews_*.LOG, CmdletInfra\…\Rps_*.LOG, OABGeneratorLog\`,
	`Windows event logs (*.evtx), loose or in one folder per server`,
	`a folder with one sub-folder per server holding any of these, or a .zip of any of these`,
}

// kindFromName guesses the kind of a log given on its own, without its
// folders, from Exchange's and IIS's file naming.
func kindFromName(name string) (Kind, bool) {
	for _, k := range []struct {
		prefix string
		kind   Kind
	}{
		{"httpproxy_", HTTPProxy},
		{"ecpserver", ECPServer},
		{"ecpactivity", ECPActivity},
		{"rps_http", RpsHTTP},
		{"rps_cmdlet", RpsCmdlet},
		{"ews_", EWS},
		{"u_ex", IIS},
	} {
		if hasPrefixFold(name, k.prefix) {
			return k.kind, true
		}
	}
	return "", false
}

// firstMarker returns the index of the outermost folder that starts an
// Exchange install or IIS log path, or -1.
func firstMarker(dirs []string) int {
	for i, d := range dirs {
		next := ""
		if i+1 < len(dirs) {
			next = dirs[i+1]
		}
		switch {
		case eq(d, "program files"), eq(d, "program files (x86)"), eq(d, "exchange server"), eq(d, "inetpub"),
			eq(d, "programdata"), eq(d, "temporary asp.net files"):
			return i
		case eq(d, "windows") && eqAny(next, windowsMarkers):
			return i
		case eq(d, "users") && eq(next, "public"):
			return i
		case eq(d, "root") && i > 0 && isDrive(dirs[i-1]):
			return i
		case (eq(d, "v15") || eq(d, "exchange")) && (eq(next, "logging") || eq(next, "frontend") || eq(next, "clientaccess")):
			// V15, or a custom install folder such as D:\Exchange
			return i
		case eq(d, "frontend") && eq(next, "httpproxy"):
			return i
		case eq(d, "logging") && isLogFolder(next):
			return i
		case eq(d, "logfiles") && isW3SVC(next):
			return i
		}
	}
	return -1
}

// windowsMarkers are the folders below Windows that hold evidence.
var windowsMarkers = []string{"system32", "temp", "debug", "microsoft.net", "syswow64"}

func isLogFolder(s string) bool {
	return eq(s, "httpproxy") || eq(s, "ecp") || eq(s, "oabgeneratorlog") || eq(s, "cmdletinfra") || eq(s, "ews")
}

// isW3SVC matches an IIS site log folder: W3SVC followed by the site id.
func isW3SVC(s string) bool {
	if len(s) <= 5 || len(s) > 5+10 || !hasPrefixFold(s, "w3svc") {
		return false
	}
	for i := 5; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isNoise reports folder names that triage tools put between a server's
// folder and the drive's content: drive letters in their various spellings
// (C, C:, C$, C%3A, c_drive, Velociraptor's %5C%5C.%5CC%3A) and the
// Velociraptor/KAPE layout folders (uploads/auto/C%3A, uploads/ntfs/...).
func isNoise(s string) bool {
	if eqAny(s, noiseNames) {
		return true
	}
	return isDrive(s)
}

var (
	noiseNames   = []string{"uploads", "auto", "ntfs", "mft", "file", "fs"}
	genericNames = []string{".", "..", "/", "v15", "exchange server", "logging", "logfiles", "inetpub", "logs",
		"evidence", "collection", "program files", "program files (x86)", "microsoft",
		"programdata", "windows", "users", "wwwroot", "frontend", "clientaccess", "exchange"}
)

// isGeneric reports names that do not name a server: the install and log
// folders themselves and the usual names of evidence folders.
func isGeneric(s string) bool {
	return s == "" || eqAny(s, genericNames) || isNoise(s)
}

// serverName names the server whose root is prefix (components below the
// hunted root). anc are the hunted root's components; only the last
// non-noise one is considered (its parents are the analyst's folders).
func serverName(c class, prefix, anc []string) string {
	if len(prefix) > 0 {
		if n := prefix[len(prefix)-1]; !isGeneric(n) {
			return n
		}
		return ""
	}
	if c.rootInside {
		return ""
	}
	for i := len(anc) - 1; i >= 0; i-- {
		if isNoise(anc[i]) {
			continue
		}
		if isGeneric(anc[i]) {
			return ""
		}
		return anc[i]
	}
	return ""
}

// isLogName accepts "*.log" and "*.log.gz" in any case.
func isLogName(name string) bool {
	if isGzName(name) {
		name = name[:len(name)-3]
	}
	return len(name) > 4 && hasSuffixFold(name, ".log") || isEvtxName(name)
}

// isEvtxName matches Windows event log files; they are never gzipped by
// Windows, and a .evtx.gz is read like any other gzip.
func isEvtxName(name string) bool { return len(name) > 5 && hasSuffixFold(name, ".evtx") }

func isGzName(name string) bool  { return hasSuffixFold(name, ".gz") }
func isZipName(name string) bool { return hasSuffixFold(name, ".zip") }

// splitPath splits an OS path into its components, dropping the empty ones
// (so "/case/SRV1" and "C:\case\SRV1" both give named components).
func splitPath(p string) []string {
	return splitSlash(filepath.ToSlash(p))
}

func splitSlash(p string) []string {
	var out []string
	for c := range strings.SplitSeq(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// eq compares ASCII case-insensitively. Windows folds more than ASCII, but
// every name we look for is ASCII, and Unicode folding would let "ſ" match
// "s" in attacker-chosen names.
func eq(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func eqAny(s string, list []string) bool {
	for _, l := range list {
		if eq(s, l) {
			return true
		}
	}
	return false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if hasPrefixFold(s, prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && eq(s[:len(prefix)], prefix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && eq(s[len(s)-len(suffix):], suffix)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isLetter(c byte) bool { return 'a' <= lower(c) && lower(c) <= 'z' }
