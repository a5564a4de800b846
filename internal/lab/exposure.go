package lab

import (
	"slices"
	"strings"
	"time"
)

// Chain is an exploit chain and the day its in-the-wild exploitation began.
type Chain struct {
	Name  string
	Start time.Time
}

// chains lists the exploit chains the generator (and the hunter) reason
// about, with the first in-the-wild exploitation reported for each:
// ProxyLogon per Volexity's update (2021-01-03), ProxyShell scanning and
// exploitation from early August 2021, ProxyNotShell from August 2022 and
// OWASSRF from November 2022.
var chains = []Chain{
	{"proxylogon", time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC)},
	{"proxyshell", time.Date(2021, 8, 5, 0, 0, 0, 0, time.UTC)},
	{"proxynotshell", time.Date(2022, 8, 1, 0, 0, 0, 0, time.UTC)},
	{"owassrf", time.Date(2022, 11, 1, 0, 0, 0, 0, time.UTC)},
}

// Chains returns the known exploit chains in chronological order.
func Chains() []Chain { return append([]Chain(nil), chains...) }

// FixedChains parses the fixes column of exchange-builds.csv, e.g.
// "proxylogon;proxyshell-partial(CVE-2021-34473;CVE-2021-34523)", and
// returns the chains the build fully fixes. A partial fix is not a fix, and
// entries that name no chain (such as "march2021-defense-in-depth") are
// ignored.
func FixedChains(fixes string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(fixes); i++ {
		if i < len(fixes) {
			switch fixes[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ';':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		item := strings.TrimSpace(fixes[start:i])
		start = i + 1
		for _, c := range chains {
			if item == c.Name {
				out = append(out, c.Name)
			}
		}
	}
	return out
}

// Exposed returns the chains that a build with the given fixes column is
// vulnerable to and whose exploitation had begun before at. A server whose
// logs start at such a moment cannot be cleared by its logs alone: the
// attack may predate them. This is the generator's rule for
// ServerTruth.Inconclusive.
func Exposed(fixes string, at time.Time) []string {
	fixed := FixedChains(fixes)
	var out []string
	for _, c := range chains {
		if c.Start.Before(at) && !slices.Contains(fixed, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}
