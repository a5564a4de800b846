package hunt

import (
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/rule"
)

// budgetDetector is an exhunt rule over IIS lines testing one field.
func budgetDetector(t *testing.T, n int) *detector {
	t.Helper()
	r, err := rule.Parse([]byte("id: budget-test\ntitle: t\nlogsource: [iis]\nstage: probed\nseverity: low\nchain: ProxyLogon\n" +
		"detection:\n  sel:\n    cs-uri-query|contains: evil\n  condition: sel\n"))
	if err != nil {
		t.Fatal(err)
	}
	cr, err := r.Compile(&rule.Env{})
	if err != nil {
		t.Fatal(err)
	}
	d := ruleDetector(cr)
	d.n = n
	return d
}

type query string

func (q query) Field(name string) (string, bool) {
	return string(q), strings.EqualFold(name, "cs-uri-query")
}
func (q query) Raw() string { return string(q) }

// A rule is stopped on a file once its steps would pass the budget, said
// once as a gap at the line it was stopped; the next file starts afresh.
func TestRuleStepBudget(t *testing.T) {
	d := budgetDetector(t, 1)
	rm := newRuleMeters(2, detect.Budget{Steps: 1000, StepsPerByte: 1})
	rm.reset(0)
	// 100 bytes: 102 steps a line (the lookup, the value, a step a byte)
	rec := query(strings.Repeat("a", 96) + "evil")
	lines := 0
	for i := 1; i <= 100; i++ {
		if !rm.match(d, rec, int64(i)) {
			break
		}
		lines++
	}
	if lines != 9 {
		t.Errorf("%d lines matched within 1,000 steps at 102 a line", lines)
	}
	for i := range 5 {
		if rm.match(d, rec, int64(200+i)) {
			t.Fatal("a stopped rule matched again")
		}
	}
	if len(rm.gaps) != 1 || rm.gaps[0].Line != int64(lines+1) ||
		!strings.Contains(rm.gaps[0].Reason, "rule budget-test stopped at its step budget") {
		t.Fatalf("gaps %+v", rm.gaps)
	}
	// the budget grows with the bytes read, and resets with the file
	rm.reset(1 << 20)
	for i := range 100 {
		if !rm.match(d, rec, int64(i)) {
			t.Fatalf("line %d of a 1 MiB file: stopped", i)
		}
	}
	if len(rm.gaps) != 0 {
		t.Errorf("gaps of the last file carried over: %v", rm.gaps)
	}
}

// A rule whose evaluations take longer than its time budget is stopped;
// the time is read every timeEvery evaluations and stands for them all.
func TestRuleTimeBudget(t *testing.T) {
	d := budgetDetector(t, 0)
	rm := newRuleMeters(1, detect.Budget{Time: time.Minute, TimePerMiB: time.Second})
	var clock time.Time
	rm.now = func() time.Time { clock = clock.Add(time.Second); return clock } // each evaluation: a second
	rm.reset(0)
	n := 0
	for n < 10*timeEvery && rm.match(d, query("evil"), int64(n+1)) {
		n++
	}
	// the first timed evaluation counts 1 s, each later one timeEvery s:
	// past a minute at the third, whose hit still counts
	if n != 2*timeEvery+1 || len(rm.gaps) != 1 || rm.gaps[0].Line != int64(n) ||
		!strings.Contains(rm.gaps[0].Reason, "rule budget-test stopped at its time budget") {
		t.Errorf("stopped after %d evaluations; gaps %v", n, rm.gaps)
	}
	// a negative time budget is none
	rm = newRuleMeters(1, detect.Budget{Time: -1})
	rm.now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	rm.reset(0)
	for i := range 10 * timeEvery {
		if !rm.match(d, query("evil"), int64(i)) {
			t.Fatalf("stopped at %d without a time budget", i)
		}
	}
}
