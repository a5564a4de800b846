// Package cli is exhunt's command line: each subcommand parses its own flags
// and writes results to stdout, diagnostics to stderr.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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
  exhunt lab fleet [flags]         write a replay of the 2021 campaign across a fleet, with ground truth
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
				fmt.Fprintf(stderr, "exhunt: %s\n", shownLines(e.msg))
			}
			if e.hint != "" {
				fmt.Fprintf(stderr, "exhunt: hint: %s\n", shownLines(e.hint))
			}
		} else if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "exhunt: error: %s\n", shownLines(err.Error()))
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
	case "version", "--version", "-version":
		fs := newFlags("version", "Usage: exhunt version\n\nPrints the version, the commit and the time it was built from.\n", stderr)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "exhunt", VersionLine())
		return nil
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" && !isHelp(args[1]) {
			// "exhunt help hunt" is "exhunt hunt -h"
			return run(ctx, []string{args[1], "-h"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError(fmt.Sprintf("unknown command %q", args[0]), "")
}

// Set at link time by scripts/release.sh:
//
//	-ldflags "-X github.com/exhunt/exhunt/internal/cli.version=v1.2.3
//	          -X github.com/exhunt/exhunt/internal/cli.commit=<sha>
//	          -X github.com/exhunt/exhunt/internal/cli.date=<RFC 3339>"
//
// Left empty, they come from the build information Go records: the module
// version of "go install …@v1.2.3", and the VCS revision and commit time
// of a build in a git checkout.
var version, commit, date string

// buildInfo is what Version and VersionLine report.
type buildInfo struct {
	version, commit, date, goVersion string
	dirty                            bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{version: version, commit: commit, date: date}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.goVersion = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.commit == "" {
				b.commit = s.Value
			}
		case "vcs.time":
			if b.date == "" {
				b.date = s.Value
			}
		case "vcs.modified":
			b.dirty = s.Value == "true" && commit == ""
		}
	}
	if b.version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.version = bi.Main.Version
	}
	return b
}

// Version returns exhunt's version: the stamped or module version, else
// "dev-<commit>" for a build from a checkout, else "dev".
func Version() string {
	b := readBuildInfo()
	switch {
	case b.version != "":
		return b.version
	case b.commit != "":
		v := "dev-" + b.commit[:min(12, len(b.commit))]
		if b.dirty {
			v += "-dirty"
		}
		return v
	}
	return "dev"
}

// VersionLine is the version with the commit, its time and the Go release:
// what "exhunt version" prints.
func VersionLine() string {
	b := readBuildInfo()
	line := Version()
	var extra []string
	if b.commit != "" && !strings.Contains(line, b.commit[:min(12, len(b.commit))]) {
		extra = append(extra, "commit "+b.commit[:min(12, len(b.commit))])
	}
	if b.date != "" {
		extra = append(extra, "built from "+b.date)
	}
	if b.goVersion != "" {
		extra = append(extra, b.goVersion)
	}
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	return line
}

// flagSet is a flag.FlagSet whose Parse lets flags and arguments
// interleave, so "exhunt hunt DIR -o x.json" sets -o instead of taking
// "-o" and "x.json" as paths. "--" ends the flags; a lone "-" is an
// argument (standard input).
type flagSet struct {
	*flag.FlagSet
	args []string
}

func newFlags(name, help string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs}
}

// Parse parses flags wherever they stand among the arguments.
func (fs *flagSet) Parse(args []string) error {
	fs.args = fs.args[:0]
	for {
		if err := fs.FlagSet.Parse(args); err != nil {
			return err
		}
		rest := fs.FlagSet.Args()
		// flag stops at the first argument, or after "--"; tell them apart.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			fs.args = append(fs.args, rest...)
			return nil
		}
		if len(rest) == 0 {
			return nil
		}
		fs.args = append(fs.args, rest[0])
		args = rest[1:]
	}
}

// Args are the arguments that are not flags, in order.
func (fs *flagSet) Args() []string { return fs.args }

// NArg is len(Args()).
func (fs *flagSet) NArg() int { return len(fs.args) }

// Arg is the i'th argument, or "".
func (fs *flagSet) Arg(i int) string {
	if i < 0 || i >= len(fs.args) {
		return ""
	}
	return fs.args[i]
}

// parseFlags parses args and turns a bad flag into a usage error (exit 2);
// -h returns flag.ErrHelp (exit 0) after the help was printed.
func parseFlags(fs *flagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error(), "run exhunt "+fs.Name()+" -h")
	}
	return nil
}

// isHelp reports whether a word asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// noArgs refuses arguments for a command that takes none: a stray word is
// more likely a mistyped flag than something to ignore.
func noArgs(fs *flagSet) error {
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Arg(0)), "run exhunt "+fs.Name()+" -h")
	}
	return nil
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
	// NaN, infinities and sizes past int64 would convert to garbage
	// (a negative cap): refuse them
	if err != nil || !(f >= 0) || f*float64(mult) >= math.MaxInt64 {
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
