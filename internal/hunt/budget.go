package hunt

import (
	"fmt"
	"io"
	"time"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/logs"
)

// ruleMeters keeps what each rule has spent on the file a worker reads, so
// a rule that goes past its budget (Options.RuleBudget) is stopped on that
// file, and said so once as a gap naming the rule, while the other rules
// and later files go on.
type ruleMeters struct {
	b     detect.Budget
	m     []ruleMeter // by detector.n
	used  []int       // the meters in use for this file, to reset
	bytes int64       // bytes of the file read so far
	gaps  []logs.LineGap
	now   func() time.Time
}

type ruleMeter struct {
	meter   detect.Meter
	calls   uint32
	elapsed time.Duration // estimated from the timed evaluations
	stopped bool
}

// timeEvery: one evaluation in timeEvery is timed, and counts for
// timeEvery of them; reading the clock on each would cost more than most
// evaluations do. The step count, kept for every evaluation, is the exact
// bound; the time is the safety net for a cost the steps misjudge.
const timeEvery = 32

func newRuleMeters(n int, b detect.Budget) *ruleMeters {
	return &ruleMeters{b: b.WithDefaults(), m: make([]ruleMeter, n), now: time.Now}
}

// reset readies the meters for a file whose first size bytes are read (0
// when they are counted as they come).
func (rm *ruleMeters) reset(size int64) {
	for _, i := range rm.used {
		rm.m[i] = ruleMeter{}
	}
	rm.used, rm.bytes, rm.gaps = rm.used[:0], size, nil
}

// match evaluates d on rec within d's budget on this file; at is the line
// or record, for the gap when the rule is stopped.
func (rm *ruleMeters) match(d *detector, rec detect.Record, at int64) bool {
	m := &rm.m[d.n]
	if m.stopped {
		return false
	}
	if m.calls == 0 {
		rm.used = append(rm.used, d.n)
	}
	m.calls++
	mt := &m.meter
	mt.Limit = rm.b.StepLimit(rm.bytes)
	var hit bool
	if m.calls%timeEvery == 1 {
		// the first evaluation stands for itself, each later timed one
		// for the timeEvery since the last
		t0 := rm.now()
		hit = d.det.MatchMeter(rec, mt)
		el := rm.now().Sub(t0)
		if m.calls > 1 {
			el *= timeEvery
		}
		m.elapsed += el
	} else {
		hit = d.det.MatchMeter(rec, mt)
	}
	limit := rm.b.TimeLimit(rm.bytes)
	switch {
	case mt.Over():
		m.stopped = true
		rm.gaps = append(rm.gaps, logs.LineGap{Line: at, Reason: fmt.Sprintf(
			"rule %s stopped at its step budget after %d steps (budget %d: %d plus %d per byte read); it was not evaluated on this file from here on",
			d.id, mt.Steps, mt.Limit, rm.b.Steps, rm.b.StepsPerByte)})
		return false
	case limit > 0 && m.elapsed > limit:
		m.stopped = true
		rm.gaps = append(rm.gaps, logs.LineGap{Line: at, Reason: fmt.Sprintf(
			"rule %s stopped at its time budget after about %s (budget %s: %s plus %s per MiB read); it was not evaluated on this file from here on",
			d.id, m.elapsed.Round(time.Millisecond), limit, rm.b.Time, rm.b.TimePerMiB)})
	}
	return hit
}

// counter counts the bytes read through it into *n.
type counter struct {
	r io.Reader
	n *int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
