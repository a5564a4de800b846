package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/hunt"
	"github.com/exhunt/exhunt/internal/queue"
	"github.com/exhunt/exhunt/internal/report"
	"github.com/exhunt/exhunt/internal/scan"
	"github.com/exhunt/exhunt/internal/stream"
)

const workerHelp = `Usage: exhunt worker --nats URL [flags]

Takes jobs from the NATS JetStream work queue: scan jobs that "exhunt scan
--dispatch" fills (their targets scanned with the dispatcher's options, each
result published) and hunt jobs that "exhunt hunt --dispatch" fills (the
evidence fetched from the object store, or read on shared storage, hunted
with the built-in rules, the result document stored). A job is acknowledged
only once its results are stored, so a worker that dies leaves its job to
another. Run several, on one machine or many. --scope narrows every scan
job's scope: the worker never connects outside it, whatever a dispatcher
asks.

URL lists the cluster's servers, comma-separated. The worker runs until
interrupted (SIGINT/SIGTERM), handing back the jobs it holds.

Flags:
`

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", workerHelp, stderr)
	url := fs.String("nats", "", "NATS server URLs, comma-separated (required)")
	name := fs.String("name", "", "this worker's name in results (default: host name and process id)")
	concurrency := fs.Int("concurrency", 200, "targets scanned at once")
	scopeFlag := fs.String("scope", "", "comma-separated CIDR ranges: never connect outside them")
	replicas := fs.Int("replicas", 3, "stream replicas when the worker creates the streams (3 on a cluster, 1 on one server)")
	kinds := fs.String("kinds", "scan,hunt", "the jobs to take: scan, hunt or both")
	hunts := fs.Int("hunts", 1, "pieces of evidence hunted at once")
	maxEvidence := fs.String("max-evidence", "64GiB", "largest evidence upload a hunt job may fetch")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *url == "" {
		return usageError("--nats is required", "")
	}
	if *concurrency < 1 {
		return usageError("--concurrency must be at least 1", "")
	}
	doScan, doHunt := false, false
	for _, k := range splitList(*kinds) {
		switch k {
		case "scan":
			doScan = true
		case "hunt":
			doHunt = true
		default:
			return usageError(fmt.Sprintf("--kinds: unknown job kind %q", k), "want scan, hunt or scan,hunt")
		}
	}
	limit, err := parseSize(*maxEvidence)
	if err != nil {
		return usageError(err.Error(), "")
	}
	scope, err := parseScope(*scopeFlag)
	if err != nil {
		return err
	}
	if *name == "" {
		h, _ := os.Hostname()
		*name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	data, err := loadScanData()
	if err != nil {
		return err
	}
	scan.AllowSHA1Signatures()
	lessGC()
	cfg := queue.DefaultConfig()
	cfg.Replicas = *replicas
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	c, err := queue.Connect(cctx, *url, "exhunt worker "+*name, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "exhunt: "+format+"\n", args...) }
	fmt.Fprintf(stderr, "exhunt: worker %s taking %s jobs from %s\n", *name, *kinds, *url)
	var wg sync.WaitGroup
	var scanErr, huntErr error
	if doScan {
		wg.Go(func() {
			scanErr = c.Work(ctx, queue.WorkerOptions{Name: *name, Concurrency: *concurrency, Scope: scope, Data: data, Log: logf})
		})
	}
	if doHunt {
		cat, err := catalog.Load()
		if err != nil {
			return err
		}
		wg.Go(func() {
			huntErr = c.WorkHunts(ctx, queue.HuntWorkerOptions{Name: *name, Jobs: *hunts, MaxEvidence: limit, Hunt: huntDocument(cat), Log: logf})
		})
	}
	wg.Wait()
	return errors.Join(scanErr, huntErr)
}

// huntOptions are the hunt flags a dispatcher sends with each hunt job.
type huntOptions struct {
	NoFiles     bool  `json:"no_files,omitempty"`
	NoLogs      bool  `json:"no_logs,omitempty"`
	MaxFindings int   `json:"max_findings,omitempty"`
	MaxScan     int64 `json:"max_scan_bytes,omitempty"`
}

// huntDocument hunts evidence at a local path with the built-in rules and
// a job's options, and returns the JSON result, as "exhunt hunt --format
// json" writes it.
func huntDocument(cat *catalog.Catalog) queue.HuntFunc {
	return func(ctx context.Context, path string, raw json.RawMessage) ([]byte, error) {
		var o huntOptions
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&o); err != nil {
				return nil, fmt.Errorf("hunt options: %w", err)
			}
		}
		set, err := evidence.Discover(ctx, []string{path}, evidence.Options{})
		if err != nil {
			return nil, err
		}
		keepKinds(set, o.NoFiles, o.NoLogs)
		if len(set.Servers) == 0 {
			return nil, fmt.Errorf("no Exchange or IIS logs found in %s", filepath.Base(path))
		}
		max := o.MaxFindings
		if max <= 0 {
			max = 1000
		}
		res, err := hunt.New(cat, hunt.Options{Workers: 1, MaxFindingsPerRule: max, Files: files.Options{MaxScanBytes: o.MaxScan}}).Run(ctx, set, []string{filepath.Base(path)})
		if err != nil {
			return nil, err
		}
		res.Version = Version()
		return json.Marshal(res)
	}
}

