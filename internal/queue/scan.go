package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/scan"
)

// ScanJob is a batch of targets of one dispatch, scanned with the
// dispatcher's options.
type ScanJob struct {
	Schema   int           `json:"schema"`
	Dispatch string        `json:"dispatch"`
	ID       string        `json:"id"`
	Options  scan.Options  `json:"options"`
	Targets  []scan.Target `json:"targets"`
}

// ScanResult is one target's result as published by a worker.
type ScanResult struct {
	Schema   int          `json:"schema"`
	Dispatch string       `json:"dispatch"`
	Job      string       `json:"job"`
	Worker   string       `json:"worker"`
	Result   *scan.Result `json:"result"`
}

// DispatchID names a dispatch by what it scans: the same targets and
// options give the same id, so running the command again resumes it.
// Sources that cannot be read twice (standard input) make it random.
func DispatchID(opt scan.Options, in *scan.Input, fileStamp func(string) string) string {
	h := sha256.New()
	b, _ := json.Marshal(opt)
	h.Write(b)
	for _, a := range in.Args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	for _, f := range in.Files {
		if f == "-" {
			var r [8]byte
			rand.Read(r[:])
			h.Write(r[:])
			continue
		}
		fmt.Fprintf(h, "file %q %s\n", f, fileStamp(f))
	}
	fmt.Fprintf(h, "ports %v\n", in.Ports)
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// DispatchOptions control a dispatch.
type DispatchOptions struct {
	ID string
	// Batch is the number of targets per job.
	Batch int
	// Progress, when set, is called every second or so with the targets
	// done, the total (0 until every job is published) and the workers seen.
	Progress func(done, total uint64, workers int)
	// Done, when set, holds the targets the caller already has (a resumed
	// output file): their stored results are not emitted again, they are
	// not sent to workers, and a target numbered as one of them but named
	// otherwise stops the dispatch (the input changed).
	Done *scan.Done
}

// Dispatch splits the targets of in into jobs on the work queue and
// gathers their results, calling emit once per target (whatever the number
// of times a job ran) in the order results arrive. Results already stored
// for the same dispatch id are emitted first and their targets not sent
// again, so a dispatch that was interrupted continues where it stopped.
func (c *Conn) Dispatch(ctx context.Context, opt scan.Options, in *scan.Input, do DispatchOptions, emit func(*scan.Result) error) error {
	if do.Batch < 1 {
		do.Batch = 100
	}
	rr, err := c.readResults(ctx, do.ID)
	if err != nil {
		return fmt.Errorf("results of %s: %w", do.ID, err)
	}
	defer rr.close()
	g := &gather{done: &bitset{}, workers: map[string]bool{}, emit: emit, dispatch: do.ID, skip: do.Done}

	// What an earlier run of this dispatch already stored.
	for g.read < rr.pending {
		if err := g.take(ctx, rr); err != nil {
			return err
		}
	}

	stop := make(chan struct{})
	var progress sync.WaitGroup
	var total atomic.Uint64
	if do.Progress != nil {
		progress.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					g.mu.Lock()
					d, w := g.count, len(g.workers)
					g.mu.Unlock()
					do.Progress(d, total.Load(), w)
				}
			}
		})
	}
	defer func() { close(stop); progress.Wait() }()

	// Publish the jobs for what is not done, while gathering results in
	// the background, so the first results come in before the last job
	// is sent.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var gerr error
	var gwg sync.WaitGroup
	published := make(chan uint64, 1)
	gwg.Go(func() {
		want := uint64(0)
		known := false
		for {
			if known && g.countNow() >= want {
				return
			}
			select {
			case want = <-published:
				known = true
				continue
			default:
			}
			if err := g.take(gctx, rr); err != nil {
				if gctx.Err() == nil {
					gerr = err
				}
				cancel()
				return
			}
		}
	})

	var n uint64
	batch := make([]scan.Target, 0, do.Batch)
	jobs := 0
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		job := ScanJob{Schema: Schema, Dispatch: do.ID, ID: do.ID + "." + strconv.Itoa(jobs), Options: opt, Targets: batch}
		jobs++
		b, err := json.Marshal(job)
		if err != nil {
			return err
		}
		batch = batch[:0]
		return c.publish(gctx, &nats.Msg{Subject: scanJobSubject, Data: b}, job.ID+"."+hashTargets(job.Targets))
	}
	var sendErr error
	streamErr := in.Stream(gctx, func(t *scan.Target) bool {
		n++
		had, err := do.Done.Skip(t)
		if err != nil {
			sendErr = err
			return false
		}
		// The gatherer marks results as they arrive, concurrently.
		g.mu.Lock()
		stored := g.done.has(t.Seq)
		if had && !stored {
			g.done.set(t.Seq)
			g.count++
		}
		g.mu.Unlock()
		if stored || had {
			return true
		}
		batch = append(batch, *t)
		if len(batch) == do.Batch {
			if sendErr = send(); sendErr != nil {
				return false
			}
		}
		return true
	})
	if sendErr == nil && streamErr == nil {
		sendErr = send()
	}
	if sendErr != nil || streamErr != nil {
		cancel()
		gwg.Wait()
		return errors.Join(sendErr, streamErr)
	}
	total.Store(n)
	published <- n
	gwg.Wait()
	if gerr != nil {
		return gerr
	}
	if g.emitErr != nil {
		return g.emitErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if do.Progress != nil {
		do.Progress(g.countNow(), n, len(g.workers))
	}
	return nil
}

