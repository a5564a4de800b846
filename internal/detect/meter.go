package detect

import (
	"regexp"
	"regexp/syntax"
	"time"
)

// The work of matching is counted in steps, so a rule that is slow on
// hostile records can be stopped at a budget whatever it is written with.
// A step is one field looked up, or one byte a value's matcher may have to
// look at: a substring or wildcard search one per byte and segment, a
// regular expression as many per byte as its program has instructions
// (what Go's NFA can do at worst). A field condition is charged before
// it runs, at its worst case (every value tested), so a metered match
// never goes past its limit.

// Meter counts the steps of metered matches and stops one at Limit. Keep
// one per rule where the rule is matched many times: it holds the match's
// working state, so a metered match allocates nothing.
type Meter struct {
	// Steps spent so far.
	Steps int64
	// Limit bounds Steps; a condition whose evaluation could go past it
	// is not evaluated, and the meter is over.
	Limit int64
	over  bool
	ev    evaluator
}

// Over reports whether a match was stopped at the limit; its result then
// says nothing, and later matches on the meter are not made.
func (m *Meter) Over() bool { return m.over }

// charge takes n steps; false when they would go past the limit, from
// when on the meter is over.
func (m *Meter) charge(n int64) bool {
	if m.over || m.Steps+n > m.Limit {
		m.over = true
		return false
	}
	m.Steps += n
	return true
}

// MatchMeter is Match counting its work on m: false, and m.Over, when the
// work would go past m.Limit.
func (d *Detection) MatchMeter(rec Record, m *Meter) bool {
	if m.over {
		return false
	}
	m.ev = evaluator{d: d, rec: rec, m: m}
	hit := d.cond.eval(&m.ev)
	m.ev.rec = nil // the record is the caller's, often reused
	return hit && !m.over
}

// Budget bounds what one rule may spend matching the records of one file.
// The zero value means the defaults.
type Budget struct {
	// Steps a rule may spend on a file, plus StepsPerByte for each byte of
	// the file read so far (default 64M plus 64 per byte, as the YARA
	// engine's budget per string).
	Steps, StepsPerByte int64
	// Time a rule may spend on a file, plus TimePerMiB for each MiB read
	// so far (default one minute plus one second per MiB); negative for
	// no time budget.
	Time, TimePerMiB time.Duration
}

// Default budgets: far above what any shipped rule spends on real logs
// (docs/DESIGN.md, "Detection engine"), so only a hostile rule or record
// reaches them.
const (
	defaultSteps        = 64 << 20
	defaultStepsPerByte = 64
	defaultTime         = time.Minute
	defaultTimePerMiB   = time.Second
)

// WithDefaults fills in the defaults of the fields left zero.
func (b Budget) WithDefaults() Budget {
	if b.Steps <= 0 {
		b.Steps = defaultSteps
	}
	if b.StepsPerByte <= 0 {
		b.StepsPerByte = defaultStepsPerByte
	}
	if b.Time == 0 {
		b.Time = defaultTime
	}
	if b.TimePerMiB == 0 {
		b.TimePerMiB = defaultTimePerMiB
	}
	return b
}

// StepLimit is the steps a rule may have spent once bytes of its file
// are read.
func (b Budget) StepLimit(bytes int64) int64 {
	return b.Steps + b.StepsPerByte*max(bytes, 0)
}

// TimeLimit is the time a rule may have spent once bytes of its file are
// read, or 0 for no limit.
func (b Budget) TimeLimit(bytes int64) time.Duration {
	if b.Time < 0 {
		return 0
	}
	return b.Time + b.TimePerMiB*time.Duration(max(bytes, 0)>>20)
}

// perByte is a matcher's worst-case steps per byte of the value it tests.
func perByte(m valueMatcher) int64 {
	switch x := m.(type) {
	case *glob:
		// each literal segment is compared or searched for once
		n := 0
		for _, s := range x.segs {
			if s.lit != "" {
				n++
			}
		}
		return int64(max(n, 1))
	case reMatcher:
		return x.size
	case reLit:
		return x.size
	case anyContains:
		return 2 // the ASCII test, then the automaton
	case anyMatcher:
		var n int64
		for _, y := range x {
			n += perByte(y)
		}
		return n
	case emptyMatcher:
		return 0
	case fieldRefMatcher:
		return 2 // charged again for the other field's value
	}
	return 1 // lists, numbers, addresses: parsed or folded once
}

// setCost computes the most one evaluation of the condition costs: a
// step for the lookup and one per value, plus each value's steps per byte.
func (fc *fieldCond) setCost() {
	fc.stepsFixed, fc.stepsPerByte = 1+int64(len(fc.values)), 0
	for _, m := range fc.values {
		fc.stepsPerByte += perByte(m)
	}
	// bounded so that the steps of a value of any length a record can
	// hold stay far from overflowing; a condition this costly is over
	// any budget on a few bytes anyway
	fc.stepsPerByte = min(fc.stepsPerByte, maxStepsPerByte)
}

// maxStepsPerByte bounds a condition's steps per byte.
const maxStepsPerByte = 1 << 28

// newReMatcher wraps a compiled expression with its program's size, the
// worst-case steps per byte.
func newReMatcher(re *regexp.Regexp) reMatcher {
	return reMatcher{re: re, size: progSize(re.String())}
}

func progSize(expr string) int64 {
	s, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 1
	}
	p, err := syntax.Compile(s.Simplify())
	if err != nil {
		return 1
	}
	return int64(max(len(p.Inst), 1))
}
