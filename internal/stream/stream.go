// Package stream is exhunt's result stream: the messages a hunt, a scan or
// a decoy run emits, the Handler interface every output implements (text,
// JSON, JSON lines, HTML, SARIF, CSV, the fleet server), and the replay of
// a saved stream or JSON document into any handler. The schema is
// documented in docs/stream.md.
package stream

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// SchemaVersion is the version of the message schema (docs/stream.md). It
// is bumped when a field changes meaning or is removed, not when one is
// added.
const SchemaVersion = 1

// Message is one element of the stream, one JSON line when written. It
// always has exactly one of its pointer fields set; RunID is set on every
// message and names the run it belongs to.
type Message struct {
	RunID string `json:"run_id"`
	// Start opens a run.
	Start *Start `json:"start,omitempty"`
	// Progress says how far the run has got; outputs may ignore it.
	Progress *Progress `json:"progress,omitempty"`
	// Finding is one rule hit of a hunt.
	Finding *finding.Finding `json:"finding,omitempty"`
	// Gap is input not read, or not read fully; Gap.Server names its server
	// (empty for input that belongs to no server).
	Gap *finding.Gap `json:"gap,omitempty"`
	// Server is a hunted server's verdict and summary; its findings and
	// gaps came before as messages of their own and are left out here.
	Server *finding.Server `json:"server,omitempty"`
	// Target is what a scan learnt about one target.
	Target *finding.Target `json:"target,omitempty"`
	// Event is one request a decoy classified, as the decoy writes it
	// (docs/scanning.md); the stream carries it unchanged.
	Event json.RawMessage `json:"event,omitempty"`
	// Run closes the run: the result's top-level fields (duration, rules
	// count), its servers, targets and gaps left out.
	Run *finding.Result `json:"run,omitempty"`
}

// kinds counts the message's set fields.
func (m *Message) kinds() int {
	n := 0
	for _, set := range []bool{m.Start != nil, m.Progress != nil, m.Finding != nil, m.Gap != nil,
		m.Server != nil, m.Target != nil, len(m.Event) > 0, m.Run != nil} {
		if set {
			n++
		}
	}
	return n
}

// Start is the first message of a run.
type Start struct {
	SchemaVersion int       `json:"schema_version"`
	Kind          string    `json:"kind"`
	Tool          string    `json:"tool"`
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	// Roots are the evidence paths of a hunt.
	Roots []string `json:"roots,omitempty"`
}

// Progress is a snapshot of how far a run has got.
type Progress struct {
	Time       time.Time `json:"time"`
	FilesDone  int64     `json:"files_done,omitempty"`
	FilesTotal int64     `json:"files_total,omitempty"`
	BytesDone  int64     `json:"bytes_done,omitempty"`
	BytesTotal int64     `json:"bytes_total,omitempty"`
	// TargetsDone counts the targets a scan has finished.
	TargetsDone int64 `json:"targets_done,omitempty"`
}

// Handler consumes a stream. Handle is called once per message, in order,
// from one goroutine; the message is not used after it returns. A document
// output (JSON, HTML, SARIF, CSV, the text report of a hunt) writes when it
// gets the closing Run message.
type Handler interface {
	Handle(m *Message) error
}

// HandlerFunc lets a function be a Handler.
type HandlerFunc func(m *Message) error

// Handle calls f(m).
func (f HandlerFunc) Handle(m *Message) error { return f(m) }

// Tee sends every message to each handler in turn and stops at the first
// error.
func Tee(hs ...Handler) Handler {
	return HandlerFunc(func(m *Message) error {
		for _, h := range hs {
			if err := h.Handle(m); err != nil {
				return err
			}
		}
		return nil
	})
}

// NewRunID returns a random 128-bit run id as 32 hex digits.
func NewRunID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Emit sends a finished result as a stream: start; each server's findings;
// the servers' gaps (Gap.Server set) and the run's own; the servers; the
// targets; the closing run. Collect turns this back into an equal result.
func Emit(r *finding.Result, h Handler) error {
	id := r.RunID
	send := func(m Message) error { m.RunID = id; return h.Handle(&m) }
	if err := send(Message{Start: StartOf(r)}); err != nil {
		return err
	}
	for i := range r.Servers {
		for j := range r.Servers[i].Findings {
			f := &r.Servers[i].Findings[j]
			if f.Server != r.Servers[i].Name {
				// a finding joins its server by name in the stream
				c := *f
				c.Server = r.Servers[i].Name
				f = &c
			}
			if err := send(Message{Finding: f}); err != nil {
				return err
			}
		}
	}
	for i := range r.Servers {
		for _, g := range r.Servers[i].Gaps {
			if g.Server == "" {
				g.Server = r.Servers[i].Name
			}
			if err := send(Message{Gap: &g}); err != nil {
				return err
			}
		}
	}
	for i := range r.Gaps {
		if err := send(Message{Gap: &r.Gaps[i]}); err != nil {
			return err
		}
	}
	for i := range r.Servers {
		// findings and gaps were sent; an empty, non-nil list stays so, to
		// tell "none" from "not recorded"
		s := r.Servers[i]
		s.Findings, s.Gaps = emptied(s.Findings), emptied(s.Gaps)
		if err := send(Message{Server: &s}); err != nil {
			return err
		}
	}
	for i := range r.Targets {
		if err := send(Message{Target: &r.Targets[i]}); err != nil {
			return err
		}
	}
	return send(Message{Run: Closing(r)})
}

// StartOf is the start message of r's run.
func StartOf(r *finding.Result) *Start {
	return &Start{SchemaVersion: SchemaVersion, Kind: r.Kind, Tool: r.Tool, Version: r.Version,
		StartedAt: r.StartedAt, Roots: r.Roots}
}

// Closing is r without its servers, targets and gaps: the closing message.
func Closing(r *finding.Result) *finding.Result {
	c := *r
	c.Servers, c.Targets, c.Gaps = nil, nil, nil
	return &c
}

func emptied[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return []T{}
}
