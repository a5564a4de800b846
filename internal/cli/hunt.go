package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
	"github.com/exhunt/exhunt/internal/progress"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/stream"
)

const huntHelp = `Usage: exhunt hunt [flags] [PATH...]

Reads Exchange and IIS logs under each PATH and gives a verdict per server:
clean, probed, attempted, compromised or exploited, with the evidence (file
and line) behind it. PATH may be an Exchange install root, a copy or triage
collection of one, a folder with one sub-folder per server, or a .zip of any
of these (read in place). With no PATH on Windows, the local server is read.

Files in the web roots (FrontEnd\HttpProxy, ClientAccess, inetpub\wwwroot),
Temporary ASP.NET Files, ProgramData, Windows\Temp, C:\root and
Users\Public, IIS's applicationHost.config and msert logs are checked for web
shells and other artefacts: by path and name, hashes and YARA rules (the
shipped ones and any given with --yara).

With --dispatch --nats URL, each PATH is hunted by an "exhunt worker" taking
jobs from a NATS JetStream queue: uploaded to the queue's object store (a
folder is zipped on the way), or named as it is with --shared when every
worker reads the same storage. The workers' results are written as one run.

Flags:
`

type huntFlags struct {
	format   string
	output   string
	rules    multiFlag
	sigma    multiFlag
	workers  int
	maxPer   int
	verbose  bool
	quiet    bool
	maxBytes string
	yara     multiFlag
	maxScan  string // "" means the file hunt's default
	noFiles  bool
	noLogs   bool

	// Distributed hunting: the paths go to the queue's workers.
	dispatch   bool
	natsURL    string
	shared     bool
	dispatchID string
	replicas   int
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runHunt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var hf huntFlags
	fs := newFlags("hunt", huntHelp, stderr)
	fs.StringVar(&hf.format, "format", "text", "output format: text, json, jsonl, html, sarif, csv, remediation or remediation-csv")
	fs.StringVar(&hf.output, "o", "", "write the result to this file instead of stdout")
	fs.Var(&hf.rules, "rules", "extra rule file or folder (repeatable)")
	fs.Var(&hf.sigma, "sigma", "extra Sigma rule file or folder, run over event logs (repeatable)")
	fs.IntVar(&hf.workers, "workers", 0, "files read in parallel (default: one per CPU)")
	fs.IntVar(&hf.maxPer, "max-findings", 1000, "findings kept per rule and server; the rest are counted")
	fs.BoolVar(&hf.verbose, "verbose", false, "text format: list every finding and gap")
	fs.BoolVar(&hf.quiet, "quiet", false, "no progress display")
	fs.StringVar(&hf.maxBytes, "max-file-size", "16GiB", "stop reading a file (decompressed) past this size")
	fs.Var(&hf.yara, "yara", "extra YARA rule file or folder, run over the files hunted (repeatable)")
	fs.StringVar(&hf.maxScan, "max-scan-size", "512MiB", "file hunt: hash and scan files up to this size; larger ones are checked by path and name only")
	fs.BoolVar(&hf.noFiles, "no-files", false, "skip the file hunt (web shells, dumps, archives)")
	fs.BoolVar(&hf.noLogs, "no-logs", false, "skip the logs; hunt files only")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance reports)")
	fs.BoolVar(&hf.dispatch, "dispatch", false, "hunt each PATH on \"exhunt worker\"s through a NATS JetStream queue (uploaded, or named with --shared)")
	fs.StringVar(&hf.natsURL, "nats", "", "with --dispatch: NATS server URLs, comma-separated")
	fs.BoolVar(&hf.shared, "shared", false, "with --dispatch: the paths are on storage every worker reads under the same name; nothing is uploaded")
	fs.StringVar(&hf.dispatchID, "dispatch-id", "", "with --dispatch: the dispatch's id (default: random)")
	fs.IntVar(&hf.replicas, "replicas", 3, "with --dispatch: stream replicas when the streams are created (3 on a cluster, 1 on one server)")
	push := addPushFlags(fs.FlagSet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if hf.dispatch {
		return runHuntDispatch(ctx, hf, fs.Args(), stdout, stderr)
	}
	if err := checkFormat(hf.format, true); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	maxBytes, err := parseSize(hf.maxBytes)
	if err != nil {
		return usageError(err.Error(), "")
	}
	opt := evidence.Options{MaxFileBytes: maxBytes}
	roots := fs.Args()
	var discover hunt.Discover
	if len(roots) == 0 {
		set, err := evidence.Live(ctx, opt)
		if errors.Is(err, evidence.ErrNoLive) {
			return usageError("no PATH given", "name the evidence to hunt, e.g. exhunt hunt ./collection; without PATH exhunt reads the local Exchange server on Windows only")
		}
		if err != nil {
			return err
		}
		roots = []string{"(local server)"}
		discover = hunt.Listed(set)
	} else {
		// host files are hunted as the walk finds them, not listed first
		discover = func(host func(*evidence.Server, *evidence.File)) (*evidence.Set, error) {
			return evidence.Stream(ctx, roots, opt, host)
		}
	}
	res, err := huntEvidence(ctx, discover, roots, hf, stdout, stderr)
	if err != nil {
		return err
	}
	if err := push.pushHunt(ctx, res, stderr); err != nil {
		return err
	}
	if res.Worst() != finding.VerdictClean {
		return errFindings
	}
	return nil
}

// huntSet hunts a discovered set and writes the result in the chosen format.
func huntSet(ctx context.Context, set *evidence.Set, roots []string, hf huntFlags, stdout, stderr io.Writer) (*finding.Result, error) {
	return huntEvidence(ctx, hunt.Listed(set), roots, hf, stdout, stderr)
}

