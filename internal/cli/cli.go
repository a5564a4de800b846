// Package cli is exhunt's command line: each subcommand parses its own flags
// and writes results to stdout, diagnostics to stderr.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
)

const usage = `exhunt tells whether Microsoft Exchange servers were merely exposed to the
ProxyLogon, ProxyShell, ProxyNotShell and OWASSRF chains, or exploited.

Usage:
  exhunt demo                      generate demo evidence for eight servers, hunt it, print the verdicts
  exhunt hunt [flags] [PATH...]    hunt evidence: an Exchange install, a copy or triage collection,
                                   a folder with one sub-folder per server, or a .zip of any of these;
                                   with no PATH on Windows, the local Exchange server
  exhunt report --in RUN.json      render a saved run as text, html, sarif or csv
  exhunt lab generate [flags]      write realistic evidence trees with attacks and ground truth
  exhunt evtx dump|stat FILE...    read Windows event logs: events as JSON lines, or counts
  exhunt rules list                list the detection rules
  exhunt rules validate [PATH...]  check the built-in rules and rule files or folders
  exhunt scan [flags] TARGET...    check Exchange servers over the network, read-only: build,
                                   vulnerable chains, mitigations, known web shells
  exhunt decoy [flags]             emulate Exchange servers: a scan target and a honeypot
  exhunt serve [init|org|token|import] the fleet server: every hunt, scan and decoy result of many customers
  exhunt worker --nats URL         take scan jobs from a NATS JetStream queue (scan --dispatch)
  exhunt version

Exit codes: 0 nothing found, 3 indicators found (any server probed or worse),
1 error, 2 usage. Run "exhunt COMMAND -h" for a command's flags.
`

// Run runs exhunt with args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := run(ctx, args, stdin, stdout, stderr)
	if err != nil && err != errFindings {
		var e *exitError
		if errors.As(err, &e) {
			if e.msg != "" {
				fmt.Fprintf(stderr, "exhunt: %s\n", e.msg)
			}
			if e.hint != "" {
				fmt.Fprintf(stderr, "exhunt: hint: %s\n", e.hint)
			}
		} else if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "exhunt: error: %v\n", err)
		}
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitClean
	}
	return exitCode(err)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("", "")
	}
	switch args[0] {
	case "hunt":
		return runHunt(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "report":
		return runReport(ctx, args[1:], stdout, stderr)
	case "lab":
		return runLab(ctx, args[1:], stdout, stderr)
	case "rules":
		return runRules(args[1:], stdout, stderr)
	case "evtx":
		return runEvtx(ctx, args[1:], stdout, stderr)
	case "decoy":
		return runDecoy(ctx, args[1:], stdout, stderr)
	case "scan":
		return runScan(ctx, args[1:], stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdin, stdout, stderr)
	case "worker":
		return runWorker(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "exhunt", Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError(fmt.Sprintf("unknown command %q", args[0]), "")
}

// Version is set at link time (-ldflags "-X github.com/exhunt/exhunt/internal/cli.version=v1.2.3")
// or read from the build information.
var version = ""

// Version returns exhunt's version string.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		if len(rev) > 12 {
			return "dev-" + rev[:12] + dirty
		}
	}
	return "dev"
}

func newFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

// parseSize reads sizes such as 500MB, 2GB, 64KiB or a plain byte count.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KB, MB, GB)", s)
	}
	return int64(f * float64(mult)), nil
}

// startCPUProfile writes a CPU profile to path until stop is called; with
// no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// openOutput returns stdout or a created file.
func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
