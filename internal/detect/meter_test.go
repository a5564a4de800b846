package detect

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func compileSigma(t *testing.T, y string) *Detection {
	t.Helper()
	d, err := Compile(detection(t, y), &Env{Dialect: Sigma})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A metered match decides as Match does, and counts for each field
// condition it evaluates a step for the lookup and one per value, plus
// the values' steps per byte tested.
func TestMeterCounts(t *testing.T) {
	d := compileSigma(t, "a: {Image|endswith: '\\cmd.exe'}\nb: {CommandLine|contains: ['x', 'y']}\ncondition: a and not b\n")
	for _, tc := range []struct {
		rec   rec
		match bool
		steps int64
	}{
		// a: a step for the lookup, one for its value, and one per
		// byte of a suffix test of 12 bytes; b: the lookup and its two
		// values, and the field is missing
		{rec{"image": `C:\x\cmd.exe`}, true, 2 + 12 + 3},
		// b: two substring tests of one byte
		{rec{"image": `C:\x\cmd.exe`, "commandline": "z"}, true, 2 + 12 + 3 + 2},
		// b is charged for both values, though the first decides
		{rec{"image": `C:\x\cmd.exe`, "commandline": "xx"}, false, 2 + 12 + 3 + 4},
		// a fails first: b is not evaluated
		{rec{"image": "notepad.exe"}, false, 2 + 11},
	} {
		m := Meter{Limit: math.MaxInt64}
		if got := d.MatchMeter(tc.rec, &m); got != tc.match || got != d.Match(tc.rec) || m.Over() {
			t.Errorf("%v: MatchMeter %v, Match %v, want %v", tc.rec, got, d.Match(tc.rec), tc.match)
		}
		if m.Steps != tc.steps {
			t.Errorf("%v: %d steps, want %d", tc.rec, m.Steps, tc.steps)
		}
	}
}

// A costly value is charged before it runs: the match stops at the limit
// without running it, and says it said nothing.
func TestMeterStopsAtLimit(t *testing.T) {
	var words []string
	for i := range 2000 {
		words = append(words, fmt.Sprintf("w%04dx", i))
	}
	d := compileSigma(t, "sel: {q|re: '("+strings.Join(words, "|")+")z'}\ncondition: sel\n")
	size := d.sels[0].groups[0][0].stepsPerByte
	if size < 2000 {
		t.Fatalf("an alternation of 2,000 words costs %d steps per byte", size)
	}
	long := rec{"q": strings.Repeat("w0001x", 1<<20/6) + "z"}
	m := Meter{Limit: 1 << 20}
	if d.MatchMeter(long, &m) || !m.Over() {
		t.Fatalf("matched within %d steps, over %v", m.Limit, m.Over())
	}
	if m.Steps > m.Limit {
		t.Errorf("%d steps spent past the limit %d", m.Steps, m.Limit)
	}
	// the same value, short: within the limit and matching
	m = Meter{Limit: 1 << 20}
	if !d.MatchMeter(rec{"q": "w0001xz"}, &m) || m.Over() {
		t.Errorf("a short value: over %v after %d steps", m.Over(), m.Steps)
	}
	// the cost grows with the value, by the program's size per byte
	m1, m2 := Meter{Limit: math.MaxInt64}, Meter{Limit: math.MaxInt64}
	d.MatchMeter(rec{"q": strings.Repeat("a", 100)}, &m1)
	d.MatchMeter(rec{"q": strings.Repeat("a", 200)}, &m2)
	if m2.Steps-m1.Steps != 100*size {
		t.Errorf("100 more bytes cost %d more steps, want %d", m2.Steps-m1.Steps, 100*size)
	}
}

// Keywords are charged for every value they search.
func TestMeterKeywords(t *testing.T) {
	d := compileSigma(t, "kw: ['evil', 'bad']\ncondition: kw\n")
	r := valuesRec{"a": strings.Repeat("x", 1000), "b": strings.Repeat("y", 1000)}
	m := Meter{Limit: math.MaxInt64}
	if d.MatchMeter(r, &m) {
		t.Fatal("matched")
	}
	if m.Steps < 2*2000 {
		t.Errorf("two keywords over 2,000 bytes cost %d steps", m.Steps)
	}
}

func TestBudgetDefaults(t *testing.T) {
	b := Budget{}.WithDefaults()
	if b.StepLimit(1<<20) != 64<<20+64<<20 || b.TimeLimit(10<<20) != b.Time+10*b.TimePerMiB {
		t.Errorf("defaults %+v: %d steps, %s for 1 MiB", b, b.StepLimit(1<<20), b.TimeLimit(1<<20))
	}
	if (Budget{Time: -1}).WithDefaults().TimeLimit(1<<30) != 0 {
		t.Error("a negative time budget is no time budget")
	}
}
