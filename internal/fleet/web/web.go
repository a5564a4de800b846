// Package web is the fleet server's HTTP front: the router with the ingest
// API, and the listener rules (TLS from files or a self-signed certificate
// made at first start; plain HTTP only on loopback unless allowed).
package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// Config is how the server listens.
type Config struct {
	Addr string
	// TLSCert and TLSKey name PEM files; empty with plain HTTP off: a
	// self-signed pair is made in StateDir at first start.
	TLSCert, TLSKey string
	StateDir        string
	// PlainHTTP serves without TLS: allowed on loopback, elsewhere only
	// with InsecureHTTP.
	PlainHTTP, InsecureHTTP bool
}

// Router returns the whole server for a store: ingest, login, dashboard.
// With q set, ingest publishes to q and a writer stores what it holds.
func Router(s *store.Store, q ingest.Queue) http.Handler {
	return (&Dashboard{Store: s, Ingest: &ingest.Handler{Sink: s, Queue: q, Tokens: s}}).Handler()
}

// Loopback reports whether addr (host:port) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen opens the listener under the TLS rules; url is where it answers.
func Listen(cfg Config) (l net.Listener, url string, err error) {
	if cfg.PlainHTTP && !cfg.InsecureHTTP && !Loopback(cfg.Addr) {
		return nil, "", fmt.Errorf("plain HTTP on %s is not loopback: use TLS, or pass --insecure-http behind a TLS proxy", cfg.Addr)
	}
	l, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, "", err
	}
	if cfg.PlainHTTP {
		return l, "http://" + l.Addr().String(), nil
	}
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" || keyFile == "" {
		if certFile, keyFile, err = selfSigned(cfg.StateDir); err != nil {
			l.Close()
			return nil, "", err
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		l.Close()
		return nil, "", err
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	return tl, "https://" + l.Addr().String(), nil
}

// selfSigned returns a certificate pair in dir, made on first use.
func selfSigned(dir string) (certFile, keyFile string, err error) {
	if dir == "" {
		return "", "", errors.New("no --tls-cert/--tls-key and no state directory for a self-signed certificate")
	}
	certFile, keyFile = filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
	if _, err := os.Stat(certFile); err == nil {
		return certFile, keyFile, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	host, _ := os.Hostname()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "exhunt serve " + host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(2, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", host}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// Serve serves h on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		return err
	}
}
