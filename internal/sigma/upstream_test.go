package sigma

import (
	"os"
	"testing"
)

// upstreamSigma is the shipped copy of SigmaHQ's rules (the Exchange-related
// part), unmodified.
const upstreamSigma = "../../rules/sigma"

// TestUpstreamRules loads every upstream rule: none may panic or be broken
// (a broken upstream rule would mean a parsing bug here); rules that need a
// feature exhunt lacks are counted with the reason.
func TestUpstreamRules(t *testing.T) {
	if _, err := os.Stat(upstreamSigma); err != nil {
		t.Fatalf("upstream Sigma rules not found at %s (from internal/sigma): %v", upstreamSigma, err)
	}
	total, loaded := 0, 0
	for _, dir := range []string{"rules", "rules-emerging-threats"} {
		s, err := LoadDir(upstreamSigma+"/"+dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		total += len(s.Rules) + len(s.Skipped)
		loaded += len(s.Rules)
		for _, sk := range s.Skipped {
			if !sk.Unsupported {
				t.Errorf("%s: broken: %s", sk.Path, sk.Reason)
			}
		}
		for _, rc := range s.Reasons() {
			t.Logf("%s: %d skipped: %s", dir, rc.Count, rc.Reason)
		}
	}
	t.Logf("%d upstream rules: %d loaded, %d skipped", total, loaded, total-loaded)
	if loaded == 0 {
		t.Error("no upstream rule loaded")
	}
}
