package detect

// LowerRecord is a Record that gives its values lower-cased (as
// strings.ToLower does), each computed once however many case-insensitive
// patterns test it; the patterns then compare bytes directly.
type LowerRecord interface {
	FieldLower(name string) (string, bool)
	// ValuesLower is Values lower-cased, for keyword searches.
	ValuesLower() []string
}

// lowerMatcher tests a value that is already lower case.
type lowerMatcher interface {
	matchLower(v string) bool
}

func (g *glob) matchLower(v string) bool { return g.matchFold(v, false) }

func (m anyContains) matchLower(v string) bool { return m.pf.ContainsString(v) }

func (emptyMatcher) matchLower(v string) bool { return v == "" }

func (m anyMatcher) matchLower(v string) bool {
	for _, x := range m {
		if x.(lowerMatcher).matchLower(v) {
			return true
		}
	}
	return false
}

// canLower reports whether m compares case-insensitively in a way that a
// lower-cased value gives the same result.
func canLower(m valueMatcher) bool {
	switch x := m.(type) {
	case *glob:
		return !x.cased
	case anyContains, emptyMatcher:
		return true
	case anyMatcher:
		for _, y := range x {
			if !canLower(y) {
				return false
			}
		}
		return true
	}
	return false
}

func (fc *fieldCond) setLower() {
	if fc.refs || len(fc.values) == 0 {
		return
	}
	for _, m := range fc.values {
		if !canLower(m) {
			return
		}
	}
	fc.lower = true
}
