// Package winevent presents Windows events to exhunt's own rules: which
// event kinds (rule logsources) an event belongs to, and its fields under
// the names rules use.
//
// Kinds follow Sigma's logsources, so a rule for process creation reads
// Sysmon event 1 and Security event 4688 alike under Sysmon's field names
// (Image, ParentImage, CommandLine...), with the renames of Sigma's
// windows-audit pipeline. MSExchange Management events (provider MSExchange
// CmdletLogs) carry unnamed values; their first two are also readable as
// Cmdlet and Parameters, the names of the Rps cmdlet log, so one rule reads
// both.
package winevent

import (
	"strconv"
	"strings"

	"exhunt/internal/evtx"
	"exhunt/internal/sigma"
)

// Kinds exhunt's rules may name in their logsource.
const (
	Application          = "event-application"
	MSExchangeManagement = "event-msexchange-management"
	ProcessCreation      = "event-process-creation"
	Security             = "event-security"
	System               = "event-system"
)

// kinds maps each kind to its Sigma logsource, in a fixed order: a Kind's
// bit is 1 << its index.
var kinds = []struct {
	name string
	ls   sigma.Logsource
	// extra field names beyond the Sigma table's renames
	alias map[string]string
}{
	{Application, sigma.Logsource{Product: "windows", Service: "application"}, nil},
	{MSExchangeManagement, sigma.Logsource{Product: "windows", Service: "msexchange-management"},
		map[string]string{"cmdlet": "Data", "parameters": "Data_2"}},
	{ProcessCreation, sigma.Logsource{Product: "windows", Category: "process_creation"}, nil},
	{Security, sigma.Logsource{Product: "windows", Service: "security"}, nil},
	{System, sigma.Logsource{Product: "windows", Service: "system"}, nil},
}

// Kinds lists every event kind, for rule validation.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// IsKind reports whether name is an event kind.
func IsKind(name string) bool { return index(name) >= 0 }

func index(name string) int {
	for i, k := range kinds {
		if k.name == name {
			return i
		}
	}
	return -1
}

// Event is one event as rules see it.
type Event struct {
	ev      *evtx.Event
	channel string
	id      int
	srcs    [8]*sigma.EventSource
	mask    uint32
	values  []string
}

// New classifies an event. Its kinds are in Mask.
func New(ev *evtx.Event) *Event {
	e := &Event{ev: ev}
	e.channel, _ = ev.Field("Channel")
	idText, _ := ev.Field("EventID")
	id, err := strconv.Atoi(strings.TrimSpace(idText))
	if err != nil {
		id = -1
	}
	e.id = id
	for i, k := range kinds {
		if s := sigma.Source(k.ls, e.channel, id); s != nil {
			e.srcs[i] = s
			e.mask |= 1 << i
		}
	}
	return e
}

// Channel and ID are the event's channel and event ID (-1 if unreadable).
func (e *Event) Channel() string { return e.channel }
func (e *Event) ID() int         { return e.id }

// Evtx is the event as read.
func (e *Event) Evtx() *evtx.Event { return e.ev }

// Is reports whether the event is of the named kind.
func (e *Event) Is(kind string) bool {
	i := index(kind)
	return i >= 0 && e.mask&(1<<i) != 0
}

// As presents the event under a kind's field names; nil when the event is
// not of that kind.
func (e *Event) As(kind string) *View {
	i := index(kind)
	if i < 0 || e.mask&(1<<i) == 0 {
		return nil
	}
	return &View{e: e, src: e.srcs[i], alias: kinds[i].alias}
}

// Plain presents the event under its own field names.
func (e *Event) Plain() *View { return &View{e: e} }

// View is an event under one kind's field names; it implements
// rule.Record and rule.Valuer.
type View struct {
	e     *Event
	src   *sigma.EventSource
	alias map[string]string
}

// Field finds a field by the kind's name for it, else by the event's own
// name, ASCII case-insensitively.
func (v *View) Field(name string) (string, bool) {
	if v.alias != nil {
		if n, ok := v.alias[strings.ToLower(name)]; ok {
			name = n
		}
	}
	if v.src != nil {
		if n, ok := v.src.Rename(name); ok {
			name = n
		}
	}
	return field(v.e.ev, name)
}

func field(ev *evtx.Event, name string) (string, bool) {
	if s, ok := ev.Field(name); ok {
		return s, true
	}
	for _, f := range ev.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values are the event's values, which keyword searches look through.
func (v *View) Values() []string {
	if v.e.values == nil {
		v.e.values = make([]string, len(v.e.ev.Fields))
		for i, f := range v.e.ev.Fields {
			v.e.values[i] = f.Value
		}
	}
	return v.e.values
}

// Raw is every value, one per line.
func (v *View) Raw() string { return strings.Join(v.Values(), "\n") }