// parseScope reads comma-separated CIDR ranges or addresses.
func parseScope(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(s) {
		if p == "" {
			continue
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, usageError(fmt.Sprintf("scope %q: want CIDR ranges such as 192.0.2.0/24", p), "")
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pre.Masked())
	}
	return out, nil
}

// dispatchScan runs a scan through the work queue instead of in process:
// the same targets, scope and options, results gathered from the workers.
func dispatchScan(ctx context.Context, url, id string, batch, replicas int, opt scan.Options, in *scan.Input, done *scan.Done, stderr io.Writer, emit func(*scan.Result) error) error {
	if id == "" {
		id = queue.DispatchID(opt, in, func(name string) string {
			st, err := os.Stat(name)
			if err != nil {
				return "?"
			}
			return fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano())
		})
	}
	cfg := queue.DefaultConfig()
	cfg.Replicas = replicas
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	c, err := queue.Connect(cctx, url, "exhunt scan --dispatch", cfg)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stderr, "exhunt: dispatch %s (run the same command again to resume it)\n", id)
	start := time.Now()
	progress := func(d, total uint64, workers int) {
		of := "?"
		if total > 0 {
			of = fmt.Sprint(total)
		}
		rate := float64(d) / time.Since(start).Seconds()
		fmt.Fprintf(stderr, "\rexhunt: %d/%s targets done by %d worker(s), %.0f/s   ", d, of, workers, rate)
	}
	err = c.Dispatch(ctx, opt, in, queue.DispatchOptions{ID: id, Batch: batch, Progress: progress, Done: done}, emit)
	fmt.Fprintln(stderr)
	return err
}

// dispatchHunt hunts each path on the workers of the queue and returns
// their results as one: the servers of every piece of evidence, in the
// order given. Evidence a worker could not hunt is named in the error.
func dispatchHunt(ctx context.Context, url, id string, replicas int, shared bool, o huntOptions, paths []string, stderr io.Writer) (*finding.Result, error) {
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = "hunt-" + randomID()
	}
	cfg := queue.DefaultConfig()
	cfg.Replicas = replicas
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	c, err := queue.Connect(cctx, url, "exhunt hunt --dispatch", cfg)
	cancel()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	fmt.Fprintf(stderr, "exhunt: dispatch %s: %d piece(s) of evidence\n", id, len(paths))
	docs := map[string][]byte{}
	err = c.DispatchHunt(ctx, paths, queue.HuntDispatchOptions{ID: id, Shared: shared, Options: raw,
		Progress: func(done, total int) { fmt.Fprintf(stderr, "exhunt: %d/%d hunted\n", done, total) }},
		func(name string, doc []byte) error { docs[name] = doc; return nil })
	res := &finding.Result{SchemaVersion: finding.SchemaVersion, Tool: "exhunt", Version: Version(), StartedAt: time.Now().UTC(), Roots: paths}
	for _, p := range paths {
		doc, ok := docs[p]
		if !ok {
			continue
		}
		var one finding.Result
		if uerr := json.Unmarshal(doc, &one); uerr != nil {
			return nil, fmt.Errorf("%s: the worker's result: %w", p, uerr)
		}
		res.Servers = append(res.Servers, one.Servers...)
		res.Gaps = append(res.Gaps, one.Gaps...)
		res.Rules = max(res.Rules, one.Rules)
	}
	return res, err
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runHuntDispatch is "exhunt hunt --dispatch": the evidence is hunted by
// the queue's workers with the built-in rules, and their results are
// written as one run, in any of the hunt's formats.
func runHuntDispatch(ctx context.Context, hf huntFlags, paths []string, stdout, stderr io.Writer) error {
	switch {
	case hf.natsURL == "":
		return usageError("--dispatch needs --nats URL", "")
	case len(paths) == 0:
		return usageError("--dispatch needs the evidence to hunt as PATH arguments", "")
	case len(hf.rules)+len(hf.sigma)+len(hf.yara) > 0:
		return usageError("--dispatch hunts with the workers' built-in rules: --rules, --sigma and --yara are not sent", "")
	}
	o := huntOptions{NoFiles: hf.noFiles, NoLogs: hf.noLogs, MaxFindings: hf.maxPer}
	if hf.maxScan != "" {
		n, err := parseSize(hf.maxScan)
		if err != nil {
			return usageError(err.Error(), "")
		}
		o.MaxScan = n
	}
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	res, derr := dispatchHunt(ctx, hf.natsURL, hf.dispatchID, hf.replicas, hf.shared, o, paths, stderr)
	if res == nil {
		return derr
	}
	res.RunID, res.Kind = stream.NewRunID(), finding.KindHunt
	w, closeOut, err := openOutput(hf.output, stdout)
	if err != nil {
		return err
	}
	if hf.format == "jsonl" {
		err = stream.Emit(res, report.NewJSONLines(w))
	} else {
		err = report.Render(w, res, hf.format, reportOptions(cat, hf.verbose))
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("write result: %w", err)
	case derr != nil:
		return derr
	case res.Worst() != finding.VerdictClean:
		return errFindings
	}
	return nil
}