// hashTargets keeps message ids distinct when a resumed dispatch sends a
// smaller batch under a job number an earlier run used.
func hashTargets(ts []scan.Target) string {
	h := sha256.New()
	for _, t := range ts {
		fmt.Fprintf(h, "%d ", t.Seq)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// gather reads one dispatch's results, dropping duplicates by target.
type gather struct {
	dispatch string
	mu       sync.Mutex
	done     *bitset
	count    uint64
	read     uint64
	workers  map[string]bool
	emit     func(*scan.Result) error
	emitErr  error
	skip     *scan.Done
}

func (g *gather) countNow() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}

// take reads the next result, if one comes within a second, and emits it
// unless its target was seen before.
func (g *gather) take(ctx context.Context, rr *resultReader) error {
	m, err := rr.next(ctx, time.Second)
	if err != nil || m == nil {
		return err
	}
	g.read++
	var r ScanResult
	if err := json.Unmarshal(m.Data(), &r); err != nil || r.Result == nil || r.Dispatch != g.dispatch {
		return nil
	}
	g.mu.Lock()
	fresh := !g.done.has(r.Result.Seq)
	if fresh {
		g.done.set(r.Result.Seq)
		g.count++
		g.workers[r.Worker] = true
	}
	g.mu.Unlock()
	if fresh && !g.skip.Has(r.Result.Seq) {
		g.emitErr = g.emit(r.Result)
	}
	return g.emitErr
}

// bitset marks target sequence numbers: one bit per target, so a dispatch
// of millions of targets costs its reader a few hundred kilobytes.
type bitset struct{ w []uint64 }

func (b *bitset) has(i uint64) bool {
	return i/64 < uint64(len(b.w)) && b.w[i/64]&(1<<(i%64)) != 0
}

func (b *bitset) set(i uint64) {
	for i/64 >= uint64(len(b.w)) {
		b.w = append(b.w, 0)
	}
	b.w[i/64] |= 1 << (i % 64)
}

// WorkerOptions control a worker.
type WorkerOptions struct {
	// Name identifies the worker in results and logs.
	Name string
	// Concurrency bounds the targets scanned at once across jobs.
	Concurrency int
	// Scope, when set, narrows every job's scope: the worker never
	// connects outside it, whatever a dispatcher asks.
	Scope []netip.Prefix
	// Data is the reference data scans need.
	Data *scan.Data
	// Log, when set, receives one line per job and per dead letter.
	Log func(format string, args ...any)
}

// Work takes scan jobs until ctx ends. A job is acknowledged only after
// all its results are stored; a job that cannot be read, or that has been
// delivered MaxDeliver times, goes to the dead-letter stream with the
// reason and is removed from the queue, so it never blocks it.
func (c *Conn) Work(ctx context.Context, wo WorkerOptions) error {
	if wo.Concurrency < 1 {
		wo.Concurrency = 1
	}
	if wo.Log == nil {
		wo.Log = func(string, ...any) {}
	}
	cons, err := c.consumer(ctx, JobsStream, ScanWorkers)
	if err != nil {
		return err
	}
	w := &worker{c: c, wo: wo, slots: make(chan struct{}, wo.Concurrency), scanners: map[string]*scan.Scanner{}}
	// Jobs in hand at once: enough to keep every scan slot busy while
	// jobs wait on their slowest targets (a dropped connection's retries).
	// Held jobs cost nothing but their heartbeats; the slots bound the work.
	pull(ctx, cons, max(4, wo.Concurrency/16), func(m jetstream.Msg) { w.handle(ctx, m) })
	return nil
}

// consumer looks up a durable consumer, retrying through a leader
// election or a node coming back.
func (c *Conn) consumer(ctx context.Context, stream, name string) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		cons, err = c.JS.Consumer(ctx, stream, name)
		return err
	})
	return cons, err
}

