package web

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenRules(t *testing.T) {
	if _, _, err := Listen(Config{Addr: "0.0.0.0:0", PlainHTTP: true}); err == nil || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("plain HTTP off loopback: %v", err)
	}
	dir := t.TempDir()
	l, url, err := Listen(Config{Addr: "127.0.0.1:0", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || !strings.HasPrefix(resp.TLS.PeerCertificates[0].Subject.CommonName, "exhunt serve") {
		t.Fatal("self-signed certificate not served")
	}
	if _, err := filepath.Glob(filepath.Join(dir, "tls-*.pem")); err != nil {
		t.Fatal(err)
	}
}
