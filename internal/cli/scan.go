package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/scan"
	"github.com/exhunt/exhunt/internal/stream"
)

const scanHelp = `Usage: exhunt scan [flags] TARGET...

Checks Exchange servers over the network, read-only: is it Exchange, which
build (X-OWA-Version, the export tool's manifest, the logon page), is that
build vulnerable to ProxyLogon, ProxyShell, ProxyNotShell and OWASSRF
(vulnerable, patched, or indeterminate when only the CU is known), do the
public ProxyLogon and ProxyShell checks succeed, is an EOMT rewrite rule in
place, and (with --webshells) do known web-shell paths answer. Nothing is
ever written, no login is tried, no code is run on a target.

TARGET is a host, an IP address, host:port, a URL, a CIDR range, or "-"
for standard input; -i FILE reads targets from a file, one per line ('#'
starts a comment). Lists stream: millions of lines are fine.

Results are JSON lines, one per target, written as each completes (to -o or
standard output), then a summary table. --resume continues an interrupted
scan from its -o file: no target is lost or scanned twice.

Exit codes: 0 nothing vulnerable found, 3 a vulnerable chain or a web shell
found, 1 error, 2 usage.

Flags:
`

func runScan(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("scan", scanHelp, stderr)
	opt := scan.DefaultOptions()
	var inputs multiFlag
	fs.Var(&inputs, "i", `read targets from this file, one per line ("-": standard input; repeatable)`)
	out := fs.String("o", "", "write JSON-lines results to this file (default: standard output)")
	resume := fs.Bool("resume", false, "continue the interrupted scan whose results are in -o")
	format := fs.String("format", "jsonl", "jsonl: results as JSON lines; text: a table row per Exchange server")
	scopeFlag := fs.String("scope", "", "comma-separated CIDR ranges: refuse every address outside them")
	yes := fs.Bool("yes", false, "confirm scanning ranges larger than --max-expand")
	maxExpand := fs.Uint64("max-expand", 65536, "targets one range may expand to without --yes")
	ports := fs.String("ports", "443", "ports for targets that name none (80, 8080 and 8000 use http)")
	fs.IntVar(&opt.Concurrency, "concurrency", opt.Concurrency, "targets scanned at once")
	fs.Float64Var(&opt.Rate, "rate", opt.Rate, "requests per second in all (0: no limit)")
	fs.Float64Var(&opt.HostRate, "host-rate", opt.HostRate, "requests per second to one host (0: no limit)")
	fs.DurationVar(&opt.Connect, "connect-timeout", opt.Connect, "TCP connect timeout")
	fs.DurationVar(&opt.TLS, "tls-timeout", opt.TLS, "TLS handshake timeout")
	fs.DurationVar(&opt.Read, "read-timeout", opt.Read, "timeout for the response headers, and again for the body")
	fs.IntVar(&opt.Retries, "retries", opt.Retries, "retries of a request after a timeout or dropped connection")
	fs.DurationVar(&opt.Backoff, "backoff", opt.Backoff, "delay before the first retry, doubled for each next one")
	fs.IntVar(&opt.ErrorBudget, "error-budget", opt.ErrorBudget, "failed requests after which a target is given up")
	fs.StringVar(&opt.UserAgent, "user-agent", opt.UserAgent, "User-Agent sent with every request")
	noLegacy := fs.Bool("no-legacy-tls", false, "refuse TLS 1.0/1.1, RSA key exchange and SHA-1 signatures")
	noPL := fs.Bool("no-proxylogon-probe", false, "skip the ProxyLogon SSRF reflection check")
	noPS := fs.Bool("no-proxyshell-probe", false, "skip the ProxyShell autodiscover check")
	noMit := fs.Bool("no-mitigation-probe", false, "skip the EOMTv2 rewrite-rule check")
	fs.IntVar(&opt.SUProbe, "su-probe", 0, "when only the CU is known, try up to this many of its updates' /ecp/<build>/ folders")
	fs.BoolVar(&opt.Webshells, "webshells", false, "request the known web-shell paths (about 120 requests per Exchange server)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	dispatch := fs.Bool("dispatch", false, "split the scan into jobs on a NATS JetStream queue for \"exhunt worker\"s, and gather their results")
	natsURL := fs.String("nats", "", "with --dispatch: NATS server URLs, comma-separated")
	batch := fs.Int("batch", 100, "with --dispatch: targets per job")
	dispatchID := fs.String("dispatch-id", "", "with --dispatch: the dispatch to continue (default: derived from the targets and options)")
	replicas := fs.Int("replicas", 3, "with --dispatch: stream replicas when the streams are created (3 on a cluster, 1 on one server)")
	push := addPushFlags(fs.FlagSet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opt.LegacyTLS = !*noLegacy
	opt.ProxyLogonProbe, opt.ProxyShellProbe, opt.MitigationProbe = !*noPL, !*noPS, !*noMit
	if *format != "jsonl" && *format != "text" {
		return usageError(fmt.Sprintf("format %q: want jsonl or text", *format), "")
	}
	if opt.Concurrency < 1 || opt.Retries < 0 || opt.ErrorBudget < 1 || opt.Rate < 0 || opt.HostRate < 0 {
		return usageError("concurrency and error budget must be at least 1; retries and rates not negative", "")
	}
	scope, err := parseScope(*scopeFlag)
	if err != nil {
		return err
	}
	opt.Scope = scope
	in := &scan.Input{Stdin: stdin, MaxExpand: *maxExpand, Confirmed: *yes}
	for _, p := range splitList(*ports) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return usageError(fmt.Sprintf("port %q", p), "")
		}
		in.Ports = append(in.Ports, n)
	}
	for _, a := range fs.Args() {
		if a == "-" {
			in.Files = append(in.Files, "-")
			continue
		}
		in.Args = append(in.Args, a)
		// Ranges given on the command line are checked before anything is
		// sent, so a typo in a prefix length stops the run at once.
		if spec, ok, err := scan.ParseLine(a, in.Ports); ok && err == nil && spec.Count() > *maxExpand && !*yes {
			return usageError(fmt.Sprintf("%s expands to %d targets", a, spec.Count()), "add --yes to confirm, or narrow the range")
		}
	}
	in.Files = append(in.Files, inputs...)
	if len(in.Args) == 0 && len(in.Files) == 0 {
		return usageError("no targets", "give targets as arguments, -i FILE, or - for standard input")
	}
	if *dispatch && *natsURL == "" {
		return usageError("--dispatch needs --nats URL", "")
	}
	if *resume && *out == "" {
		return usageError("--resume needs -o: the results file of the interrupted run", "")
	}
	if opt.LegacyTLS {
		scan.AllowSHA1Signatures()
	}
	data, err := loadScanData()
	if err != nil {
		return err
	}
	lessGC()
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()

	sum := report.NewScanSummary()
	var done *scan.Done
	var w io.Writer
	summaryTo := stdout
	switch {
	case *out != "":
		f, err := openResults(*out, *resume, sum, &done)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	case *format == "jsonl":
		w, summaryTo = stdout, stderr
	}
	runID := stream.NewRunID()
	if done != nil && done.Len() > 0 {
		fmt.Fprintf(stderr, "exhunt: resuming: %d target(s) already done\n", done.Len())
		runID = cmp.Or(done.RunID, runID) // one run, however often resumed
	}
	var table *report.ScanTable
	if *format == "text" {
		table = report.NewScanTable(stdout)
		table.Sum, table.Live = sum, true
	}
	w, closePush, err := push.tee(ctx, fleet.TypeScan, w, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if err := closePush(); err != nil {
			warn(stderr, "%v", err)
		}
	}()
	// Every result is one stream message, written with one Write: a killed
	// scan loses at most the line being written, which --resume cuts off
	// and scans again.
	var jl stream.Handler = stream.HandlerFunc(func(*stream.Message) error { return nil })
	var scanned atomic.Int64
	stopProgress := func() {}
	if w != nil {
		out := report.NewJSONLines(w)
		var mu sync.Mutex // results and progress come from two goroutines
		jl = stream.HandlerFunc(func(m *stream.Message) error {
			mu.Lock()
			defer mu.Unlock()
			return out.Handle(m)
		})
	}
	started := time.Now().UTC()
	if done == nil || done.Len() == 0 {
		if err := jl.Handle(&stream.Message{RunID: runID, Start: &stream.Start{SchemaVersion: stream.SchemaVersion,
			Kind: finding.KindScan, Tool: "exhunt", Version: Version(), StartedAt: started}}); err != nil {
			return err
		}
	}
	if w != nil {
		stopProgress = streamProgress(jl, runID, func() stream.Progress {
			return stream.Progress{TargetsDone: scanned.Load()}
		}, 5*time.Second)
		defer func() { stopProgress() }()
	}
	emit := func(r *scan.Result) error {
		if table != nil {
			if err := table.Add(r); err != nil {
				return err
			}
		} else {
			sum.Add(r)
		}
		scanned.Add(1)
		return jl.Handle(&stream.Message{RunID: runID, Target: r})
	}
	var runErr error
	if *dispatch {
		runErr = dispatchScan(ctx, *natsURL, *dispatchID, *batch, *replicas, opt, in, done, stderr, emit)
	} else {
		runErr = scan.New(opt, data).Run(ctx, in, done.Skip, emit)
	}
	stopProgress()
	stopProgress = func() {}
	if table != nil {
		table.Close()
	} else {
		sum.Write(summaryTo)
	}
	if runErr == nil {
		runErr = jl.Handle(&stream.Message{RunID: runID, Run: &finding.Result{SchemaVersion: finding.SchemaVersion,
			RunID: runID, Kind: finding.KindScan, Tool: "exhunt", Version: Version(), StartedAt: started,
			DurationMS: time.Since(started).Milliseconds()}})
	}
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) && *out != "" {
			return &exitError{code: ExitError, msg: "scan interrupted", hint: "continue it with the same targets and --resume -o " + *out}
		}
		return runErr
	}
	if sum.Notable != nil {
		return errFindings
	}
	return nil
}

// openResults opens the results file: created afresh, or with resume
// read for the targets already done (counted into sum) and cut after its
// last complete line, then positioned for appending.
func openResults(name string, resume bool, sum *report.ScanSummary, done **scan.Done) (*os.File, error) {
	if !resume {
		return os.Create(name)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	d, good, err := scan.ReadDone(bufio.NewReader(f), sum.Add)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	*done = d
	return f, nil
}

// lessGC lets the heap grow to five times its live size before collecting,
// unless GOGC says otherwise: scans and decoys keep tens of megabytes live
// and spend their CPU on handshakes, not on memory.
func lessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// loadScanData gives the scanner and the decoy their reference data from
// the catalog: the build table and the web-shell URL paths.
func loadScanData() (*scan.Data, error) {
	d, err := catalog.LoadData()
	if err != nil {
		return nil, err
	}
	return &scan.Data{Builds: d.Builds, Shells: d.WebshellURLPaths()}, nil
}
