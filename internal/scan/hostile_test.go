package scan

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
)

// hostile is a loopback TCP server that misbehaves in one way. written
// counts the bytes it managed to send, to show the scanner stopped
// reading.
type hostile struct {
	ln      net.Listener
	written atomic.Int64
	wg      sync.WaitGroup
	stop    chan struct{}
}

func newHostile(t *testing.T, tlsConf *tls.Config, serve func(h *hostile, c net.Conn)) *hostile {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	h := &hostile{ln: ln, stop: make(chan struct{})}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.wg.Go(func() {
				defer c.Close()
				serve(h, c)
			})
		}
	})
	t.Cleanup(func() { close(h.stop); ln.Close(); h.wg.Wait() })
	return h
}

func (h *hostile) port() string { return h.ln.Addr().(*net.TCPAddr).AddrPort().String() }

// write sends b unless the client is gone or the test ends.
func (h *hostile) write(c net.Conn, b []byte) bool {
	select {
	case <-h.stop:
		return false
	default:
	}
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Write(b)
	h.written.Add(int64(n))
	return err == nil
}

func readRequest(c net.Conn) bool {
	_, err := http.ReadRequest(bufio.NewReader(c))
	return err == nil
}

func testCert(t testing.TB, rsaKey bool) tls.Certificate {
	t.Helper()
	var key, pub any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key, pub = k, &k.PublicKey
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key, pub = k, &k.PublicKey
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hostile"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestHostileServers: each misbehaving server costs at most its timeouts,
// the scanner reads a bounded amount from it, and the scan finishes with a
// result for every target.
func TestHostileServers(t *testing.T) {
	tlsConf := &tls.Config{Certificates: []tls.Certificate{testCert(t, false)}}
	chunk := []byte(strings.Repeat("<p>lorem ipsum dolor sit amet</p>\n", 1000))
	servers := map[string]*hostile{
		"stall": newHostile(t, nil, func(h *hostile, c net.Conn) { <-h.stop }),
		"stall-after-tls": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			readRequest(c)
			<-h.stop
		}),
		"slowloris": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			readRequest(c)
			h.write(c, []byte("HTTP/1.1 200 OK\r\nX-Slow: "))
			for h.write(c, []byte("a")) {
				time.Sleep(50 * time.Millisecond)
			}
		}),
		"endless-headers": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			readRequest(c)
			h.write(c, []byte("HTTP/1.1 200 OK\r\n"))
			line := []byte("X-Filler: " + strings.Repeat("x", 1000) + "\r\n")
			for h.write(c, line) {
			}
		}),
		"endless-body": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			for readRequest(c) {
				h.write(c, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"))
				for h.write(c, chunk) {
				}
				return
			}
		}),
		"close-mid-response": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			readRequest(c)
			h.write(c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<html><title>Outlook"))
		}),
		"garbage-tls": newHostile(t, nil, func(h *hostile, c net.Conn) {
			b := make([]byte, 4096)
			rand.Read(b)
			h.write(c, b)
		}),
		"redirect-loop": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			br := bufio.NewReader(c)
			for i := 0; ; i++ {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				if !h.write(c, []byte("HTTP/1.1 302 Found\r\nLocation: /owa/auth/logon.aspx?loop="+string(rune('a'+i%26))+"\r\nContent-Length: 0\r\n\r\n")) {
					return
				}
			}
		}),
		"redirect-off-target": newHostile(t, tlsConf, func(h *hostile, c net.Conn) {
			readRequest(c)
			h.write(c, []byte("HTTP/1.1 302 Found\r\nLocation: https://192.0.2.1/owa/auth/logon.aspx\r\nContent-Length: 0\r\n\r\n"))
		}),
	}
	opt := testOptions()
	opt.Connect, opt.TLS, opt.Read = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	opt.Retries, opt.ErrorBudget = 1, 2
	var urls []string
	names := map[string]string{}
	for name, h := range servers {
		u := "https://" + h.port()
		urls = append(urls, u)
		names[u] = name
	}
	// A malformed line in the middle: reported, the rest goes on.
	urls = append(urls[:2], append([]string{"not a host!"}, urls[2:]...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := map[string]*Result{}
	var mu sync.Mutex
	err := New(opt, testData(t)).Run(ctx, &Input{Args: urls, Ports: []int{443}, MaxExpand: 10}, nil, func(r *Result) error {
		mu.Lock()
		defer mu.Unlock()
		key := r.Target
		if r.Status == StatusInvalid {
			key = r.Input
		}
		got[key] = r
		return nil
	})
	if err != nil {
		t.Fatalf("scan did not finish: %v", err)
	}
	if r := got["not a host!"]; r == nil || r.Status != StatusInvalid || r.Error == "" {
		t.Errorf("malformed line: %+v", r)
	}
	for u, name := range names {
		r := got[u]
		if r == nil {
			t.Errorf("%s: no result", name)
			continue
		}
		if r.Status == StatusExchange {
			t.Errorf("%s: taken for Exchange: %+v", name, r)
		}
		// A request and its retry, a control request at most.
		if r.Requests > 2*(opt.Retries+1) {
			t.Errorf("%s: %d requests", name, r.Requests)
		}
		t.Logf("%-20s %-13s %3d requests  %s", name, r.Status, r.Requests, r.Error)
	}
	for _, name := range []string{"endless-headers", "endless-body"} {
		// Bounded by the caps plus socket buffers; unbounded reading would
		// take hundreds of megabytes in the read timeout on loopback.
		if n := servers[name].written.Load(); n > 32<<20 {
			t.Errorf("%s: the server got %d bytes out: reading is not bounded", name, n)
		}
	}
	if r := got["https://"+servers["redirect-off-target"].port()]; r == nil || !strings.Contains(r.Evidence[0].Said, "not followed") && len(r.Evidence) > 0 {
		t.Errorf("redirect off target: %+v", r)
	}
}

// TestLegacyTLS: a server that speaks only TLS 1.0 with RSA key exchange
// (an unmaintained Exchange 2010) is reachable with legacy TLS on, and
// not with it off.
func TestLegacyTLS(t *testing.T) {
	d := testData(t)
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, err := decoy.NewProfile(d.Builds, "14.3.123.4", decoy.StateVulnerable, decoy.RevealAll, "EXCH2010")
	if err != nil {
		t.Fatal(err)
	}
	p.Legacy = true
	tg, err := srv.Listen("https", "127.0.0.1:0", p)
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve()
	for _, legacy := range []bool{true, false} {
		opt := testOptions()
		opt.LegacyTLS = legacy
		opt.Retries = 0
		r := New(opt, d).Scan(context.Background(), &Target{Scheme: "https", Host: "127.0.0.1", Port: portOf(t, tg.URL)})
		if legacy && (r.Status != StatusExchange || r.Exchange.Build != "14.3.123.4") {
			t.Errorf("legacy on: %s %s", r.Status, r.Error)
		}
		if !legacy && r.Status != StatusUnreachable {
			t.Errorf("legacy off: %s, want unreachable", r.Status)
		}
	}
}

func portOf(t *testing.T, u string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(u, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestSHA1Signatures: a TLS 1.2 server that can only sign with SHA-1 is
// refused by Go's defaults and reached once AllowSHA1Signatures ran.
func TestSHA1Signatures(t *testing.T) {
	cert := testCert(t, true)
	cert.SupportedSignatureAlgorithms = []tls.SignatureScheme{tls.PKCS1WithSHA1}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-OWA-Version", "15.0.1497.2")
		w.Write([]byte("<title>Outlook</title>"))
	}))
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	scanOnce := func() *Result {
		opt := testOptions()
		opt.Retries = 0
		return New(opt, testData(t)).Scan(context.Background(), &Target{Scheme: "https", Host: "127.0.0.1", Port: port})
	}
	t.Setenv("GODEBUG", "tlssha1=0")
	if r := scanOnce(); r.Status != StatusUnreachable {
		t.Fatalf("SHA-1 only server reached with Go's defaults: %s", r.Status)
	}
	t.Setenv("GODEBUG", "")
	AllowSHA1Signatures()
	if r := scanOnce(); r.Status != StatusExchange {
		t.Errorf("with SHA-1 signatures allowed: %s %s", r.Status, r.Error)
	}
}
