package evtx

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// jnode is an element of the tree JSON renders from.
type jnode struct {
	name  string
	attrs []attrVal
	kids  []jkid
}

// jkid is a child element (el) or a run of text (pc).
type jkid struct {
	el *jnode
	pc piece
}

// treeSink builds the element tree of a record, its nodes, attributes
// and pieces allocated in slabs.
type treeSink struct {
	root   *jnode
	stack  []*jnode
	nodes  []jnode
	attrs  []attrVal
	pieces []piece
}

func (s *treeSink) start(name string, attrs []attrVal) {
	if len(s.nodes) == cap(s.nodes) {
		s.nodes = make([]jnode, 0, max(16, 2*cap(s.nodes)))
	}
	s.nodes = append(s.nodes, jnode{name: name})
	n := &s.nodes[len(s.nodes)-1]
	if len(attrs) > 0 {
		if len(attrs) > cap(s.attrs)-len(s.attrs) {
			s.attrs = make([]attrVal, 0, max(len(attrs), 2*cap(s.attrs), 8))
		}
		l := len(s.attrs)
		for _, a := range attrs {
			if len(a.val) > cap(s.pieces)-len(s.pieces) {
				s.pieces = make([]piece, 0, max(len(a.val), 2*cap(s.pieces), 16))
			}
			pl := len(s.pieces)
			s.pieces = append(s.pieces, a.val...)
			s.attrs = append(s.attrs, attrVal{name: a.name, val: s.pieces[pl:len(s.pieces):len(s.pieces)]})
		}
		n.attrs = s.attrs[l:len(s.attrs):len(s.attrs)]
	}
	if len(s.stack) > 0 {
		top := s.stack[len(s.stack)-1]
		top.kids = append(top.kids, jkid{el: n})
	} else if s.root == nil {
		s.root = n
	}
	s.stack = append(s.stack, n)
}

func (s *treeSink) text(pc piece) {
	if len(s.stack) > 0 {
		top := s.stack[len(s.stack)-1]
		top.kids = append(top.kids, jkid{pc: pc})
	}
}

func (s *treeSink) end() { s.stack = s.stack[:len(s.stack)-1] }

// JSON renders the event the way evtx_dump (the Rust evtx crate) does:
//
//	{"Event":{"#attributes":{"xmlns":...},"System":{"Provider":{"#attributes":{"Name":...}},"EventID":4688,...},"EventData":{"Image":...}}}
//
// An element with neither attributes nor child elements is its value
// (a number for integer and boolean values, else a string, null when
// empty); otherwise an object with "#attributes", "#text" and its
// children, a repeated child name suffixed _1, _2... Data elements under
// EventData and UserData are keyed by their Name attribute; unnamed ones
// become {"Data":{"#text":value or [values]}}. Empty attributes are left
// out. The tree is built anew on each call.
func (e *Event) JSON() ([]byte, error) {
	if e.root == nil {
		return nil, errors.New("evtx: event has no content")
	}
	var (
		w walker
		s treeSink
	)
	if err := w.run(e.root, &s, maxRecordVisits, maxRecordOutput); err != nil {
		return nil, err
	}
	if s.root == nil {
		return nil, errors.New("evtx: event has no element")
	}
	j := jsonWriter{buf: make([]byte, 0, 4096)}
	j.buf = append(j.buf, '{')
	j.str(s.root.name)
	j.buf = append(j.buf, ':')
	j.element(s.root, false)
	j.buf = append(j.buf, '}')
	return j.buf, nil
}

type nameCount struct {
	name string
	n    int
}

type jsonWriter struct {
	buf []byte
	tmp []byte
}

func textOf(kids []jkid) bool {
	for _, k := range kids {
		if k.el == nil && !k.pc.empty() {
			return true
		}
	}
	return false
}

func anyText(val []piece) bool {
	for _, pc := range val {
		if !pc.empty() {
			return true
		}
	}
	return false
}

func hasElement(kids []jkid) bool {
	for _, k := range kids {
		if k.el != nil {
			return true
		}
	}
	return false
}

func (n *jnode) attrText() bool {
	for _, a := range n.attrs {
		if anyText(a.val) {
			return true
		}
	}
	return false
}

func (n *jnode) attr(name string) ([]piece, bool) {
	for _, a := range n.attrs {
		if a.name == name {
			return a.val, true
		}
	}
	return nil, false
}

func (j *jsonWriter) element(n *jnode, container bool) {
	switch hasEl, hasText, hasAttr := hasElement(n.kids), textOf(n.kids), n.attrText(); {
	case !hasEl && !hasText && !hasAttr:
		j.buf = append(j.buf, "null"...)
	case !hasEl && !hasAttr:
		j.content(n.kids)
	default:
		j.body(n, container)
	}
}

