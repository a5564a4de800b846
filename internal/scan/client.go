package scan

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options tune a scan's network behaviour. The zero value is not usable;
// start from DefaultOptions.
type Options struct {
	Concurrency int           // targets scanned at once
	Rate        float64       // requests per second in all; 0: no limit
	HostRate    float64       // requests per second to one host; 0: no limit
	Connect     time.Duration // TCP connect timeout
	TLS         time.Duration // TLS handshake timeout
	Read        time.Duration // time to the response headers, and again for the body
	Retries     int           // extra tries of a request after a transient error
	Backoff     time.Duration // first retry delay, doubled each time
	ErrorBudget int           // failed requests after which a target is given up
	UserAgent   string
	// LegacyTLS allows TLS 1.0 and 1.1, RSA key exchange and CBC suites,
	// so Exchange 2010 and 2013 on old Windows can be reached.
	LegacyTLS bool
	// Scope, when not empty, lists the only networks that may be
	// connected to; every dial is checked, after name resolution.
	Scope []netip.Prefix

	// Checks.
	ProxyLogonProbe bool
	ProxyShellProbe bool
	MitigationProbe bool
	// SUProbe bounds the requests spent finding the security update when
	// only the CU is known (0: off).
	SUProbe int
	// Webshells probes the known web-shell paths (with a random-name
	// baseline per folder).
	Webshells bool
}

// DefaultOptions are safe defaults for scanning on the Internet.
func DefaultOptions() Options {
	return Options{
		Concurrency: 200, HostRate: 10,
		Connect: 5 * time.Second, TLS: 5 * time.Second, Read: 10 * time.Second,
		Retries: 1, Backoff: 500 * time.Millisecond, ErrorBudget: 4,
		UserAgent: "exhunt-scan (read-only Exchange exposure check)",
		LegacyTLS: true, ProxyLogonProbe: true, ProxyShellProbe: true, MitigationProbe: true,
	}
}

// Body size caps per answer: logon pages are a few KB, manifests smaller.
const (
	maxBody      = 256 << 10
	maxHeader    = 64 << 10
	maxRedirects = 1
)

// errOutOfScope is returned by the dialer for an address outside --scope.
type errOutOfScope struct{ addr string }

func (e *errOutOfScope) Error() string { return "address " + e.addr + " is outside the scan scope" }

func inScope(scope []netip.Prefix, a netip.Addr) bool {
	if len(scope) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range scope {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// legacySuites are every suite crypto/tls implements, secure ones first:
// naming them explicitly is what enables RSA key exchange and 3DES.
var legacySuites = func() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}()

// ClientTLS is the scanner's TLS configuration. Certificates are not
// verified: the scanner reads public pages and must reach servers with
// self-signed certificates, as most Exchange installs have. With legacy
// on it accepts TLS 1.0 and 1.1 and the RSA key exchange suites.
func ClientTLS(legacy bool) *tls.Config {
	c := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"},
		// Classical key exchange only: the hybrid post-quantum one costs
		// several times more per handshake and protects nothing a scan of
		// public pages sends.
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}}
	if legacy {
		c.MinVersion = tls.VersionTLS10
		c.CipherSuites = legacySuites
	}
	// One cache per scan: each target is a different server, so it only
	// helps when many targets share an address.
	c.ClientSessionCache = tls.NewLRUClientSessionCache(1024)
	return c
}

// conn is one target's HTTP client: one connection, reused while the
// server keeps it open.
type conn struct {
	s      *Scanner
	t      *Target
	tr     *http.Transport
	client *http.Client
	base   string
	// ip is the address connected to. The transport dials on its own
	// goroutine, which can outlive a cancelled request, so it is atomic.
	ip   atomic.Pointer[string]
	errs int // failed requests so far
	reqs int
	host *hostLimiter
}

func (s *Scanner) newConn(t *Target) *conn {
	c := &conn{s: s, t: t, base: t.URL()}
	dialer := &net.Dialer{Timeout: s.opt.Connect, KeepAlive: -1}
	c.tr = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := s.resolve(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error
			for _, ip := range ips {
				if !inScope(s.opt.Scope, ip) {
					last = &errOutOfScope{ip.String()}
					continue
				}
				nc, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					a := ip.String()
					c.ip.Store(&a)
					return nc, nil
				}
				last = err
			}
			return nil, last
		},
		TLSClientConfig:        s.tlsConf,
		TLSHandshakeTimeout:    s.opt.TLS,
		ResponseHeaderTimeout:  s.opt.Read,
		MaxResponseHeaderBytes: maxHeader,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    1,
		MaxConnsPerHost:        1,
		IdleConnTimeout:        30 * time.Second,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		Proxy:                  nil,
	}
	c.client = &http.Client{
		Transport:     c.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

func (c *conn) close() { c.tr.CloseIdleConnections() }

func (s *Scanner) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	return addrs, nil
}

// answer is a response read in full (up to the cap).
type answer struct {
	status int
	header http.Header
	body   []byte
	// aborted: the server dropped the connection without an answer.
	aborted bool
	err     error
}

func (a *answer) get(k string) string {
	if a.header == nil {
		return ""
	}
	return a.header.Get(k)
}

// errBudget ends a target's scan: too many requests failed.
var errBudget = errors.New("error budget exhausted")

// do sends one request (GET unless a method is given in the path as
// "METHOD /path"), with retries for transient errors. A request that
// fails on every try counts against the target's error budget.
func (c *conn) do(ctx context.Context, path string, hdr map[string]string) *answer {
	return c.doTries(ctx, path, hdr, c.s.opt.Retries)
}

