// Package logs reads the text logs an Exchange server writes: Exchange's own
// CSV logs (HttpProxy, ECP, Rps, EWS), IIS W3C logs and plain-text logs.
//
// Reading is streaming and header-driven: columns are found by the names in
// each file's #Fields directive (or a bare header row), never by position,
// because the column sets differ between Exchange builds and IIS settings.
// A prefilter of literals skips lines no rule can match without parsing them.
package logs

import (
	"strings"
	"time"
)

// Format is a log file syntax.
type Format int

const (
	// CSV is Exchange's comma-separated log format with # directives.
	CSV Format = iota
	// W3C is the IIS extended log format: space-separated, '-' for empty.
	W3C
	// Text is a plain line log; the whole line is the field "message".
	Text
)

func (f Format) String() string {
	switch f {
	case CSV:
		return "exchange-csv"
	case W3C:
		return "w3c"
	}
	return "text"
}

// Schema maps field names to columns for one header.
type Schema struct {
	Names []string
	index map[string]int
	// timeCols are the columns holding the record time: one ISO timestamp
	// column, or a date and a time column (W3C).
	timeCol, dateCol, clockCol int
}

// aliases give the Sigma web-server field names to Exchange's HttpProxy
// columns, so one rule can read IIS and HttpProxy logs alike.
var aliases = map[string]string{
	"clientipaddress":   "c-ip",
	"method":            "cs-method",
	"urlstem":           "cs-uri-stem",
	"urlquery":          "cs-uri-query",
	"httpstatus":        "sc-status",
	"useragent":         "cs-user-agent",
	"authenticateduser": "cs-username",
	"cs(user-agent)":    "cs-user-agent",
	"cs(referer)":       "cs-referer",
	"cs(cookie)":        "cs-cookie",
	"cs(host)":          "cs-host",
	"urlhost":           "cs-host",
}

// NewSchema builds a schema from header names.
func NewSchema(names []string) *Schema {
	s := &Schema{Names: names, index: make(map[string]int, len(names)*2), timeCol: -1, dateCol: -1, clockCol: -1}
	for i, n := range names {
		l := strings.ToLower(strings.TrimSpace(n))
		if _, dup := s.index[l]; !dup {
			s.index[l] = i
		}
		if a, ok := aliases[l]; ok {
			if _, dup := s.index[a]; !dup {
				s.index[a] = i
			}
		}
		switch l {
		case "datetime", "timestamp", "date-time":
			if s.timeCol < 0 {
				s.timeCol = i
			}
		case "date":
			s.dateCol = i
		case "time":
			s.clockCol = i
		}
	}
	return s
}

// Index returns the column of a field name (ASCII case-insensitive), or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	if i, ok := s.index[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// Record is one parsed log line. The scanner reuses it: copy what you keep.
type Record struct {
	Schema *Schema
	Values []string
	Line   int64
	Time   time.Time
	raw    string
	format Format
	// ecp holds the decoded EventData fields, filled on first use
	ecp map[string]string
}

// Field implements rule.Record. A column the header names but the row lacks
// (rows cut short) reads as present and empty.
func (r *Record) Field(name string) (string, bool) {
	if r.format == Text {
		switch strings.ToLower(name) {
		case "message":
			return r.raw, true
		}
		return "", false
	}
	if r.Schema == nil {
		return "", false
	}
	if len(name) > 10 && strings.EqualFold(name[:10], "eventdata.") {
		return r.eventData(name[10:])
	}
	i := r.Schema.Index(name)
	if i < 0 {
		return "", false
	}
	if i >= len(r.Values) {
		return "", true
	}
	return r.Values[i], true
}

// Raw implements rule.Record.
func (r *Record) Raw() string { return r.raw }

// Fields copies the named fields that the record has, for evidence.
func (r *Record) Fields(names []string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		if v, ok := r.Field(n); ok {
			m[n] = v
		}
	}
	return m
}

// eventData serves the decoded ECP EventData: EventData.<KEY> for each
// S:KEY=value pair (EventData.CMD, EventData.URL, EventData.EX...),
// EventData.Cmdlet for the cmdlet name and EventData.Param.<Name> for its
// parameters.
func (r *Record) eventData(key string) (string, bool) {
	if r.ecp == nil {
		raw, ok := r.Field("EventData")
		if !ok {
			return "", false
		}
		r.ecp = map[string]string{}
		for _, kv := range DecodeEventData(raw) {
			k := strings.ToLower(kv[0])
			if _, dup := r.ecp[k]; !dup {
				r.ecp[k] = kv[1]
			}
			if k == "cmd" {
				name, params := SplitCmdlet(kv[1])
				r.ecp["cmdlet"] = name
				for _, p := range params {
					r.ecp["param."+strings.ToLower(p[0])] = p[1]
				}
			}
		}
	}
	v, ok := r.ecp[strings.ToLower(key)]
	return v, ok
}
