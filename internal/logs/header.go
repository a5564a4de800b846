package logs

import (
	"fmt"
	"strings"
)

// headerState is what the scanner remembers to survive a damaged header:
// the last header records fitted, and the defaults it has said it uses.
type headerState struct {
	good     *Schema // the last schema a record fitted
	goodLine int64   // the line of its #Fields (0 for a default list)
	schLine  int64   // the line of the schema in force
	prev     *Schema // the header before the one in force
	prevLine int64
	told     bool // a fallback was reported for the schema in force
}

func (h *headerState) reset() { *h = headerState{} }

// replaced records that the header of line n replaced old, the one that
// was in force.
func (s *Scanner) replaced(old *Schema, n int64) {
	if old != nil {
		s.hdr.prev, s.hdr.prevLine = old, s.hdr.schLine
	}
	s.hdr.schLine = n
}

// fitted records that a record parsed under the schema in force.
func (s *Scanner) fitted() {
	if s.hdr.good != s.sch {
		s.hdr.good, s.hdr.goodLine = s.sch, s.hdr.schLine
	}
}

// noHeader handles a record met before any header: the kind's default
// field list with the record's number of fields is assumed, and a gap says
// so. It reports false when there is none.
func (s *Scanner) noHeader(b []byte, n int64) bool {
	names := s.defaultFor(b)
	if names == nil {
		return false
	}
	s.sch, s.hdr.schLine = NewSchema(names), 0
	s.gap(n, fmt.Sprintf("no #Fields header before this record; read with the default %s field list (%d fields)", s.Kind, len(names)))
	return true
}

// refit handles a record that does not fit the header in force (a damaged
// or bogus #Fields, a second header written over the first): the last
// header records fitted, else the kind's default list, is used from here
// on, and a gap says so once. It reports whether the record now fits.
func (s *Scanner) refit(b []byte, n int64) bool {
	fields := s.countFields(b)
	for _, c := range []struct {
		sch  *Schema
		line int64
	}{{s.hdr.good, s.hdr.goodLine}, {s.hdr.prev, s.hdr.prevLine}} {
		if c.sch != nil && c.sch != s.sch && fits(fields, len(c.sch.Names)) {
			s.gap(n, fmt.Sprintf("record does not fit the #Fields header of line %d (%d fields, header names %d); the earlier header of line %d is used from here", s.hdr.schLine, fields, len(s.sch.Names), c.line))
			s.sch, s.hdr.schLine = c.sch, c.line
			return true
		}
	}
	if names := s.defaultFor(b); names != nil && (s.sch == nil || len(names) != len(s.sch.Names)) {
		s.gap(n, fmt.Sprintf("record does not fit the #Fields header of line %d (%d fields, header names %d); the default %s field list is used from here", s.hdr.schLine, fields, len(s.sch.Names), s.Kind))
		s.sch, s.hdr.schLine = NewSchema(names), 0
		return true
	}
	return false
}

// defaultFor returns the kind's default field list that has as many
// fields as the record b, nil when none does.
func (s *Scanner) defaultFor(b []byte) []string {
	lists := defaultFields[s.Kind]
	if len(lists) == 0 {
		return nil
	}
	n := s.countFields(b)
	for _, l := range lists {
		var names []string
		if s.Format == W3C {
			names = strings.Fields(l)
		} else {
			names = strings.Split(l, ",")
		}
		if len(names) == n {
			return names
		}
	}
	return nil
}

func (s *Scanner) countFields(b []byte) int {
	switch s.Format {
	case W3C:
		return len(splitW3C(string(b), nil))
	case CSV:
		return len(splitCSV(string(b), nil))
	}
	return 0
}

// fits mirrors parse's tolerance: a record may have one field more than
// its header (a trailing separator) or fewer (empty trailing fields).
func fits(fields, names int) bool { return fields <= names+1 && fields >= names-1 }
