package sigma

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// LogsourceMapping says where the events of one Sigma logsource are found.
type LogsourceMapping struct {
	// Product, Category and Service select the rules: category and service
	// must equal the rule's, product too unless empty here.
	Product  string `yaml:"product"`
	Category string `yaml:"category"`
	Service  string `yaml:"service"`
	// Events are the event log channels that carry the logsource.
	Events []EventSource `yaml:"events"`
	// Logs are exhunt log kinds (internal/logs) that carry it, e.g. "iis".
	Logs []string `yaml:"logs"`
}

// EventSource is one event log channel, optionally narrowed to event IDs.
type EventSource struct {
	Channel string `yaml:"channel"`
	// EventIDs narrow the channel; empty means every event.
	EventIDs []int `yaml:"event_ids"`
	// Fields renames Sigma taxonomy fields to this source's own names.
	Fields map[string]string `yaml:"fields"`

	lower map[string]string // Fields by lower-case key; set by ParseLogsources
}

// rename returns the source's own name for a Sigma field, if it differs.
func (s *EventSource) rename(name string) (string, bool) {
	if s.lower != nil {
		n, ok := s.lower[strings.ToLower(name)]
		return n, ok
	}
	for k, v := range s.Fields { // a table built in Go rather than parsed
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

//go:embed logsources.yaml
var defaultLogsourcesYAML []byte

var defaultLogsources = sync.OnceValue(func() []LogsourceMapping {
	t, err := ParseLogsources(defaultLogsourcesYAML)
	if err != nil {
		panic("sigma: built-in logsources.yaml: " + err.Error())
	}
	return t
})

// DefaultLogsources returns the built-in logsource table (logsources.yaml).
// Callers must not modify it.
func DefaultLogsources() []LogsourceMapping { return defaultLogsources() }

// ParseLogsources reads a logsource table in the format of logsources.yaml,
// for sites whose events live elsewhere.
func ParseLogsources(data []byte) ([]LogsourceMapping, error) {
	var t []LogsourceMapping
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("logsource table: %w", err)
	}
	for i := range t {
		m := &t[i]
		if m.Category == "" && m.Service == "" {
			return nil, fmt.Errorf("logsource table entry %d: needs a category or a service", i+1)
		}
		if len(m.Events) == 0 && len(m.Logs) == 0 {
			return nil, fmt.Errorf("logsource table entry %d (%s): no events and no logs", i+1, m.key())
		}
		for j := range m.Events {
			s := &m.Events[j]
			if s.Channel == "" {
				return nil, fmt.Errorf("logsource table entry %d (%s): an event source has no channel", i+1, m.key())
			}
			s.lower = make(map[string]string, len(s.Fields))
			for k, v := range s.Fields {
				s.lower[strings.ToLower(k)] = v
			}
		}
	}
	return t, nil
}

func (m *LogsourceMapping) key() string {
	return Logsource{Product: m.Product, Category: m.Category, Service: m.Service}.String()
}

// lookupLogsource finds the table entry for a rule's logsource.
func lookupLogsource(t []LogsourceMapping, l Logsource) *LogsourceMapping {
	for i := range t {
		m := &t[i]
		if strings.EqualFold(m.Category, l.Category) && strings.EqualFold(m.Service, l.Service) &&
			(m.Product == "" || strings.EqualFold(m.Product, l.Product)) {
			return m
		}
	}
	return nil
}

// source returns the event source a channel and event ID belong to, or nil.
func (m *LogsourceMapping) source(channel string, eventID int) *EventSource {
	for i := range m.Events {
		s := &m.Events[i]
		if strings.EqualFold(s.Channel, channel) && (len(s.EventIDs) == 0 || slices.Contains(s.EventIDs, eventID)) {
			return s
		}
	}
	return nil
}

// Lookup returns the built-in table's entry for a logsource, or nil.
func Lookup(l Logsource) *LogsourceMapping { return lookupLogsource(defaultLogsources(), l) }

// Source returns the event source of this channel and event ID, or nil
// when the logsource does not cover them.
func (m *LogsourceMapping) Source(channel string, eventID int) *EventSource {
	return m.source(channel, eventID)
}

// Rename returns the source's own name for a Sigma taxonomy field, if it
// differs.
func (s *EventSource) Rename(name string) (string, bool) { return s.rename(name) }
