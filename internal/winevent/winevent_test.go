package winevent

import (
	"slices"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/rule"
)

// The rule package cannot import this one (it would be a cycle through
// sigma), so it lists the event kinds itself; they must stay equal.
func TestKindsKnownToRules(t *testing.T) {
	var inRules []string
	for _, k := range rule.KnownLogsources {
		if strings.HasPrefix(k, "event-") {
			inRules = append(inRules, k)
		}
	}
	if !slices.Equal(inRules, Kinds()) {
		t.Errorf("rule.KnownLogsources has %v, winevent %v", inRules, Kinds())
	}
}
