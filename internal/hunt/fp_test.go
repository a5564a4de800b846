package hunt_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/lab"
)

// TestEventRulesFalsePositives measures the event rules (exhunt's and the
// shipped SigmaHQ rules) on benign event logs: four clean lab servers, two
// with Sysmon and two auditing process creation in the Security log, whose
// everyday events include the look-alikes of attack events (IIS compiling
// pages, UMService starting its worker, w3wp crash reports, mailbox exports
// to a file share, diagnostics dumps of w3wp, the OAB URL set to the
// published name). Every finding on them is a false positive.
func TestEventRulesFalsePositives(t *testing.T) {
	dir := t.TempDir()
	if _, err := lab.Generate(context.Background(), lab.Options{
		Out: dir, Servers: 4, Size: 64 << 20, Seed: 11, Scenarios: []string{"clean"},
	}); err != nil {
		t.Fatal(err)
	}
	res := huntDir(t, dir)
	var events, files int
	for _, s := range res.Servers {
		for _, c := range s.Coverage {
			if strings.HasPrefix(c.Source, "evtx:") {
				events += int(c.Lines)
				files += c.Files
			}
		}
		for _, f := range s.Findings {
			if strings.HasSuffix(f.Source.File, ".evtx") || strings.HasPrefix(f.Rule, "sigma:") {
				t.Errorf("false positive: %s (%s) at %s record %d", f.Rule, f.Title, filepath.Base(f.Source.File), f.Source.Line)
			}
		}
	}
	if events < 10000 {
		t.Fatalf("only %d benign events in %d event logs", events, files)
	}
	t.Logf("%d benign events in %d event logs: no event or Sigma rule fired", events, files)
}
