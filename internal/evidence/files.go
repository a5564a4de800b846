package evidence

import (
	"strings"
)

// Kinds of files read whole by the file hunt, rather than line by line.
const (
	// HostFile is a file in a place attackers write to: the Exchange and IIS
	// web roots, Temporary ASP.NET Files, ProgramData, Windows\Temp, C:\root,
	// C:\Users\Public, and IIS's applicationHost.config. Sub is the location
	// (Loc* below).
	HostFile Kind = "file"
	// Msert is a Microsoft Safety Scanner log, Windows\debug\msert*.log.
	Msert Kind = "msert"
)

// Locations of host files: File.Sub of a HostFile.
const (
	LocFrontEnd     = "exchange-frontend"     // <install>\FrontEnd\HttpProxy\**: owa, ecp, oab... as served by the front end
	LocClientAccess = "exchange-clientaccess" // <install>\ClientAccess\**: the back-end web applications
	LocWWWRoot      = "inetpub-wwwroot"       // inetpub\wwwroot\**, aspnet_client included
	LocASPNetTemp   = "aspnet-temp"           // Temporary ASP.NET Files\**: pages compiled by ASP.NET
	LocIISConfig    = "iis-config"            // applicationHost.config
	LocProgramData  = "programdata"           // ProgramData\**: staging archives
	LocWindowsTemp  = "windows-temp"          // Windows\Temp\**: LSASS dumps, scripts
	LocRoot         = "root"                  // <drive>\root\**: where HAFNIUM left LSASS dumps
	LocUsersPublic  = "users-public"          // Users\Public\**: dropped tools
)

// hostFileOf recognises a file the file hunt reads from where it sits: anc
// are the hunted root's components, rel the path below it. It returns the
// kind, the location, and the index in anc+rel where the Windows path of
// the file starts (the drive-level folder, or the first folder of the
// location when its drive-level parents are not in the path).
func hostFileOf(anc, rel []string) (kind Kind, loc string, start int, ok bool) {
	all := make([]string, 0, len(anc)+len(rel))
	all = append(append(all, anc...), rel...)
	n := len(all)
	if n == 0 || len(rel) == 0 {
		return "", "", 0, false
	}
	name := all[n-1]
	// Locations may be found in rel and in the root's own path, so that a
	// root pointing into one (…/C/inetpub/wwwroot, a live C:\ProgramData)
	// works; but in the root's path, generic drive-level folders only count
	// when a drive folder precedes them, so that an analyst's own
	// …/ProgramData/cases folder does not make every file evidence.
	first := len(anc) // index in all of rel[0]
	if n >= 3 && eq(all[n-2], "debug") && eq(all[n-3], "windows") && hasPrefixFold(name, "msert") && hasSuffixFold(name, ".log") {
		if n-3 >= first || n-3 > 0 && isDrive(all[n-4]) {
			return Msert, "", n - 3, true
		}
	}
	if eq(name, "applicationhost.config") {
		return HostFile, LocIISConfig, iisConfigStart(all), true
	}
	for i := n - 2; i >= 0; i-- {
		next := ""
		if i+1 < n-1 {
			next = all[i+1]
		}
		prev := ""
		if i > 0 {
			prev = all[i-1]
		}
		inRel := i >= first
		driveLevel := inRel || isDrive(prev)
		switch {
		case eq(all[i], "frontend") && eq(next, "httpproxy"):
			return HostFile, LocFrontEnd, exchangeStart(all, i), true
		case eq(all[i], "clientaccess") && (eq(prev, "v15") || eq(prev, "v14") || hasExchangeAbove(all[:i])):
			return HostFile, LocClientAccess, exchangeStart(all, i), true
		case eq(all[i], "inetpub") && eq(next, "wwwroot"):
			return HostFile, LocWWWRoot, i, true
		case eq(all[i], "temporary asp.net files"):
			return HostFile, LocASPNetTemp, windowsStart(all, i), true
		case eq(all[i], "programdata") && driveLevel:
			return HostFile, LocProgramData, i, true
		case eq(all[i], "windows") && eq(next, "temp") && driveLevel:
			return HostFile, LocWindowsTemp, i, true
		case eq(all[i], "users") && eq(next, "public") && driveLevel:
			return HostFile, LocUsersPublic, i, true
		case eq(all[i], "root") && isDrive(prev):
			return HostFile, LocRoot, i, true
		}
	}
	return "", "", 0, false
}

