package decoy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what every listener of a Server shares.
type Config struct {
	// LogDir, when set, receives HttpProxy and IIS W3C logs under
	// LogDir/<server name>/, in the folder layout of an Exchange server.
	LogDir string
	// Events, when set, receives one JSON line per classified request.
	Events io.Writer
}

// Target is one listener and what it emulates.
type Target struct {
	// URL is how clients reach it: https://127.0.0.1:8443.
	URL     string   `json:"url"`
	Profile *Profile `json:"-"`

	ip   string
	port int
	tls  bool
	ln   net.Listener
}

// Server serves any number of listeners from one http.Server.
type Server struct {
	cfg    Config
	srv    *http.Server
	logs   *logWriter
	events *eventSink

	mu      sync.Mutex
	targets []*Target
	modern  *tls.Config
	legacy  *tls.Config
	wg      sync.WaitGroup
	closed  bool
}

type ctxKey struct{}

// New returns a Server with no listeners.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg}
	if cfg.LogDir != "" {
		w, err := newLogWriter(cfg.LogDir)
		if err != nil {
			return nil, fmt.Errorf("decoy: log folder: %w", err)
		}
		s.logs = w
	}
	if cfg.Events != nil {
		s.events = &eventSink{w: cfg.Events}
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		// Far above HTTP.sys's limit, so that over-long requests reach the
		// handler and are logged rather than refused unseen.
		MaxHeaderBytes: maxHeaderBytes,
		// IIS answers HTTP/1.1 here; HTTP/2 stays off.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			if tc, ok := c.(*targetConn); ok {
				return context.WithValue(ctx, ctxKey{}, tc.t)
			}
			return ctx
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return s, nil
}

// Listen binds one listener. scheme is http or https; addr is host:port
// (port 0 picks a free one). The listener serves once Serve runs.
func (s *Server) Listen(scheme, addr string, p *Profile) (*Target, error) {
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("decoy: scheme %q: want http or https", scheme)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("decoy: %w", err)
	}
	ta := ln.Addr().(*net.TCPAddr)
	t := &Target{Profile: p, ip: ta.IP.String(), port: ta.Port, tls: scheme == "https"}
	t.URL = scheme + "://" + net.JoinHostPort(t.ip, strconv.Itoa(t.port))
	var l net.Listener = &targetListener{Listener: ln, t: t}
	if t.tls {
		cfg, err := s.tlsConfig(p.Legacy)
		if err != nil {
			ln.Close()
			return nil, err
		}
		l = tls.NewListener(l, cfg)
	}
	t.ln = l
	s.mu.Lock()
	s.targets = append(s.targets, t)
	s.mu.Unlock()
	return t, nil
}

// Serve starts serving every listener bound so far and returns at once.
func (s *Server) Serve() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if t.ln == nil {
			continue
		}
		ln := t.ln
		t.ln = nil
		s.wg.Go(func() { s.srv.Serve(ln) })
	}
}

// Targets returns the listeners.
func (s *Server) Targets() []*Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Target(nil), s.targets...)
}

// Close stops every listener, drops open connections and flushes the logs.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, t := range s.targets {
		if t.ln != nil {
			t.ln.Close()
		}
	}
	s.mu.Unlock()
	err := s.srv.Close()
	s.wg.Wait()
	if s.logs != nil {
		if lerr := s.logs.close(); err == nil {
			err = lerr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ServeHTTP answers as the listener's profile says.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := r.Context().Value(ctxKey{}).(*Target)
	if t == nil {
		http.Error(w, "no target", http.StatusInternalServerError)
		return
	}
	start := time.Now()
	host := r.Host
	if host == "" {
		host = net.JoinHostPort(t.ip, strconv.Itoa(t.port))
	}
	x := &exchangeCtx{t: t, p: t.Profile, w: w, r: r, path: strings.ToLower(r.URL.Path), host: host, size: requestBytes(r)}
	defer func() {
		// Aborts (EOMT rules) end the handler with http.ErrAbortHandler:
		// log the request, then let net/http drop the connection.
		s.record(x, start)
		if v := recover(); v != nil {
			panic(v)
		}
	}()
	if x.size > httpSysMaxRequestBytes {
		x.tooLong()
		return
	}
	x.serve()
}

const (
	// maxHeaderBytes bounds what one request may hold in memory; requests
	// larger still are refused by net/http before any handler runs.
	maxHeaderBytes = 1 << 20
	// httpSysMaxRequestBytes is HTTP.sys's default MaxRequestBytes (request
	// line and headers, 16 KiB): IIS never sees a larger request.
	httpSysMaxRequestBytes = 16 << 10
	// maxLoggedURI is how much of a request's URI events and logs keep.
	maxLoggedURI = 4 << 10
)

// requestBytes is the size of the request line and headers as sent.
func requestBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// targetListener tags each accepted connection with its target.
type targetListener struct {
	net.Listener
	t *Target
}

type targetConn struct {
	net.Conn
	t *Target
}

func (l *targetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &targetConn{Conn: c, t: l.t}, nil
}

// tlsConfig returns the shared TLS configuration, generating its
// self-signed certificate on first use: ECDSA P-256 for modern listeners
// (cheap handshakes), RSA for legacy ones, whose RSA key exchange needs it.
func (s *Server) tlsConfig(legacy bool) (*tls.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if legacy {
		if s.legacy == nil {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return nil, err
			}
			cert, err := selfSigned(key, &key.PublicKey)
			if err != nil {
				return nil, err
			}
			s.legacy = &tls.Config{
				Certificates: []tls.Certificate{cert},
				MinVersion:   tls.VersionTLS10,
				MaxVersion:   tls.VersionTLS10,
				// Listing the suites is what enables RSA key exchange.
				CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA},
				NextProtos:   []string{"http/1.1"},
			}
		}
		return s.legacy, nil
	}
	if s.modern == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		cert, err := selfSigned(key, &key.PublicKey)
		if err != nil {
			return nil, err
		}
		s.modern = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"},
			// IIS on the Windows Server releases Exchange 2013 to 2019 run
			// on speaks TLS 1.2 at most, with session resumption, and no
			// hybrid post-quantum key exchange.
			MaxVersion:       tls.VersionTLS12,
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}}
	}
	return s.modern, nil
}

// selfSigned makes the certificate a fresh Exchange install creates:
// self-signed, named after the server.
func selfSigned(key any, pub any) (tls.Certificate, error) {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Microsoft Exchange"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
