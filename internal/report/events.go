package report

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/stream"
)

// EventLines makes a decoy's event output a stream: it opens the run, turns
// each write (one JSON event, as the decoy writes them) into an event
// message of the run, and Close closes the run.
type EventLines struct {
	mu      sync.Mutex
	out     *JSONLines
	runID   string
	started time.Time
	version string
}

// NewEventLines writes the run's start message to w.
func NewEventLines(w io.Writer, runID, version string) (*EventLines, error) {
	e := &EventLines{out: NewJSONLines(w), runID: runID, started: time.Now().UTC(), version: version}
	err := e.out.Handle(&stream.Message{RunID: runID, Start: &stream.Start{SchemaVersion: stream.SchemaVersion,
		Kind: finding.KindDecoy, Tool: "exhunt", Version: version, StartedAt: e.started}})
	return e, err
}

// Write takes one event; anything that is not one JSON value is dropped.
func (e *EventLines) Write(p []byte) (int, error) {
	ev := bytes.TrimSpace(p)
	if !json.Valid(ev) {
		return len(p), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(p), e.out.Handle(&stream.Message{RunID: e.runID, Event: ev})
}

// Close writes the closing run message.
func (e *EventLines) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.Handle(&stream.Message{RunID: e.runID, Run: &finding.Result{SchemaVersion: finding.SchemaVersion,
		RunID: e.runID, Kind: finding.KindDecoy, Tool: "exhunt", Version: e.version, StartedAt: e.started,
		DurationMS: time.Since(e.started).Milliseconds()}})
}
