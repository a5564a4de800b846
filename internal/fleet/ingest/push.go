package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
)

// Pusher sends messages to a fleet server. Every message is first written
// to the spool directory and removed only once the server has stored it
// (or refused it for good), so messages survive the server being down and
// the sender being restarted: the next Flush sends what is left, in order.
type Pusher struct {
	// URL is the server's base URL; several, comma-separated, are replicas
	// of one server (exhunt serve --nats): a message goes to the one that
	// last answered, and to the next when it does not.
	URL   string
	Token string
	Spool string
	HTTP  *http.Client
	// Log hears of retries and refusals.
	Log func(format string, args ...any)

	mu  sync.Mutex
	seq int
	cur int // the replica that last answered
}

// ErrRejected wraps a permanent refusal (4xx): the message is moved aside
// as *.rejected and not retried.
var ErrRejected = errors.New("rejected by the server")

// Enqueue writes m to the spool.
func (p *Pusher) Enqueue(m *fleet.Run) error {
	if err := os.MkdirAll(p.Spool, 0o700); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.seq++
	name := fmt.Sprintf("%s-%019d-%06d.json", time.Now().UTC().Format("20060102T150405"), time.Now().UnixNano(), p.seq)
	p.mu.Unlock()
	tmp := filepath.Join(p.Spool, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(p.Spool, name))
}

// Pending lists spooled messages, oldest first.
func (p *Pusher) Pending() ([]string, error) {
	ents, err := os.ReadDir(p.Spool)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			out = append(out, filepath.Join(p.Spool, n))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Flush sends the spool, retrying with backoff until it is empty or ctx
// ends; it returns the number sent and, when ctx ended first, ctx's error.
func (p *Pusher) Flush(ctx context.Context) (int, error) {
	sent := 0
	delay := 500 * time.Millisecond
	for {
		files, err := p.Pending()
		if err != nil {
			return sent, err
		}
		if len(files) == 0 {
			return sent, nil
		}
		progress := false
		var lastErr error
		for _, f := range files {
			err := p.send(ctx, f)
			if errors.Is(err, ErrRejected) {
				os.Rename(f, f+".rejected")
				p.logf("push: %s: %v (kept as %s.rejected)", filepath.Base(f), err, filepath.Base(f))
				progress = true
				continue
			}
			if err != nil {
				lastErr = err
				break
			}
			os.Remove(f)
			sent++
			progress = true
		}
		if progress {
			delay = 500 * time.Millisecond
			continue
		}
		p.logf("push: %v; retrying in %s (%d spooled in %s)", lastErr, delay, len(files), p.Spool)
		select {
		case <-ctx.Done():
			return sent, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
	}
}

func (p *Pusher) logf(format string, args ...any) {
	if p.Log != nil {
		p.Log(format, args...)
	}
}

func (p *Pusher) send(ctx context.Context, file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	urls := strings.Split(p.URL, ",")
	p.mu.Lock()
	first := p.cur
	p.mu.Unlock()
	var errs []error
	for i := range urls {
		n := (first + i) % len(urls)
		err := p.sendTo(ctx, strings.TrimSpace(urls[n]), buf.Bytes())
		if err == nil || errors.Is(err, ErrRejected) || ctx.Err() != nil {
			p.mu.Lock()
			p.cur = n
			p.mu.Unlock()
			return err
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sendTo posts one compressed message to one replica.
func (p *Pusher) sendTo(ctx context.Context, base string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+Path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	c := p.HTTP
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r Response
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&r)
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		// A token may be fixed on the server side: keep the message.
		return fmt.Errorf("server answered %s: %s", resp.Status, r.Error)
	case resp.StatusCode < 500:
		return fmt.Errorf("%w: %s: %s", ErrRejected, resp.Status, r.Error)
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, r.Error)
}

// Token reads the ingest token from EXHUNT_TOKEN or, when file is set, from
// that file (first line).
func Token(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		t := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		if t == "" {
			return "", fmt.Errorf("%s: no token in the file", file)
		}
		return t, nil
	}
	if t := strings.TrimSpace(os.Getenv("EXHUNT_TOKEN")); t != "" {
		return t, nil
	}
	return "", errors.New("no ingest token: set EXHUNT_TOKEN or pass --push-token-file")
}

// DefaultSpool is the spool directory for pushes to url.
func DefaultSpool(url string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "exhunt", "spool", fleet.SpoolName(url))
}
