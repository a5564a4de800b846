// Package scan checks Exchange servers over the network, read-only: is it
// Exchange, which build, is that build exposed to each exploit chain, is a
// URL-rewrite mitigation in place, do known web shells answer. Requests are
// GETs of public pages and the public checks' requests; nothing
// authenticates, writes, creates mail or runs code on a target.
//
// Targets stream in (ranges expand lazily) and results stream out as each
// target completes, so memory does not grow with the target list.
package scan

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Scanner runs scans with one set of options.
type Scanner struct {
	opt      Options
	data     *Data
	tlsConf  *tls.Config
	resolver *net.Resolver
	global   *limiter
	hosts    hostLimiters
}

// New returns a Scanner.
func New(opt Options, data *Data) *Scanner {
	if opt.Concurrency < 1 {
		opt.Concurrency = 1
	}
	if opt.ErrorBudget < 1 {
		opt.ErrorBudget = 1
	}
	s := &Scanner{opt: opt, data: data, tlsConf: ClientTLS(opt.LegacyTLS), resolver: net.DefaultResolver}
	s.global = newLimiter(opt.Rate, max(1, int(opt.Rate/10)))
	s.hosts = hostLimiters{m: map[string]*hostLimiter{}, rate: opt.HostRate}
	return s
}

// Run scans every target of in except those skip says are done, calling
// emit with each result as it completes (from one goroutine at a time).
// It returns when all are done, emit fails, or ctx ends.
func (s *Scanner) Run(ctx context.Context, in *Input, skip func(*Target) (bool, error), emit func(*Result) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *Target, s.opt.Concurrency)
	results := make(chan *Result, s.opt.Concurrency)
	var inErr, skipErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(jobs)
		inErr = in.Stream(ctx, func(t *Target) bool {
			if skip != nil {
				done, err := skip(t)
				if err != nil {
					skipErr = err
					cancel()
					return false
				}
				if done {
					return true
				}
			}
			select {
			case jobs <- t:
				return true
			case <-ctx.Done():
				return false
			}
		})
	})
	var workers sync.WaitGroup
	for range s.opt.Concurrency {
		workers.Go(func() {
			for t := range jobs {
				res := s.Scan(ctx, t)
				if ctx.Err() != nil {
					// Interrupted mid-target: leave it for a resume.
					continue
				}
				results <- res
			}
		})
	}
	go func() { workers.Wait(); close(results) }()
	var emitErr error
	for res := range results {
		if emitErr == nil {
			if emitErr = emit(res); emitErr != nil {
				cancel()
			}
		}
	}
	wg.Wait()
	if skipErr != nil {
		return skipErr
	}
	if emitErr != nil {
		return emitErr
	}
	if inErr != nil && !errors.Is(inErr, context.Canceled) {
		return inErr
	}
	return ctx.Err()
}

// Scan checks one target.
func (s *Scanner) Scan(ctx context.Context, t *Target) *Result {
	start := time.Now()
	res := &Result{Seq: t.Seq, Target: t.URL(), Time: start.UTC().Truncate(time.Millisecond)}
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	if t.Err != "" {
		res.Input, res.Status, res.Error = t.Input, StatusInvalid, t.Err
		return res
	}
	if a, err := netip.ParseAddr(t.Host); err == nil && !inScope(s.opt.Scope, a) {
		res.Status, res.Error = StatusOutOfScope, "address is outside the scan scope; nothing sent"
		return res
	}
	tc := *t
	s.scanTarget(ctx, &tc, res)
	if res.Status == StatusUnreachable && strings.Contains(res.Error, "outside the scan scope") {
		// A name that resolved outside the scope: the dialer refused it.
		res.Status = StatusOutOfScope
	}
	return res
}
