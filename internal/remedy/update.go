package remedy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
)

// update names the update for the current build: the newest update of its
// own CU that closes every chain the build leaves open, or else the newest
// CU of the product with an update that does (installed first, then that
// update), with what an update of the current CU closes meanwhile. The
// facts say which chains are open and why.
func (p *planner) update() ([]finding.ActionItem, []string) {
	if !p.known {
		return nil, nil
	}
	var open, facts []string
	for _, c := range exchange.Chains {
		switch {
		case p.open(c.Name):
			open = append(open, c.Name)
			facts = append(facts, p.chainFact(c.Name))
		case p.status[c.Name].Status == exchange.StatusCVEOnly:
			// open to one CVE of the chain (Exchange 2010's CVE-2021-26857),
			// whose update the table lists under its own fix name
			facts = append(facts, p.chainFact(c.Name))
		}
	}
	// Fixes the table carries that are not chains (Exchange 2010's March
	// 2021 update) count when no row at or below the build has them.
	for _, tag := range p.extraFixes() {
		open = append(open, tag)
		facts = append(facts, fmt.Sprintf("build %s (%s %s) lacks %s", p.s.Build.Current, p.rel.Product, p.rel.Update, tag))
	}
	if len(open) == 0 {
		return nil, nil
	}
	rels := p.t.Releases()
	closesAll := func(r exchange.Release) bool {
		for _, c := range open {
			if !slices.Contains(r.Fixes, c) {
				return false
			}
		}
		return true
	}
	sameProduct := func(r exchange.Release) bool { return r.Product == p.rel.Product }
	// 1. an update of the installed CU
	for i := len(rels) - 1; i >= 0; i-- {
		r := rels[i]
		if r.Build.SameCU(p.build) && r.Build.Compare(p.build) > 0 && closesAll(r) {
			return []finding.ActionItem{updateItem(r, open, "install")}, facts
		}
	}
	// 2. the newest CU of the product with an update closing everything
	for i := len(rels) - 1; i >= 0; i-- {
		cu := rels[i]
		if cu.Kind != "cu" || !sameProduct(cu) || cu.Build.Compare(p.build) <= 0 || cu.Build.SameCU(p.build) {
			continue
		}
		var best *exchange.Release
		for j := len(rels) - 1; j >= 0; j-- {
			if r := rels[j]; r.Build.SameCU(cu.Build) && closesAll(r) {
				best = &rels[j]
				break
			}
		}
		if best == nil {
			continue
		}
		var items []finding.ActionItem
		if best.Build.Compare(cu.Build) != 0 {
			items = append(items, updateItem(cu, nil, "install first (no update of the installed CU closes every open chain)"))
			items = append(items, updateItem(*best, open, "then install"))
		} else {
			items = append(items, updateItem(cu, open, "install (no update of the installed CU closes every open chain)"))
		}
		if m := p.meanwhile(open); m != nil {
			items = append(items, *m)
		}
		return items, facts
	}
	facts = append(facts, "no update in the build table closes "+strings.Join(open, ", ")+" for "+p.rel.Product+"; move to a supported version")
	return []finding.ActionItem{{Kind: "update", Name: "none in the build table", Value: "migrate " + p.rel.Product + " to a supported version"}}, facts
}

// meanwhile is the newest update of the installed CU that closes at least
// one open chain, for while the CU upgrade is prepared.
func (p *planner) meanwhile(open []string) *finding.ActionItem {
	rels := p.t.Releases()
	for i := len(rels) - 1; i >= 0; i-- {
		r := rels[i]
		if !r.Build.SameCU(p.build) || r.Build.Compare(p.build) <= 0 {
			continue
		}
		var closes []string
		for _, c := range open {
			if slices.Contains(r.Fixes, c) {
				closes = append(closes, c)
			}
		}
		if len(closes) > 0 {
			it := updateItem(r, closes, "meanwhile, on the installed CU")
			return &it
		}
	}
	return nil
}

func (p *planner) extraFixes() []string {
	isChain := func(f string) bool { _, ok := exchange.ChainByName(f); return ok }
	have := map[string]bool{}
	var later []string
	for _, r := range p.t.Releases() {
		if r.Product != p.rel.Product {
			continue
		}
		for _, f := range r.Fixes {
			if isChain(f) || !fixName.MatchString(f) {
				continue
			}
			if r.Build.Compare(p.build) <= 0 {
				have[f] = true
			} else if !slices.Contains(later, f) {
				later = append(later, f)
			}
		}
	}
	var out []string
	for _, f := range later {
		if !have[f] {
			out = append(out, f)
		}
	}
	return out
}

// fixName is what a fix tag that is not a chain looks like
// ("march2021-defense-in-depth"); pieces of a CVE list are not tags.
var fixName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func updateItem(r exchange.Release, closes []string, how string) finding.ActionItem {
	v := fmt.Sprintf("%s: build %s, released %s", how, r.Build, r.Date.Format("2006-01-02"))
	if len(closes) > 0 {
		v += ", closes " + strings.Join(closes, ", ")
	}
	return finding.ActionItem{Kind: "update", Name: r.Product + " " + r.Update, Value: v}
}
