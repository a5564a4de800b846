package scan

import "github.com/exhunt/exhunt/internal/exchange"

// Data is the reference data a scan needs, given to New by the caller
// (the command line loads it through the catalog, the one reader of the
// shipped rules and data).
type Data struct {
	Builds *exchange.Table
	// Shells are URL paths such as /owa/auth/shel.aspx: the web-shell paths
	// of Microsoft's IOC feed and the known shell names in the campaign's
	// web folders.
	Shells []string
}