// pull fetches messages from cons and hands each to handle on its own
// goroutine, at most n at once, until ctx ends; it returns when every
// handler has.
func pull(ctx context.Context, cons jetstream.Consumer, n int, handle func(jetstream.Msg)) {
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		// Wait for a handler to finish rather than poll: a slot is
		// reserved before fetching, and the fetch asks for every free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		free := 1 + cap(slots) - len(slots)
		reserved := true
		batch, err := cons.Fetch(free, jetstream.FetchMaxWait(2*time.Second))
		if err == nil {
			for m := range batch.Messages() {
				if reserved {
					reserved = false
				} else {
					slots <- struct{}{}
				}
				wg.Go(func() {
					defer func() { <-slots }()
					handle(m)
				})
			}
		}
		if reserved {
			<-slots
		}
		if err != nil && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// heartbeat tells JetStream the message m is being worked on, at a third
// of its consumer's ack wait, until the returned stop is called.
func heartbeat(m jetstream.Msg, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(ackWait/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

type worker struct {
	c     *Conn
	wo    WorkerOptions
	slots chan struct{}

	mu       sync.Mutex
	scanners map[string]*scan.Scanner
}

func (w *worker) handle(ctx context.Context, m jetstream.Msg) {
	meta, err := m.Metadata()
	deliveries := uint64(1)
	if err == nil {
		deliveries = meta.NumDelivered
	}
	job, err := decodeJob(m.Data())
	if err == nil && deliveries > uint64(w.c.cfg.MaxDeliver) {
		err = fmt.Errorf("delivered %d times without being completed", deliveries-1)
	}
	if err != nil {
		// A message no worker can read is not retried; one that failed
		// MaxDeliver times will not succeed on the next. The targets of a
		// job given up on are reported as not scanned, so its dispatcher
		// finishes and names them instead of waiting for them.
		if job != nil {
			if perr := w.giveUp(ctx, job, err); perr != nil {
				m.Nak()
				return
			}
		}
		w.c.deadLetter(ctx, m, "scan", deliveries, err, w.wo.Log)
		return
	}
	sc := w.scanner(job.Options)
	defer heartbeat(m, w.c.cfg.AckWait)()

	errs := make(chan error, len(job.Targets))
	var wg sync.WaitGroup
	for i := range job.Targets {
		t := &job.Targets[i]
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			res := sc.Scan(ctx, t)
			// The slot is for scanning; storing the result waits on the
			// cluster, not on the target.
			<-w.slots
			if ctx.Err() != nil {
				errs <- ctx.Err()
				return
			}
			b, err := json.Marshal(ScanResult{Schema: Schema, Dispatch: job.Dispatch, Job: job.ID, Worker: w.wo.Name, Result: res})
			if err == nil {
				id := job.Dispatch + "." + strconv.FormatUint(t.Seq, 10)
				err = w.c.publish(ctx, &nats.Msg{Subject: resultsPrefix + job.Dispatch, Data: b}, id)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			// Left for another delivery: nothing is acknowledged.
			m.Nak()
			return
		}
	}
	if ctx.Err() != nil {
		m.Nak()
		return
	}
	if err := retry(ctx, func(ctx context.Context) error { return m.DoubleAck(ctx) }); err != nil {
		w.wo.Log("job %s: acknowledgement failed (%v); it will run again and its results be dropped as duplicates", job.ID, err)
		return
	}
	w.wo.Log("job %s: %d targets", job.ID, len(job.Targets))
}

// giveUp stores an error result for every target of job. Under the
// results' message ids, a target scanned by an earlier delivery keeps its
// real result.
func (w *worker) giveUp(ctx context.Context, job *ScanJob, reason error) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range job.Targets {
		t := &job.Targets[i]
		res := &scan.Result{Seq: t.Seq, Target: t.URL(), Input: t.Input, Status: scan.StatusError, Time: now,
			Error: "not scanned: job " + job.ID + " moved to the dead-letter stream: " + reason.Error()}
		b, err := json.Marshal(ScanResult{Schema: Schema, Dispatch: job.Dispatch, Job: job.ID, Worker: w.wo.Name, Result: res})
		if err != nil {
			return err
		}
		if err := w.c.publish(ctx, &nats.Msg{Subject: resultsPrefix + job.Dispatch, Data: b}, job.Dispatch+"."+strconv.FormatUint(t.Seq, 10)); err != nil {
			return err
		}
	}
	return nil
}

// scanner returns one Scanner per distinct set of options, so rate limits
// hold across the jobs of a dispatch.
func (w *worker) scanner(opt scan.Options) *scan.Scanner {
	opt.Scope = narrow(opt.Scope, w.wo.Scope)
	opt.Concurrency = w.wo.Concurrency
	key, _ := json.Marshal(opt)
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.scanners[string(key)]; s != nil {
		return s
	}
	s := scan.New(opt, w.wo.Data)
	w.scanners[string(key)] = s
	return s
}

// narrow intersects two scopes, each a union of prefixes; an empty scope
// allows everything.
func narrow(job, worker []netip.Prefix) []netip.Prefix {
	if len(worker) == 0 {
		return job
	}
	if len(job) == 0 {
		return worker
	}
	var out []netip.Prefix
	for _, j := range job {
		for _, w := range worker {
			switch {
			case w.Bits() <= j.Bits() && w.Contains(j.Addr()):
				out = append(out, j)
			case j.Bits() < w.Bits() && j.Contains(w.Addr()):
				out = append(out, w)
			}
		}
	}
	if len(out) == 0 {
		// Disjoint: nothing may be contacted. A prefix no address is in.
		out = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("::/128")}
	}
	return out
}

// ErrPoison marks a message that can never be handled (undecodable,
// another schema): it goes to the dead-letter stream.
var ErrPoison = errors.New("poison message")

// decodeStrict reads one message strictly: unknown fields, trailing data
// and other schema versions are refused rather than half understood.
func decodeStrict[T any](data []byte, schema func(*T) int) (*T, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: undecodable: %v", ErrPoison, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the message", ErrPoison)
	}
	if s := schema(&v); s != Schema {
		return nil, fmt.Errorf("%w: schema %d, want %d", ErrPoison, s, Schema)
	}
	return &v, nil
}

