package logs

import "github.com/exhunt/exhunt/internal/literal"

// Prefilter finds the rules' literals in log text, ignoring ASCII case: a
// line that holds none of a rule's literals cannot match it, so it is not
// parsed for that rule.
type Prefilter = literal.Matcher

// NewPrefilter compiles the literals. Empty literals are ignored; with no
// literals at all the prefilter matches nothing.
func NewPrefilter(lits []string) *Prefilter { return literal.New(lits) }

// NewPrefilterGroups compiles groups of literals (one group per rule, say);
// Mask then tells which groups have a literal in a line.
func NewPrefilterGroups(groups [][]string) *Prefilter { return literal.NewGroups(groups) }
