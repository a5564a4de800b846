package winevent

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Mapping says where the events of one Sigma logsource are found: the
// source table (sources.yaml) that both Sigma rules and exhunt's event
// kinds are resolved with.
type Mapping struct {
	// Product, Category and Service select the rules: category and service
	// must equal the rule's, product too unless empty here.
	Product  string `yaml:"product"`
	Category string `yaml:"category"`
	Service  string `yaml:"service"`
	// Events are the event log channels that carry the logsource.
	Events []Source `yaml:"events"`
	// Logs are exhunt log kinds (internal/logs) that carry it, e.g. "iis".
	Logs []string `yaml:"logs"`
}

// Source is one event log channel, optionally narrowed to event IDs.
type Source struct {
	Channel string `yaml:"channel"`
	// EventIDs narrow the channel; empty means every event.
	EventIDs []int `yaml:"event_ids"`
	// Fields renames Sigma taxonomy fields to this source's own names.
	Fields map[string]string `yaml:"fields"`

	lower map[string]string // Fields by lower-case key; set by ParseTable
}

// Rename returns the source's own name for a Sigma taxonomy field, if it
// differs.
func (s *Source) Rename(name string) (string, bool) {
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

//go:embed sources.yaml
var defaultTableYAML []byte

var defaultTable = sync.OnceValue(func() []Mapping {
	t, err := ParseTable(defaultTableYAML)
	if err != nil {
		panic("winevent: built-in sources.yaml: " + err.Error())
	}
	return t
})

// DefaultTable returns the built-in source table (sources.yaml). Callers
// must not modify it.
func DefaultTable() []Mapping { return defaultTable() }

// ParseTable reads a source table in the format of sources.yaml, for
// sites whose events live elsewhere.
func ParseTable(data []byte) ([]Mapping, error) {
	var t []Mapping
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

func (m *Mapping) key() string {
	var parts []string
	for _, kv := range [][2]string{{"product", m.Product}, {"category", m.Category}, {"service", m.Service}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Lookup finds the table entry for a logsource; a nil table is the
// built-in one.
func Lookup(table []Mapping, product, category, service string) *Mapping {
	if table == nil {
		table = defaultTable()
	}
	for i := range table {
		m := &table[i]
		if strings.EqualFold(m.Category, category) && strings.EqualFold(m.Service, service) &&
			(m.Product == "" || strings.EqualFold(m.Product, product)) {
			return m
		}
	}
	return nil
}

// Source returns the event source of this channel and event ID, or nil
// when the logsource does not cover them.
func (m *Mapping) Source(channel string, eventID int) *Source {
	for i := range m.Events {
		s := &m.Events[i]
		if strings.EqualFold(s.Channel, channel) && (len(s.EventIDs) == 0 || slices.Contains(s.EventIDs, eventID)) {
			return s
		}
	}
	return nil
}
