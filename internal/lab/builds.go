package lab

import (
	"fmt"
	"strings"
	"sync"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/logs"
)

// build is an Exchange build a scenario runs: a row of the build table
// (Options.Builds, by default the catalog's) in the forms the logs write.
type build struct {
	Version string // 15.1.2176.2
	// Fixes are the chains and defence updates the build fixes in full,
	// ';'-separated as in the table's fixes column; partial fixes are left
	// out, as FixedChains leaves them out.
	Fixes string

	v logs.Version
}

// shippedBuilds is the catalog's build table, loaded once for runs that
// give none.
var shippedBuilds = sync.OnceValues(func() (*exchange.Table, error) {
	d, err := catalog.LoadData()
	if err != nil {
		return nil, err
	}
	return d.Builds, nil
})

// lookupBuild finds version in the table; the scenarios name only builds
// the table lists.
func lookupBuild(t *exchange.Table, version string) (*build, error) {
	want, ok := exchange.ParseBuild(version)
	if ok {
		if rel, exact, found := t.Lookup(want); found && exact {
			b := rel.Build
			return &build{Version: version, Fixes: strings.Join(rel.Fixes, ";"), v: logs.Version{Major: b.Major, Minor: b.Minor, Build: b.Build, Rev: b.Rev}}, nil
		}
	}
	return nil, fmt.Errorf("lab: build %s is not in the build table", version)
}

// buildOf returns the build the scenario names. A build missing from the
// table stops the run with an error.
func (g *gen) buildOf(version string) *build {
	b, err := lookupBuild(g.builds, version)
	if err != nil {
		g.fail(err)
		// Go on with the numbers alone; the run reports the error.
		p, _ := exchange.ParseBuild(version)
		return &build{Version: version, v: logs.Version{Major: p.Major, Minor: p.Minor, Build: p.Build, Rev: max(p.Rev, 0)}}
	}
	return b
}

func (b *build) targetVersion() string { return b.v.TargetVersion() }
func (b *build) newProxyFields() bool  { return b.v.NewProxyFields() }

// beVersion is the integer in GenericInfo's FEAuth=BEVersion-<n> and in
// ProxyLogon cookies (…~1942062522): 0x70000000 | major<<22 | minor<<16 |
// 0x8000 | build.
func (b *build) beVersion() int {
	return 0x70000000 | b.v.Major<<22 | b.v.Minor<<16 | 0x8000 | b.v.Build
}

// owaFolder is the versioned folder OWA serves static files from:
// /owa/auth/15.1.2176/.
func (b *build) owaFolder() string { return fmt.Sprintf("%d.%d.%d", b.v.Major, b.v.Minor, b.v.Build) }

// iisVersion is the IIS the product's supported Windows ships: Server
// 2012 R2 (8.5) for 2013/2016 in these scenarios, Server 2019 (10.0) for
// Exchange 2019.
func (b *build) iisVersion() string {
	if b.v.Minor >= 2 {
		return "10.0"
	}
	return "8.5"
}
