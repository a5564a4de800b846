// Package notify sends alerts to webhooks: the alert as JSON, signed with
// HMAC-SHA256, retried with exponential backoff, each attempt's outcome
// kept in the store.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/store"
)

// SignatureHeader carries "t=UNIX,v1=HEX": HMAC-SHA256 with the webhook's
// secret over "UNIX.BODY", so a receiver can check origin and freshness.
const SignatureHeader = "X-Exhunt-Signature"

// Sign returns the signature header value for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Sender delivers due alerts.
type Sender struct {
	Store *store.Store
	HTTP  *http.Client
	// Backoff is the wait after the first failure; it doubles up to an hour.
	Backoff time.Duration
	// MaxAttempts before a delivery is marked failed.
	MaxAttempts int
	Now         func() time.Time
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Once sends every due delivery once and returns how many were attempted.
func (s *Sender) Once(ctx context.Context) (int, error) {
	due, err := s.Store.DueDeliveries(ctx, s.now(), 100)
	if err != nil {
		return 0, err
	}
	for _, d := range due {
		d.Attempts++
		err := s.post(ctx, d)
		switch {
		case err == nil:
			d.State, d.LastError = store.DeliveryDelivered, ""
		case d.Attempts >= max(s.MaxAttempts, 1):
			d.State, d.LastError = store.DeliveryFailed, err.Error()
		default:
			back := max(s.Backoff, time.Second) << min(d.Attempts-1, 12)
			d.Next, d.LastError = s.now().Add(min(back, time.Hour)), err.Error()
		}
		if err := s.Store.RecordDelivery(ctx, d); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

func (s *Sender) post(ctx context.Context, d store.Delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(d.Secret, s.now(), d.Body))
	c := s.HTTP
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Run sends due deliveries until ctx ends.
func (s *Sender) Run(ctx context.Context, every time.Duration) {
	for {
		s.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