// probe sends a check whose dropped connection is itself the answer (a
// rewrite rule aborting it): no retry with backoff, since net/http already
// retries an idempotent request once when a reused connection drops it.
func (c *conn) probe(ctx context.Context, path string, hdr map[string]string) *answer {
	return c.doTries(ctx, path, hdr, 0)
}

func (c *conn) doTries(ctx context.Context, path string, hdr map[string]string, retries int) *answer {
	method := http.MethodGet
	if m, p, ok := strings.Cut(path, " "); ok && !strings.HasPrefix(path, "/") {
		method, path = m, p
	}
	if c.errs >= c.s.opt.ErrorBudget {
		return &answer{err: errBudget}
	}
	var a *answer
	for try := 0; try <= retries; try++ {
		if try > 0 {
			d := c.s.opt.Backoff << (try - 1)
			select {
			case <-ctx.Done():
				return &answer{err: ctx.Err()}
			case <-time.After(d):
			}
		}
		a = c.once(ctx, method, path, hdr)
		if a.err == nil || !transient(a.err) {
			break
		}
	}
	if a.err != nil {
		c.errs++
	}
	return a
}

func (c *conn) once(ctx context.Context, method, path string, hdr map[string]string) *answer {
	if err := c.s.wait(ctx, c.host); err != nil {
		return &answer{err: err}
	}
	c.reqs++
	ctx, cancel := context.WithTimeout(ctx, c.s.opt.Connect+c.s.opt.TLS+2*c.s.opt.Read)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return &answer{err: err}
	}
	req.Header["User-Agent"] = []string{c.s.opt.UserAgent}
	req.Header["Accept"] = []string{"*/*"}
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return &answer{err: err, aborted: dropped(err)}
	}
	defer resp.Body.Close()
	// The body gets its own read deadline: a server trickling bytes costs
	// at most that long.
	timer := time.AfterFunc(c.s.opt.Read, cancel)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	timer.Stop()
	a := &answer{status: resp.StatusCode, header: resp.Header, body: body}
	if err != nil && len(body) == 0 {
		// Headers came but the body did not: keep what was said.
		a.body = nil
	}
	return a
}

// transient reports whether retrying may help: timeouts and dropped
// connections, not refusals, DNS failures or out-of-scope addresses.
func transient(err error) bool {
	var oos *errOutOfScope
	if errors.As(err, &oos) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
		return false
	}
	var tlsErr *tls.RecordHeaderError
	if errors.As(err, &tlsErr) {
		return false
	}
	return true
}

// dropped reports whether the server closed the connection without an
// answer, as IIS URL Rewrite's AbortRequest does.
func dropped(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed") || strings.Contains(err.Error(), "connection reset")
}

// describe turns a request error into a short message for results.
func describe(err error) string {
	var oos *errOutOfScope
	switch {
	case errors.As(err, &oos):
		return oos.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, errBudget):
		return errBudget.Error()
	}
	var tlsErr *tls.RecordHeaderError
	if errors.As(err, &tlsErr) {
		return "not TLS: the server answered something else"
	}
	var uerr interface{ Unwrap() error }
	msg := err.Error()
	if errors.As(err, &uerr) {
		// url.Error repeats the method and URL; keep the cause.
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "\"") {
			msg = msg[i+2:]
		}
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// hostLimiter paces the requests to one host.
type hostLimiter struct {
	limiter
	refs int
}

// limiter spaces events interval apart, letting up to burst through at
// once after a quiet spell.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    time.Duration
	next     time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	l := &limiter{}
	l.set(perSecond, burst)
	return l
}

func (l *limiter) set(perSecond float64, burst int) {
	if perSecond > 0 {
		l.interval = time.Duration(float64(time.Second) / perSecond)
		l.burst = time.Duration(burst) * l.interval
	}
}

func (l *limiter) wait(ctx context.Context) error {
	if l == nil || l.interval == 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	if floor := now.Add(-l.burst); l.next.Before(floor) {
		l.next = floor
	}
	at := l.next
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait paces one request: the global limit, then the host's.
func (s *Scanner) wait(ctx context.Context, h *hostLimiter) error {
	if err := s.global.wait(ctx); err != nil {
		return err
	}
	if h != nil {
		return h.wait(ctx)
	}
	return nil
}

// hostLimiters hands out one limiter per host, kept while targets on it
// are being scanned.
type hostLimiters struct {
	mu   sync.Mutex
	m    map[string]*hostLimiter
	rate float64
}

func (h *hostLimiters) get(host string) *hostLimiter {
	if h.rate <= 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.m[host]
	if l == nil {
		l = &hostLimiter{}
		l.set(h.rate, 1)
		h.m[host] = l
	}
	l.refs++
	return l
}

func (h *hostLimiters) put(host string, l *hostLimiter) {
	if l == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(h.m, host)
	}
}

// AllowSHA1Signatures lets TLS 1.2 handshakes use SHA-1 signatures, which
// Go refuses by default since 1.25 and which servers of the Exchange 2010
// and 2013 era may still send. Go re-reads GODEBUG when it is set; the
// setting is process-wide, so only the scanning command calls this.
func AllowSHA1Signatures() {
	cur := os.Getenv("GODEBUG")
	if strings.Contains(cur, "tlssha1=") {
		return
	}
	if cur != "" {
		cur += ","
	}
	os.Setenv("GODEBUG", cur+"tlssha1=1")
}

// addr returns the address connected to, or "".
func (c *conn) addr() string {
	if p := c.ip.Load(); p != nil {
		return *p
	}
	return ""
}