// hasExchangeAbove reports an Exchange install folder among dirs.
func hasExchangeAbove(dirs []string) bool {
	for _, d := range dirs {
		if eq(d, "exchange server") || eq(d, "exchange") {
			return true
		}
	}
	return false
}

// exchangeStart finds where the Windows path of a file in the install
// folder starts: the Program Files folder above it, else the install's
// own folders (…\Exchange Server\V15 or …\V15).
func exchangeStart(all []string, i int) int {
	best := i
	for j := i - 1; j >= 0; j-- {
		switch {
		case eq(all[j], "program files") || eq(all[j], "program files (x86)"):
			return j
		case eq(all[j], "exchange server") || eq(all[j], "v15") || eq(all[j], "v14"):
			best = j
		case isDrive(all[j]):
			return j + 1
		}
	}
	return best
}

// windowsStart finds the Windows folder above a folder inside it
// (Windows\Microsoft.NET\Framework64\v4.0.30319\Temporary ASP.NET Files).
func windowsStart(all []string, i int) int {
	for j := i - 1; j >= 0 && j >= i-4; j-- {
		if eq(all[j], "windows") {
			return j
		}
	}
	return i
}

// iisConfigStart finds Windows\System32\inetsrv\config above
// applicationHost.config.
func iisConfigStart(all []string) int {
	n := len(all)
	if n >= 5 && eq(all[n-5], "windows") && eq(all[n-4], "system32") && eq(all[n-3], "inetsrv") && eq(all[n-2], "config") {
		return n - 5
	}
	return n - 1
}

// winPath renders the Windows path of a file whose components are all,
// the path proper starting at all[start]: the drive letter comes from the
// drive folder just above it when the collection has one. Without one,
// folders that only exist at the root of a drive get C: (the system
// drive), and anything else is shown from its first known folder as
// "…\Exchange Server\V15\…".
func winPath(all []string, start int) string {
	if start < 0 || start >= len(all) {
		start = max(len(all)-1, 0)
	}
	parts := all[start:]
	var b strings.Builder
	drive := ""
	if start > 0 {
		drive = driveName(all[start-1])
	}
	switch {
	case drive != "":
		b.WriteString(drive)
	case driveLevelFolder(parts[0]):
		b.WriteString("C:")
	default:
		b.WriteString("…")
	}
	for _, p := range parts {
		b.WriteByte('\\')
		b.WriteString(p)
	}
	return b.String()
}

// driveLevelFolder names folders found only at the root of a Windows drive.
func driveLevelFolder(s string) bool {
	return eqAny(s, []string{"program files", "program files (x86)", "inetpub", "programdata", "windows", "users", "root"})
}

// isDrive reports the spellings triage tools give a drive's folder.
func isDrive(s string) bool { return driveName(s) != "" }

// driveName returns "C:" for the drive folder spellings C, C:, C$, C%3A,
// c_drive and Velociraptor's %5C%5C.%5CC%3A, else "".
func driveName(s string) string {
	s, _ = cutPrefixFold(s, `%5c%5c.%5c`)
	if len(s) == 0 || !isLetter(s[0]) {
		return ""
	}
	rest := s[1:]
	if rest == "" || rest == ":" || rest == "$" || eq(rest, "%3a") || eq(rest, "_drive") {
		return string(upper(s[0])) + ":"
	}
	return ""
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// isHostKind reports kinds read as bytes: a .gz among them is a file like
// any other (a staging archive, say), not a rotated log to gunzip.
func isHostKind(k Kind) bool { return k == HostFile || k == Msert }