// content writes an element's text: a lone integer or boolean value as a
// JSON number or boolean, anything else as a string.
func (j *jsonWriter) content(kids []jkid) {
	var lone *piece
	for i := range kids {
		if k := &kids[i]; k.el == nil && !k.pc.empty() {
			if lone != nil || k.pc.lit {
				lone = nil
				break
			}
			lone = &k.pc
		}
	}
	if lone != nil && isNumber(lone.typ) {
		j.buf = appendValue(j.buf, lone.typ, lone.data)
		return
	}
	j.tmp = j.tmp[:0]
	for _, k := range kids {
		if k.el == nil {
			j.tmp = k.pc.appendTo(j.tmp)
		}
	}
	j.quote(j.tmp)
}

func (j *jsonWriter) pieces(val []piece) {
	if len(val) == 1 && !val[0].lit && isNumber(val[0].typ) {
		j.buf = appendValue(j.buf, val[0].typ, val[0].data)
		return
	}
	j.tmp = j.tmp[:0]
	for _, pc := range val {
		j.tmp = pc.appendTo(j.tmp)
	}
	j.quote(j.tmp)
}

func (j *jsonWriter) body(n *jnode, container bool) {
	j.buf = append(j.buf, '{')
	comma := false
	key := func(k string) {
		if comma {
			j.buf = append(j.buf, ',')
		}
		comma = true
		j.str(k)
		j.buf = append(j.buf, ':')
	}
	if n.attrText() {
		key("#attributes")
		j.buf = append(j.buf, '{')
		first := true
		for _, a := range n.attrs {
			if !anyText(a.val) {
				continue
			}
			if !first {
				j.buf = append(j.buf, ',')
			}
			first = false
			j.str(a.name)
			j.buf = append(j.buf, ':')
			j.pieces(a.val)
		}
		j.buf = append(j.buf, '}')
	}
	if textOf(n.kids) {
		key("#text")
		j.content(n.kids)
	}

	// Under EventData and UserData, Data elements are keyed by their Name
	// when any has one; otherwise they are gathered under "Data".
	named, positional := false, 0
	if container {
		for _, k := range n.kids {
			if k.el != nil && k.el.name == "Data" {
				positional++
				if v, ok := k.el.attr("Name"); ok && anyText(v) {
					named = true
				}
			}
		}
	}
	var counts []nameCount
	unique := func(name string) string {
		for i := range counts {
			if counts[i].name == name {
				counts[i].n++
				return name + "_" + strconv.Itoa(counts[i].n-1)
			}
		}
		counts = append(counts, nameCount{name, 1})
		return name
	}
	gathered := false
	for _, k := range n.kids {
		c := k.el
		if c == nil {
			continue
		}
		if container && c.name == "Data" {
			switch {
			case named:
				v, ok := c.attr("Name")
				if !ok || !anyText(v) {
					continue
				}
				j.tmp = j.tmp[:0]
				for _, pc := range v {
					j.tmp = pc.appendTo(j.tmp)
				}
				key(unique(string(j.tmp)))
				j.data(c)
			case !gathered:
				gathered = true
				key(unique("Data"))
				j.buf = append(j.buf, `{"#text":`...)
				if positional == 1 {
					j.data(c)
				} else {
					j.buf = append(j.buf, '[')
					first := true
					for _, k2 := range n.kids {
						if k2.el != nil && k2.el.name == "Data" {
							if !first {
								j.buf = append(j.buf, ',')
							}
							first = false
							j.data(k2.el)
						}
					}
					j.buf = append(j.buf, ']')
				}
				j.buf = append(j.buf, '}')
			}
			continue
		}
		key(unique(c.name))
		j.element(c, c.name == "EventData" || c.name == "UserData")
	}
	j.buf = append(j.buf, '}')
}

// data writes a Data element's value: "" when empty, never null.
func (j *jsonWriter) data(n *jnode) {
	switch {
	case hasElement(n.kids):
		j.body(n, false)
	case !textOf(n.kids):
		j.buf = append(j.buf, `""`...)
	default:
		j.content(n.kids)
	}
}

func (j *jsonWriter) str(s string) {
	j.tmp = append(j.tmp[:0], s...)
	j.quote(j.tmp)
}

// quote appends b as a JSON string; b is valid UTF-8 (the decoders make it).
func (j *jsonWriter) quote(b []byte) {
	const hex = "0123456789abcdef"
	j.buf = append(j.buf, '"')
	for i := 0; i < len(b); {
		c := b[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				j.buf = append(j.buf, `\ufffd`...)
			} else {
				j.buf = append(j.buf, b[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			j.buf = append(j.buf, '\\', c)
		case c == '\n':
			j.buf = append(j.buf, `\n`...)
		case c == '\r':
			j.buf = append(j.buf, `\r`...)
		case c == '\t':
			j.buf = append(j.buf, `\t`...)
		case c < 0x20:
			j.buf = append(j.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			j.buf = append(j.buf, c)
		}
		i++
	}
	j.buf = append(j.buf, '"')
}
