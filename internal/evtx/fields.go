package evtx

import "strconv"

// Field is one flattened value of an event.
type Field struct {
	Name, Value string
}

// rawField is a Field whose value is still a span of the chunk's text
// arena; the chunk turns the arena into one string at its end, and every
// value becomes a substring of it (one allocation per chunk, not per value).
type rawField struct {
	name   string
	lo, hi int32
}

type frame struct {
	name    string
	evData  bool   // in EventData
	data    bool   // an EventData Data element
	key     string // its field name
	inData  bool   // inside a Data element: only adds to its text
	start   int    // arena offset where the element's text begins
	hasKids bool
}

// fieldSink flattens a record into fields:
//   - under System, the text of each leaf element by its name ("EventID")
//     and each attribute as Element_Attribute ("Provider_Name"), except
//     TimeCreated's SystemTime, which is "TimeCreated";
//   - under EventData, each Data element by its Name attribute, unnamed ones
//     as "Data"; other children by their element name;
//   - under UserData and anything else, leaves and attributes as under
//     System, whatever their depth; xmlns attributes are dropped.
//
// A name seen twice gets "_2", "_3"... Empty values are dropped, except
// Data elements, which are always present.
type fieldSink struct {
	p      *parser
	arena  []byte
	fields []rawField // the current event's
	stack  []frame
	// index holds the event's field names once it has many, each with the
	// next suffix to try for it.
	index   map[string]int
	indexed bool
	keybuf  []byte
}

func (s *fieldSink) begin() {
	s.fields = s.fields[:0]
	s.stack = s.stack[:0]
	if s.indexed {
		clear(s.index)
		s.indexed = false
	}
}

func (s *fieldSink) start(name string, attrs []attrVal) {
	depth := len(s.stack)
	f := frame{name: name}
	if depth > 0 {
		parent := &s.stack[depth-1]
		parent.hasKids = true
		f.evData, f.inData = parent.evData, parent.inData || parent.data
	}
	if depth == 1 {
		f.evData = name == "EventData"
	}
	if depth == 2 && f.evData && name == "Data" {
		f.data, f.key = true, "Data"
		for i := range attrs {
			if attrs[i].name == "Name" {
				if k := s.join(attrs[i].val); k != "" {
					f.key = k
				}
			}
		}
	}
	if depth >= 2 && !f.inData && !f.data {
		for i := range attrs {
			a := &attrs[i]
			if a.name == "xmlns" || len(a.name) > 6 && a.name[:6] == "xmlns:" {
				continue
			}
			lo := len(s.arena)
			for _, pc := range a.val {
				s.arena = pc.appendTo(s.arena)
			}
			if len(s.arena) == lo {
				continue
			}
			key := "TimeCreated"
			if name != "TimeCreated" || a.name != "SystemTime" {
				s.keybuf = append(append(append(s.keybuf[:0], name...), '_'), a.name...)
				key = s.p.internBytes(s.keybuf)
			}
			s.add(key, lo)
		}
	}
	f.start = len(s.arena)
	s.stack = append(s.stack, f)
}

func (s *fieldSink) text(pc piece) {
	if len(s.stack) > 1 {
		s.arena = pc.appendTo(s.arena)
	}
}

func (s *fieldSink) end() {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	switch {
	case f.data:
		s.add(f.key, f.start)
	case f.inData, f.hasKids, len(s.arena) == f.start, len(s.stack) == 0:
	default:
		s.add(f.name, f.start)
	}
}

// join renders pieces to a string (a Data element's Name).
func (s *fieldSink) join(val []piece) string {
	if len(val) == 1 && val[0].lit {
		return val[0].text
	}
	s.keybuf = s.keybuf[:0]
	for _, pc := range val {
		s.keybuf = pc.appendTo(s.keybuf)
	}
	return s.p.internBytes(s.keybuf)
}

// add appends the field name with the arena's bytes from lo on, renaming
// a repeated name.
func (s *fieldSink) add(name string, lo int) {
	if len(s.fields) >= maxEventFields {
		return
	}
	if s.has(name) {
		base, n := name, 2
		if s.indexed && s.index[base] > n {
			n = s.index[base]
		}
		for ; ; n++ {
			s.keybuf = strconv.AppendInt(append(append(s.keybuf[:0], base...), '_'), int64(n), 10)
			if name = s.p.internBytes(s.keybuf); !s.has(name) {
				break
			}
		}
		if s.indexed {
			s.index[base] = n + 1
		}
	}
	s.fields = append(s.fields, rawField{name: name, lo: int32(lo), hi: int32(len(s.arena))})
	if s.indexed {
		s.index[name] = 2
	}
}

// has reports whether the event already has a field name: a scan for the
// usual few dozen fields, an index past that.
func (s *fieldSink) has(name string) bool {
	if !s.indexed {
		if len(s.fields) <= 32 {
			for i := range s.fields {
				if s.fields[i].name == name {
					return true
				}
			}
			return false
		}
		if s.index == nil {
			s.index = make(map[string]int)
		}
		for _, f := range s.fields {
			s.index[f.name] = 2
		}
		s.indexed = true
	}
	_, ok := s.index[name]
	return ok
}