func decodeJob(data []byte) (*ScanJob, error) {
	job, err := decodeStrict(data, func(j *ScanJob) int { return j.Schema })
	switch {
	case err != nil:
		return nil, err
	case job.Dispatch == "" || job.ID == "":
		return nil, fmt.Errorf("%w: job without dispatch or id", ErrPoison)
	case len(job.Targets) == 0:
		return nil, fmt.Errorf("%w: job without targets", ErrPoison)
	}
	return job, nil
}

// Dead-letter headers.
const (
	HeaderReason     = "Exhunt-Reason"
	HeaderSubject    = "Exhunt-Subject"
	HeaderDeliveries = "Exhunt-Deliveries"
	HeaderStreamSeq  = "Exhunt-Stream-Seq"
	HeaderStream     = "Exhunt-Stream"
)

// deadLetter moves a message to the dead-letter stream with the reason
// and removes it from its stream (a job from the queue, a run from the
// ingest stream).
func (c *Conn) deadLetter(ctx context.Context, m jetstream.Msg, kind string, deliveries uint64, reason error, log func(string, ...any)) {
	seq, stream := "0", JobsStream
	if meta, err := m.Metadata(); err == nil {
		seq, stream = strconv.FormatUint(meta.Sequence.Stream, 10), meta.Stream
	}
	dm := &nats.Msg{Subject: deadPrefix + kind, Data: m.Data(), Header: nats.Header{}}
	dm.Header.Set(HeaderReason, reason.Error())
	dm.Header.Set(HeaderSubject, m.Subject())
	dm.Header.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	dm.Header.Set(HeaderStreamSeq, seq)
	dm.Header.Set(HeaderStream, stream)
	if err := c.publish(ctx, dm, "dead."+stream+"."+seq); err != nil {
		m.Nak()
		return
	}
	m.Term()
	log("dead letter (stream sequence %s): %v", seq, reason)
}
