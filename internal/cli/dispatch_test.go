package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/natstest"
)

// TestHuntDispatch: "exhunt hunt --dispatch" through a real nats-server
// and an "exhunt worker" gives the verdicts of a local hunt, from an
// uploaded folder and from a path on shared storage.
func TestHuntDispatch(t *testing.T) {
	dir := labDir(t, "proxylogon-full", "clean")
	cl := natstest.Start(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var werr bytes.Buffer
	wg.Go(func() {
		Run(ctx, []string{"worker", "--nats", cl.URL(), "--replicas", "1", "--kinds", "hunt", "--name", "w1"}, strings.NewReader(""), &bytes.Buffer{}, &werr)
	})
	paths := []string{filepath.Join(dir, "EXCH01"), filepath.Join(dir, "EXCH02")}
	local := filepath.Join(t.TempDir(), "local.json")
	if code, _, stderr := exh(t, append([]string{"hunt", "--format", "json", "-o", local}, paths...)...); code != ExitFindings {
		t.Fatalf("local hunt exit %d: %s", code, stderr)
	}
	want := verdictsOf(t, local)
	for _, shared := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "dispatched.json")
		args := []string{"hunt", "--dispatch", "--nats", cl.URL(), "--replicas", "1", "--format", "json", "-o", out}
		if shared {
			args = append(args, "--shared")
		}
		done := make(chan struct{})
		var code int
		var stderr string
		go func() {
			code, _, stderr = exh(t, append(args, paths...)...)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Fatalf("dispatched hunt did not finish; worker said:\n%s", werr.String())
		}
		if code != ExitFindings {
			t.Fatalf("shared=%v: exit %d: %s\nworker: %s", shared, code, stderr, werr.String())
		}
		if got := verdictsOf(t, out); got != want {
			t.Errorf("shared=%v: dispatched %s, local %s", shared, got, want)
		}
	}
	if code, _, stderr := exh(t, "hunt", "--dispatch", "--nats", cl.URL(), "--yara", "x.yar", paths[0]); code != ExitUsage || !strings.Contains(stderr, "built-in rules") {
		t.Errorf("user rules with --dispatch: exit %d, %s", code, stderr)
	}
}

func verdictsOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r finding.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, s := range r.Servers {
		parts = append(parts, s.Name+"="+string(s.Verdict)+"/"+strings.Join(ruleSet(s), ","))
	}
	return strings.Join(parts, " ")
}

func ruleSet(s finding.Server) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range s.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			out = append(out, f.Rule)
		}
	}
	return out
}
