package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/exhunt/exhunt/internal/queue"
	"github.com/exhunt/exhunt/internal/scan"
)

const workerHelp = `Usage: exhunt worker --nats URL [flags]

Takes scan jobs from the NATS JetStream work queue that "exhunt scan
--dispatch" fills, scans their targets with the dispatcher's options and
publishes each result; a job is acknowledged only once all its results are
stored, so a worker that dies leaves its job to another. Run several, on
one machine or many. --scope narrows every job's scope: the worker never
connects outside it, whatever a dispatcher asks.

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
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error(), "run exhunt worker -h")
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)), "run exhunt worker -h")
	}
	if *url == "" {
		return usageError("--nats is required", "")
	}
	if *concurrency < 1 {
		return usageError("--concurrency must be at least 1", "")
	}
	scope, err := parseScope(*scopeFlag)
	if err != nil {
		return err
	}
	if *name == "" {
		h, _ := os.Hostname()
		*name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	data, err := scan.LoadData()
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
	fmt.Fprintf(stderr, "exhunt: worker %s taking scan jobs from %s\n", *name, *url)
	return c.Work(ctx, queue.WorkerOptions{Name: *name, Concurrency: *concurrency, Scope: scope, Data: data,
		Log: func(format string, args ...any) { fmt.Fprintf(stderr, "exhunt: "+format+"\n", args...) }})
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
