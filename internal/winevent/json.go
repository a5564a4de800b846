package winevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/evtx"
)

// jsonEvent collects the fields of an event rendered as JSON: the System
// fields (EventID, Channel, Computer, Provider_Name from the Provider
// element's Name attribute, TimeCreated_SystemTime...) and the EventData or
// UserData fields by name.
type jsonEvent struct {
	fields []evtx.Field
	values []string // every value, for keyword searches
}

// FromFields makes an event from flat fields, in name order.
func FromFields(fields map[string]string) *Event {
	var j jsonEvent
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		j.add(k, fields[k])
	}
	return j.event()
}

func (j *jsonEvent) event() *Event {
	e := New(&evtx.Event{Fields: j.fields})
	e.values, e.ownValues = j.values, true
	return e
}

// add records a field; the first of two same-named fields wins (System
// before EventData), but keyword searches see both values.
func (j *jsonEvent) add(name, value string) {
	j.values = append(j.values, value)
	j.fields = append(j.fields, evtx.Field{Name: name, Value: value})
}

// ReadJSON reads events rendered as JSON: one object, a sequence of
// objects (JSON lines or concatenated, as the regression suite writes them)
// or an array of objects.
func ReadJSON(r io.Reader) ([]*Event, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &raws); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var m json.RawMessage
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("event %d: %w", len(raws)+1, err)
			}
			raws = append(raws, m)
		}
	}
	evs := make([]*Event, 0, len(raws))
	for i, m := range raws {
		ev, err := ParseJSON(m)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// ParseJSON reads one event rendered as JSON the way evtx_dump and the
// Sigma regression suite render them:
//
//	{"Event": {"System": {"EventID": 1, "Provider": {"#attributes": {"Name": ...}}, ...},
//	           "EventData": {"Image": ..., ...}}}
//
// An object without "Event" is taken as flat fields.
func ParseJSON(data []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := decodeNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the event")
	}
	if root.kind != nodeObject {
		return nil, errors.New("an event must be a JSON object")
	}
	e := &jsonEvent{}
	evn := root.get("Event")
	if evn == nil || evn.kind != nodeObject {
		for i, k := range root.keys {
			e.flatten(k, root.vals[i])
		}
		return e.event(), nil
	}
	if sys := evn.get("System"); sys != nil && sys.kind == nodeObject {
		for i, k := range sys.keys {
			e.flattenSystem(k, sys.vals[i])
		}
	}
	for _, sec := range []string{"EventData", "UserData"} {
		if n := evn.get(sec); n != nil {
			e.flatten(sec, n)
		}
	}
	return e.event(), nil
}

// flattenSystem adds one System element: its text under its name and each
// attribute as Element_Attribute (Provider_Name, TimeCreated_SystemTime).
func (e *jsonEvent) flattenSystem(name string, n *node) {
	if n.kind != nodeObject {
		e.add(name, n.text)
		return
	}
	if t := n.get("#text"); t != nil {
		e.add(name, t.text)
	}
	if a := n.get("#attributes"); a != nil && a.kind == nodeObject {
		for i, k := range a.keys {
			e.add(name+"_"+k, a.vals[i].text)
		}
	}
	for i, k := range n.keys {
		if !strings.HasPrefix(k, "#") {
			e.flattenSystem(name+"_"+k, n.vals[i])
		}
	}
}

// flatten adds EventData and UserData fields by their own names, however
// deeply UserData nests them. Repeated elements (unnamed <Data>) become one
// field with the values one per line, and each value for keyword searches.
func (e *jsonEvent) flatten(name string, n *node) {
	switch n.kind {
	case nodeScalar, nodeNull:
		e.add(name, n.text)
	case nodeArray:
		var lines []string
		for _, v := range n.vals {
			if v.kind == nodeObject || v.kind == nodeArray {
				e.flatten(name, v)
				continue
			}
			lines = append(lines, v.text)
		}
		if lines != nil {
			e.fields = append(e.fields, evtx.Field{Name: name, Value: strings.Join(lines, "\n")})
			e.values = append(e.values, lines...)
		}
	case nodeObject:
		// <Data Name="x">v</Data> rendered with its attribute
		if a, t := n.get("#attributes"), n.get("#text"); a != nil && t != nil {
			if dn := a.get("Name"); dn != nil && dn.kind == nodeScalar {
				e.flatten(dn.text, t)
				return
			}
		}
		if t := n.get("#text"); t != nil {
			e.flatten(name, t)
		}
		for i, k := range n.keys {
			if !strings.HasPrefix(k, "#") {
				e.flatten(k, n.vals[i])
			}
		}
	}
}

// node is a JSON value that keeps object keys in order.
type node struct {
	kind nodeKind
	keys []string
	vals []*node
	text string // scalars: the text; numbers as written
}

type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeScalar
	nodeArray
	nodeObject
)

func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// maxDepth bounds nesting; events nest four or five levels.
const maxDepth = 64

func decodeNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("JSON nests deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: nodeArray}
		if t == '{' {
			n.kind = nodeObject
		}
		for dec.More() {
			if n.kind == nodeObject {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := decodeNode(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &node{kind: nodeScalar, text: t}, nil
	case json.Number:
		return &node{kind: nodeScalar, text: t.String()}, nil
	case bool:
		return &node{kind: nodeScalar, text: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: nodeNull}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
