package logs

// registry is the explicit list of log kinds exhunt reads and the syntax of
// each. Evidence discovery names the kind from the file's path; this table is
// the one place that says how each kind is parsed.
var registry = map[string]Format{
	"httpproxy":    CSV,
	"ecp-server":   CSV,
	"ecp-activity": CSV,
	"rps-http":     CSV,
	"rps-cmdlet":   CSV,
	"ews":          CSV,
	"iis":          W3C,
	"oabgenerator": Text,
}

// FormatFor returns the syntax of a log kind.
func FormatFor(kind string) (Format, bool) {
	f, ok := registry[kind]
	return f, ok
}

// hostFields name the column that holds the server's own host name.
var hostFields = []string{"ServerHostName", "ServerName", "s-computername"}
