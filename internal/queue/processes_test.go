package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/natstest"
	"github.com/exhunt/exhunt/internal/scan"
)

// TestProcessesSurviveKill9 is the distributed scan as operators run it:
// real exhunt processes (decoys, three workers, a dispatcher) on a
// three-node JetStream cluster. 20,000 decoy targets are scanned once in
// one process and twice dispatched: cleanly, then with a worker killed
// with SIGKILL and a NATS node killed and restarted mid-run. Every
// dispatch must store exactly the single-process result set.
func TestProcessesSurviveKill9(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "exhunt")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/exhunt")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Decoys: 10,000 listeners per process (file descriptors), 100
	// loopback addresses each.
	var urls []string
	for i := 0; i*10000 < n; i++ {
		ports := min(100, (n-i*10000+99)/100)
		manifest := filepath.Join(dir, fmt.Sprintf("fleet%d.jsonl", i))
		spec := fmt.Sprintf("https://127.0.%d.1-127.0.%d.100:%d-%d", 20+i, 20+i, 21000, 21000+ports-1)
		d := start(t, dir, fmt.Sprintf("decoy%d", i), bin, "decoy", "--listen", spec, "--build", "all", "--state", "all",
			"--reveal", "all-modes", "--name", fmt.Sprintf("D%d", i), "--manifest", manifest)
		urls = append(urls, waitManifest(t, manifest, d)...)
	}
	if len(urls) < n {
		t.Fatalf("%d decoy listeners, want %d", len(urls), n)
	}
	urls = urls[:n]
	targets := filepath.Join(dir, "targets.txt")
	if err := os.WriteFile(targets, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--scope", "127.0.0.0/8", "--host-rate", "0", "--connect-timeout", "20s", "--tls-timeout", "20s", "--read-timeout", "20s", "-i", targets}

	single := filepath.Join(dir, "single.jsonl")
	runExhunt(t, dir, bin, append([]string{"scan", "--concurrency", "256", "-o", single}, common...)...)
	want := resultSet(t, single, n)

	cl := natstest.Start(t, 3)
	var workers []*exec.Cmd
	for i := range 3 {
		workers = append(workers, start(t, dir, fmt.Sprintf("worker%d", i), bin, "worker", "--nats", cl.URL(), "--name", fmt.Sprintf("w%d", i),
			"--concurrency", "128", "--scope", "127.0.0.0/8"))
	}

	clean := filepath.Join(dir, "clean.jsonl")
	runExhunt(t, dir, bin, append([]string{"scan", "--dispatch", "--nats", cl.URL(), "--dispatch-id", "clean", "-o", clean}, common...)...)
	sameResults(t, "clean dispatch", resultSet(t, clean, n), want)

	// The same with faults: once a tenth of the results are written, one
	// worker is killed with SIGKILL and a NATS node is killed, then
	// restarted two seconds later.
	faulty := filepath.Join(dir, "faulty.jsonl")
	disp := start(t, dir, "dispatcher", bin, append([]string{"scan", "--dispatch", "--nats", cl.URL(), "--dispatch-id", "faulty", "-o", faulty}, common...)...)
	waitLines(t, faulty, n/10, disp)
	workers[0].Process.Signal(syscall.SIGKILL)
	cl.Kill(2)
	time.Sleep(2 * time.Second)
	cl.Restart(2)
	if err := waitExit(disp, 5*time.Minute); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("dispatcher: %v\n%s%s", err, readLog(dir, "dispatcher"), workerNotes(dir, len(workers)))
		}
	}
	sameResults(t, "dispatch with a worker and a NATS node killed", resultSet(t, faulty, n), want)
}

// start runs a child process with its output in dir/name.log; it is
// killed when the test ends.
func start(t *testing.T, dir, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// workerNotes gathers what the workers said beyond their per-job lines:
// dead letters and failed acknowledgements, which explain a dispatch
// that never completes.
func workerNotes(dir string, n int) string {
	var b strings.Builder
	for i := range n {
		data, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("worker%d.log", i)))
		for line := range strings.Lines(string(data)) {
			if !strings.Contains(line, ": ") || strings.Contains(line, " targets\n") {
				continue
			}
			fmt.Fprintf(&b, "worker%d: %s", i, line)
		}
	}
	return tail([]byte(b.String()))
}

func readLog(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// runExhunt runs exhunt to the end; exit 3 (something vulnerable found)
// is the expected outcome of scanning a fleet with vulnerable decoys.
func runExhunt(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("exhunt %s: %v\n%s", strings.Join(args[:3], " "), err, tail(out))
		}
	}
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done // one Wait at a time: the cleanup waits too
		return fmt.Errorf("still running after %v", d)
	}
}

func waitManifest(t *testing.T, path string, cmd *exec.Cmd) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if cmd.ProcessState != nil {
			t.Fatalf("decoy exited: %v", cmd.ProcessState)
		}
		data, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(data, []byte("\n")) {
			var urls []string
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				var d struct {
					URL string `json:"url"`
				}
				if json.Unmarshal(sc.Bytes(), &d) == nil && d.URL != "" {
					urls = append(urls, d.URL)
				}
			}
			return urls
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no manifest at %s", path)
	return nil
}

func waitLines(t *testing.T, path string, n int, cmd *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte("\n")) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d results after 5 minutes", n)
}

// resultSet reads a results file into the comparable summaries, failing
// on a target written twice.
func resultSet(t *testing.T, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[uint64]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// the results file is the scan's stream: its target messages
		var m struct {
			Target *scan.Result `json:"target"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m.Target == nil {
			continue // start, progress, run
		}
		r := *m.Target
		if seen[r.Seq] {
			t.Errorf("%s: target %d (%s) stored twice", filepath.Base(path), r.Seq, r.Target)
		}
		seen[r.Seq] = true
		out = append(out, summary(&r))
	}
	if len(out) != n {
		t.Errorf("%s: %d results, want %d", filepath.Base(path), len(out), n)
	}
	sort.Strings(out)
	return out
}

func sameResults(t *testing.T, what string, got, want []string) {
	t.Helper()
	diff := 0
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			if diff < 3 {
				t.Errorf("%s: result differs:\n got %s\nwant %s", what, got[i], want[i])
			}
			diff++
		}
	}
	if diff > 0 || len(got) != len(want) {
		t.Errorf("%s: %d of %d results differ (%d vs %d)", what, diff, len(want), len(got), len(want))
	}
}
