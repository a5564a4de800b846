// Package ingest is the fleet server's write path over HTTP: POST
// /api/v1/runs with an organisation's ingest token, and the pushing client
// that hunt, scan and decoy use, which keeps a local spool so that a server
// down for an hour loses nothing. A validated message goes to the store
// (Sink), or to a queue whose writers store it (Queue: serve replicas on
// NATS JetStream).
package ingest

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// Path is where runs are posted.
const Path = "/api/v1/runs"

// Sink stores one message; the store does, a queue could.
type Sink interface {
	Ingest(ctx context.Context, m *fleet.Run, now time.Time) (store.IngestResult, error)
}

// Queue holds validated messages until a writer stores them in a Sink.
// Enqueue returns once the queue has the message durably; duplicate says
// it already had it.
type Queue interface {
	Enqueue(ctx context.Context, m *fleet.Run, received time.Time) (duplicate bool, err error)
}

// ErrTooLarge is a Queue's refusal of a message over its size limit.
var ErrTooLarge = errors.New("message too large for the ingest queue")

// Tokens resolves an ingest token to its organisation.
type Tokens interface {
	TokenOrg(ctx context.Context, secret string) (string, error)
}

// Limits bound what one request may cost.
type Limits struct {
	// MaxBody is the largest body as sent (compressed or not).
	MaxBody int64
	// MaxDecoded is the largest body after gzip: it bounds gzip bombs.
	MaxDecoded int64
}

// DefaultLimits fit a hunt of a few hundred servers per message.
var DefaultLimits = Limits{MaxBody: 32 << 20, MaxDecoded: 256 << 20}

// Handler serves POST /api/v1/runs.
type Handler struct {
	Sink Sink
	// Queue, when set, takes the validated messages instead of Sink: the
	// answer is 202 Accepted once the queue has a message.
	Queue  Queue
	Tokens Tokens
	Limits Limits
	// Notify, when set, hears of every stored message (the spike detector).
	Notify func(m *fleet.Run)
	Now    func() time.Time
}

// Response is the answer to a post.
type Response struct {
	Stored    bool   `json:"stored"`
	Queued    bool   `json:"queued,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	Batch     int    `json:"batch"`
	Findings  int    `json:"findings,omitempty"`
	Alerts    int    `json:"alerts,omitempty"`
	Error     string `json:"error,omitempty"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(Response{Error: fmt.Sprintf(format, args...)})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		fail(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	auth := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || secret == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="exhunt ingest"`)
		fail(w, http.StatusUnauthorized, "missing ingest token: send Authorization: Bearer TOKEN")
		return
	}
	org, err := h.Tokens.TokenOrg(r.Context(), secret)
	switch {
	case errors.Is(err, store.ErrTokenUnknown), errors.Is(err, store.ErrTokenRevoked):
		fail(w, http.StatusUnauthorized, "%v", err)
		return
	case err != nil:
		fail(w, http.StatusServiceUnavailable, "token check failed; retry later")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "Content-Type %q: want application/json", ct)
		return
	}
	lim := h.Limits
	if lim.MaxBody == 0 {
		lim = DefaultLimits
	}
	if r.ContentLength > lim.MaxBody {
		fail(w, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, lim.MaxBody)
		return
	}
	body := http.MaxBytesReader(w, r.Body, lim.MaxBody)
	var src io.Reader = body
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			fail(w, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		defer zr.Close()
		src = zr
	default:
		fail(w, http.StatusUnsupportedMediaType, "Content-Encoding %q: want gzip or none", enc)
		return
	}
	cr := &capReader{r: src, left: lim.MaxDecoded}
	m, err := fleet.Decode(cr)
	if err != nil {
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb) || errors.As(unwrapAll(err), &mb) || strings.Contains(err.Error(), "request body too large"):
			fail(w, http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", lim.MaxBody)
		case cr.over:
			fail(w, http.StatusRequestEntityTooLarge, "body decompresses to more than %d bytes", lim.MaxDecoded)
		case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || strings.Contains(err.Error(), "flate"):
			fail(w, http.StatusBadRequest, "gzip: %v", err)
		default:
			fail(w, http.StatusBadRequest, "%v", err)
		}
		return
	}
	if m.Org == "" {
		m.Org = org
	}
	if m.Org != org {
		fail(w, http.StatusForbidden, "this token writes for organisation %q, not %q", org, m.Org)
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	if h.Queue != nil {
		dup, err := h.Queue.Enqueue(r.Context(), m, now().UTC())
		switch {
		case errors.Is(err, ErrTooLarge):
			fail(w, http.StatusRequestEntityTooLarge, "%v", err)
			return
		case err != nil:
			fail(w, http.StatusServiceUnavailable, "not queued: %v; retry later", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(Response{Queued: true, Duplicate: dup, RunID: m.RunID, Batch: m.Batch})
		return
	}
	res, err := h.Sink.Ingest(r.Context(), m, now().UTC())
	if err != nil {
		if errors.Is(err, store.ErrUnknownOrg) {
			fail(w, http.StatusForbidden, "%v", err)
			return
		}
		fail(w, http.StatusServiceUnavailable, "not stored: %v; retry later", err)
		return
	}
	if h.Notify != nil && !res.Duplicate {
		h.Notify(m)
	}
	w.Header().Set("Content-Type", "application/json")
	code := http.StatusCreated
	if res.Duplicate {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(Response{Stored: !res.Duplicate, Duplicate: res.Duplicate, RunID: m.RunID, Batch: m.Batch, Findings: res.Findings, Alerts: len(res.Alerts)})
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// capReader fails once more than left bytes were read.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.over = true
		return 0, errors.New("decoded body over the limit")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
