// Package fleet is the fleet server's vocabulary: the ingest message a
// hunt, scan or decoy run sends, its validation, and the per-server states
// the dashboard and the detectors speak of. Storage, ingest transport and
// detection live in sub-packages behind small interfaces so that another
// transport (a queue) or store can stand in.
package fleet

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/scan"
)

// SchemaVersion of the ingest message; bumped when a field changes meaning.
const SchemaVersion = 1

// Run types.
const (
	TypeHunt  = "hunt"
	TypeScan  = "scan"
	TypeDecoy = "decoy"
)

// Limits on one message: a client splits a longer run into batches.
const (
	MaxScanLines   = 10000
	MaxDecoyEvents = 50000
	MaxServers     = 10000
)

// Run is one ingest message: a whole hunt result, or one batch of a scan's
// result lines or of a decoy's events. (RunID, Batch) is its identity: a
// message sent twice is stored once.
type Run struct {
	SchemaVersion int    `json:"schema_version"`
	Type          string `json:"type"`
	RunID         string `json:"run_id"`
	// Batch numbers the parts of a streamed run from 0.
	Batch int `json:"batch"`
	// Org is the organisation the sender means to write; it must be the
	// ingest token's own. Empty: the token's.
	Org   string          `json:"org,omitempty"`
	Hunt  *finding.Result `json:"hunt,omitempty"`
	Scan  []scan.Result   `json:"scan,omitempty"`
	Decoy []decoy.Event   `json:"decoy,omitempty"`
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidID reports whether s can name a run, an organisation or a token.
func ValidID(s string) bool { return idRe.MatchString(s) }

// Decode reads one message strictly: unknown fields, trailing data and a
// wrong schema version are errors whose text is meant for the sender.
func Decode(r io.Reader) (*Run, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var m Run
	if err := dec.Decode(&m); err != nil {
		return nil, jsonError(err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON document")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		return fmt.Errorf("JSON field %q: want %s, got %s", te.Field, te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty body: want one JSON document")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: truncated document")
	}
	return fmt.Errorf("malformed JSON: %v", err)
}

// Validate checks what the store relies on.
func (m *Run) Validate() error {
	if m.SchemaVersion != SchemaVersion {
		return fmt.Errorf("schema_version %d is not supported: want %d", m.SchemaVersion, SchemaVersion)
	}
	if !ValidID(m.RunID) {
		return errors.New("run_id: want 1-128 letters, digits or ._:- starting with a letter or digit")
	}
	if m.Org != "" && !ValidID(m.Org) {
		return errors.New("org: want 1-128 letters, digits or ._:-")
	}
	if m.Batch < 0 {
		return errors.New("batch: must not be negative")
	}
	n := 0
	if m.Hunt != nil {
		n++
	}
	if m.Scan != nil {
		n++
	}
	if m.Decoy != nil {
		n++
	}
	if n > 1 {
		return errors.New("a message carries one of hunt, scan and decoy")
	}
	switch m.Type {
	case TypeHunt:
		if m.Hunt == nil {
			return errors.New(`type "hunt" needs the "hunt" result`)
		}
		if m.Hunt.SchemaVersion != finding.SchemaVersion {
			return fmt.Errorf("hunt.schema_version %d is not supported: want %d", m.Hunt.SchemaVersion, finding.SchemaVersion)
		}
		if len(m.Hunt.Servers) > MaxServers {
			return fmt.Errorf("hunt: %d servers, at most %d per message", len(m.Hunt.Servers), MaxServers)
		}
		for i, s := range m.Hunt.Servers {
			if s.Name == "" {
				return fmt.Errorf("hunt.servers[%d]: name is empty", i)
			}
			if !s.Verdict.Valid() {
				return fmt.Errorf("hunt.servers[%d]: unknown verdict %q", i, s.Verdict)
			}
		}
	case TypeScan:
		if m.Scan == nil {
			return errors.New(`type "scan" needs "scan" result lines`)
		}
		if len(m.Scan) > MaxScanLines {
			return fmt.Errorf("scan: %d lines, at most %d per batch", len(m.Scan), MaxScanLines)
		}
	case TypeDecoy:
		if m.Decoy == nil {
			return errors.New(`type "decoy" needs "decoy" events`)
		}
		if len(m.Decoy) > MaxDecoyEvents {
			return fmt.Errorf("decoy: %d events, at most %d per batch", len(m.Decoy), MaxDecoyEvents)
		}
	default:
		return fmt.Errorf("type %q: want hunt, scan or decoy", m.Type)
	}
	return nil
}

// Started is when the run's data was taken: the hunt's start or the
// latest scan or decoy time in the batch.
func (m *Run) Started() time.Time {
	var t time.Time
	switch {
	case m.Hunt != nil:
		t = m.Hunt.StartedAt
	default:
		for _, r := range m.Scan {
			if r.Time.After(t) {
				t = r.Time
			}
		}
		for _, e := range m.Decoy {
			if e.Time.After(t) {
				t = e.Time
			}
		}
	}
	return t.UTC()
}

// Marshal is the message as a sender writes it.
func (m *Run) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(m)
	return b.Bytes(), err
}

// State is where a server stands in the fleet view.
type State string

// States from least to worst. Exposed: a vulnerable build was seen; the
// others are the hunt verdicts.
const (
	StateClean       State = "clean"
	StateExposed     State = "exposed"
	StateProbed      State = "probed"
	StateAttempted   State = "attempted"
	StateCompromised State = "compromised"
	StateExploited   State = "exploited"
)

// States lists the states in order, as the overview shows them.
var States = []State{StateClean, StateExposed, StateProbed, StateAttempted, StateCompromised, StateExploited}

// ServerState combines a hunt verdict with the exposure seen.
func ServerState(v finding.Verdict, exposed bool) State {
	if v.Rank() > finding.VerdictClean.Rank() {
		return State(v)
	}
	if exposed {
		return StateExposed
	}
	return StateClean
}

// Affected is a server open to the chains or reached by them; Exploited
// one where the attacker got something (compromised or exploited).
func (s State) Affected() bool { return s != StateClean }

// Exploited reports whether the attacker got something.
func (s State) Exploited() bool { return s == StateCompromised || s == StateExploited }

// SpoolName turns a server URL into a directory name.
func SpoolName(url string) string {
	b := []byte(url)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// NewRunID returns a fresh run id: time-ordered and random.
func NewRunID(kind string) string {
	var r [8]byte
	rand.Read(r[:])
	return fmt.Sprintf("%s-%s-%x", kind, time.Now().UTC().Format("20060102T150405Z"), r)
}
