package lab

import (
	"fmt"
	"strconv"
	"strings"
)

// build is an Exchange build the scenarios run. The rows are copied from
// shared/data/exchange-builds.csv (a test checks they still agree) so the
// package needs no data file at run time.
type build struct {
	Product string // Exchange 2016
	Update  string // CU19, CU19 Mar21SU
	Version string // 15.1.2176.2
	Fixes   string // the csv's fixes column

	major, minor, number, rev int
}

var builds = []*build{
	{Product: "Exchange 2013", Update: "CU23 Mar21SU", Version: "15.0.1497.12", Fixes: "proxylogon"},
	{Product: "Exchange 2016", Update: "CU18", Version: "15.1.2106.2"},
	{Product: "Exchange 2016", Update: "CU18 Mar21SU", Version: "15.1.2106.13", Fixes: "proxylogon"},
	{Product: "Exchange 2016", Update: "CU19", Version: "15.1.2176.2"},
	{Product: "Exchange 2016", Update: "CU23", Version: "15.1.2507.6", Fixes: "proxylogon;proxyshell"},
	{Product: "Exchange 2019", Update: "CU7", Version: "15.2.721.2"},
	{Product: "Exchange 2019", Update: "CU8 Mar21SU", Version: "15.2.792.10", Fixes: "proxylogon"},
	{Product: "Exchange 2019", Update: "CU9", Version: "15.2.858.5", Fixes: "proxylogon"},
	{Product: "Exchange 2019", Update: "CU11", Version: "15.2.986.5", Fixes: "proxylogon;proxyshell"},
	{Product: "Exchange 2019", Update: "CU12 Nov22SU", Version: "15.2.1118.20", Fixes: "proxylogon;proxyshell;proxynotshell;owassrf"},
}

func init() {
	for _, b := range builds {
		var n [4]int
		parts := strings.Split(b.Version, ".")
		for i := range n {
			v, err := strconv.Atoi(parts[i])
			if err != nil {
				panic("lab: bad build " + b.Version)
			}
			n[i] = v
		}
		b.major, b.minor, b.number, b.rev = n[0], n[1], n[2], n[3]
	}
}

func buildOf(version string) *build {
	for _, b := range builds {
		if b.Version == version {
			return b
		}
	}
	panic("lab: unknown build " + version)
}

// logVersion is the zero-padded form Exchange writes in #Version lines:
// 15.01.2176.002.
func (b *build) logVersion() string {
	return fmt.Sprintf("%d.%02d.%04d.%03d", b.major, b.minor, b.number, b.rev)
}

// targetVersion is the HttpProxy TargetServerVersion form, which carries
// no revision: 15.01.2176.000.
func (b *build) targetVersion() string {
	return fmt.Sprintf("%d.%02d.%04d.000", b.major, b.minor, b.number)
}

// beVersion is the integer in GenericInfo's FEAuth=BEVersion-<n> and in
// ProxyLogon cookies (…~1942062522): 0x70000000 | major<<22 | minor<<16 |
// 0x8000 | build.
func (b *build) beVersion() int {
	return 0x70000000 | b.major<<22 | b.minor<<16 | 0x8000 | b.number
}

// owaFolder is the versioned folder OWA serves static files from:
// /owa/auth/15.1.2176/.
func (b *build) owaFolder() string { return fmt.Sprintf("%d.%d.%d", b.major, b.minor, b.number) }

// iisVersion is the IIS the product's supported Windows ships: Server
// 2012 R2 (8.5) for 2013/2016 in these scenarios, Server 2019 (10.0) for
// Exchange 2019.
func (b *build) iisVersion() string {
	if b.minor >= 2 {
		return "10.0"
	}
	return "8.5"
}

// newProxyFields reports whether HttpProxy logs carry the five trailing
// fields (EdgeTraceId … RoutingStatus) added in 2016 CU22 / 2019 CU11.
func (b *build) newProxyFields() bool {
	switch b.minor {
	case 1:
		return b.number >= 2375
	case 2:
		return b.number >= 986
	}
	return false
}