// huntEvidence hunts what discover finds and writes the result in the
// chosen format.
func huntEvidence(ctx context.Context, discover hunt.Discover, roots []string, hf huntFlags, stdout, stderr io.Writer) (*finding.Result, error) {
	cat, err := catalog.Load(hf.rules...)
	if err != nil {
		return nil, fmt.Errorf("loading rules:\n%w", err)
	}
	if err := cat.LoadSigma(hf.sigma...); err != nil {
		return nil, err
	}
	if err := cat.LoadYara(hf.yara...); err != nil {
		return nil, err
	}
	for _, p := range cat.Files.Problems() {
		warn(stderr, "%s", p)
	}
	var maxScan int64
	if hf.maxScan != "" {
		if maxScan, err = parseSize(hf.maxScan); err != nil {
			return nil, usageError(err.Error(), "")
		}
	}
	var set *evidence.Set
	filtered := func(host func(*evidence.Server, *evidence.File)) (*evidence.Set, error) {
		var err error
		set, err = discover(func(s *evidence.Server, f *evidence.File) {
			if !hf.noFiles {
				host(s, f)
			}
		})
		if err != nil {
			return nil, err
		}
		keepKinds(set, hf.noFiles, hf.noLogs)
		return set, nil
	}
	// Only a result file this run creates is removed when nothing was
	// hunted: a path that was there before may be a user's file, or
	// /dev/null when run as root.
	_, statErr := os.Lstat(hf.output)
	created := errors.Is(statErr, fs.ErrNotExist)
	w, closeOut, err := openOutput(hf.output, stdout)
	if err != nil {
		return nil, err
	}
	opt := hunt.Options{Workers: hf.workers, MaxFindingsPerRule: hf.maxPer, Files: files.Options{MaxScanBytes: maxScan}}
	started := time.Now().UTC()
	runID := stream.NewRunID()
	live := hf.format == "jsonl"
	var out stream.Handler
	if live {
		out = report.NewJSONLines(w)
		// a stream opens at once and shows progress; the rest follows the
		// hunt's aggregation
		if err := out.Handle(&stream.Message{RunID: runID, Start: &stream.Start{SchemaVersion: stream.SchemaVersion,
			Kind: finding.KindHunt, Tool: "exhunt", Version: Version(), StartedAt: started, Roots: roots}}); err != nil {
			closeOut()
			return nil, fmt.Errorf("write result: %w", err)
		}
	}
	// progress is drawn on a terminal on stderr, and is part of a stream;
	// it never enters a document
	f, isFile := stderr.(*os.File)
	term := isFile && !hf.quiet && progress.IsTerminal(f)
	if term || live {
		opt.Progress = progress.NewTracker(max(hf.workers, runtime.GOMAXPROCS(0)))
	}
	var disp *progress.Display
	if term {
		disp = progress.Start(stderr, opt.Progress, 200*time.Millisecond)
	}
	stopProgress := func() {}
	if live {
		tr := opt.Progress
		stopProgress = streamProgress(out, runID, func() (p stream.Progress) {
			p.FilesDone, p.FilesTotal, p.BytesDone, p.BytesTotal = tr.Snapshot()
			return p
		}, 5*time.Second)
	}
	res, err := hunt.New(cat, opt).RunStream(ctx, roots, filtered)
	stopProgress()
	disp.Stop()
	if err != nil {
		closeOut()
		return nil, err
	}
	for _, g := range set.Gaps {
		warn(stderr, "%s", g)
	}
	if len(res.Servers) == 0 {
		closeOut()
		if created && hf.output != "" && hf.output != "-" {
			os.Remove(hf.output) // nothing was hunted: no empty result left behind
		}
		return nil, &exitError{code: ExitError, msg: "no Exchange or IIS logs found under " + fmt.Sprint(roots),
			hint: "exhunt recognises:\n  - " + strings.Join(evidence.Layouts, "\n  - ")}
	}
	res.Version = Version()
	res.RunID, res.Kind = runID, finding.KindHunt
	for _, s := range res.Servers {
		for _, g := range s.Gaps {
			if g.Line == 0 {
				warn(stderr, "%s: %s", s.Name, g)
			}
		}
	}
	if live { // the start is written
		err = stream.Emit(res, stream.HandlerFunc(func(m *stream.Message) error {
			if m.Start != nil {
				return nil
			}
			return out.Handle(m)
		}))
	} else {
		err = report.Render(w, res, hf.format, reportOptions(cat, hf.verbose))
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write result: %w", err)
	}
	return res, nil
}

// streamProgress sends a progress message every interval while a run
// goes on, when it has moved; the returned func stops it, and nothing is
// sent after it returns.
func streamProgress(h stream.Handler, runID string, snap func() stream.Progress, interval time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var last stream.Progress
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				p := snap()
				if p == last {
					continue
				}
				last = p
				p.Time = now.UTC()
				h.Handle(&stream.Message{RunID: runID, Progress: &p})
			}
		}
	}()
	return func() { close(stop); <-done }
}

// keepKinds drops the host files (--no-files) or the logs (--no-logs)
// from a discovered set.
func keepKinds(set *evidence.Set, noFiles, noLogs bool) {
	if !noFiles && !noLogs {
		return
	}
	set.Filter(func(f *evidence.File) bool {
		host := f.Kind == evidence.HostFile || f.Kind == evidence.Msert
		return !(host && noFiles || !host && noLogs)
	})
}
