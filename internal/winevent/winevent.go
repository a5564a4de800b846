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
	"sync"
	"sync/atomic"

	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/sigma"
)

// Kinds exhunt's rules may name in their logsource.
const (
	Application          = "event-application"
	MSExchangeManagement = "event-msexchange-management"
	ProcessCreation      = "event-process-creation"
	ProcessAccess        = "event-process-access"
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
	// Sysmon 10: which process opened which, with the access and call
	// trace; what tells a dump of LSASS from a dump of another process
	{ProcessAccess, sigma.Logsource{Product: "windows", Category: "process_access"}, nil},
	{Security, sigma.Logsource{Product: "windows", Service: "security"}, nil},
	{System, sigma.Logsource{Product: "windows", Service: "system"}, nil},
}

// mappings resolves each kind's logsource in the built-in table once.
var mappings = sync.OnceValue(func() []*sigma.LogsourceMapping {
	out := make([]*sigma.LogsourceMapping, len(kinds))
	for i, k := range kinds {
		out[i] = sigma.Lookup(k.ls)
	}
	return out
})

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
	// lower-cased values, filled as rules ask for them
	lower []string
	done  []bool
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
	c := classify(e.channel, id)
	e.srcs, e.mask = c.srcs, c.mask
	return e
}

type class struct {
	srcs [8]*sigma.EventSource
	mask uint32
}

// classes caches the kinds of each channel and event ID seen: a log holds
// few of them, and looking them up in the table for every event cost more
// than the rules.
var classes sync.Map // classKey -> *class

type classKey struct {
	channel string
	id      int
}

func classify(channel string, id int) *class {
	if c, ok := classes.Load(classKey{channel, id}); ok {
		return c.(*class)
	}
	c := &class{}
	for i, m := range mappings() {
		if m == nil {
			continue
		}
		if s := m.Source(channel, id); s != nil {
			c.srcs[i] = s
			c.mask |= 1 << i
		}
	}
	// channel names are few, but a hostile log could hold many: cap the cache
	if classCount.Add(1) < 4096 {
		classes.Store(classKey{strings.Clone(channel), id}, c)
	}
	return c
}

var classCount atomic.Int64

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
func (v *View) Field(name string) (string, bool) { return field(v.e.ev, v.name(name)) }

// name is the event's own name for a field name of the view's kind.
func (v *View) name(name string) string {
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
	return name
}

// field looks a name up ASCII case-insensitively: rules compile field
// names to lower case, events keep Windows' spelling.
func field(ev *evtx.Event, name string) (string, bool) {
	if i := fieldIndex(ev, name); i >= 0 {
		return ev.Fields[i].Value, true
	}
	return "", false
}

func fieldIndex(ev *evtx.Event, name string) int {
	for i := range ev.Fields {
		if n := ev.Fields[i].Name; len(n) == len(name) && equalFoldASCII(n, name) {
			return i
		}
	}
	return -1
}

// lowerAt returns field i's value lower-cased, once per event.
func (e *Event) lowerAt(i int) string {
	if e.lower == nil {
		e.lower = make([]string, len(e.ev.Fields))
		e.done = make([]bool, len(e.ev.Fields))
	}
	if !e.done[i] {
		e.lower[i] = strings.ToLower(e.ev.Fields[i].Value)
		e.done[i] = true
	}
	return e.lower[i]
}

// FieldLower is Field with the value lower-cased (rule.LowerRecord).
func (v *View) FieldLower(name string) (string, bool) {
	if i := fieldIndex(v.e.ev, v.name(name)); i >= 0 {
		return v.e.lowerAt(i), true
	}
	return "", false
}

// ValuesLower is Values lower-cased (rule.LowerRecord).
func (v *View) ValuesLower() []string {
	for i := range v.e.ev.Fields {
		v.e.lowerAt(i)
	}
	return v.e.lower
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
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
