package yara

import (
	"bytes"
	"runtime"
	"slices"
	"testing"
	"time"
)

// budgetScan compiles src, scans data with opt and returns the matches,
// the scan's info and the bytes allocated while scanning.
func budgetScan(t *testing.T, src string, data []byte, opt ScanOptions) ([]Match, ScanInfo, uint64) {
	t.Helper()
	c := NewCompiler()
	if probs := c.Add("budget.yar", []byte(src)); len(probs) > 0 {
		t.Fatalf("compile: %v", probs)
	}
	r, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var info ScanInfo
	opt.Info = &info
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	ms, serr := r.ScanReader(bytes.NewReader(data), int64(len(data)), nil, opt)
	runtime.ReadMemStats(&m1)
	if serr != nil {
		t.Fatal(serr)
	}
	return ms, info, m1.TotalAlloc - m0.TotalAlloc
}

// A user's rule that would take forever or all memory on a file is
// stopped on that file at its budget and named; the other rules still run.
func TestScanBudgets(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 16<<20)
	copy(data[1000:], "needle")
	const other = ` rule fine { strings: $n = "needle" condition: $n }`
	for _, tt := range []struct {
		name, rule string
		opt        ScanOptions
		// which list must name bad:$a
		list func(ScanInfo) []string
	}{
		{"catastrophic regex, steps", `rule bad { strings: $a = /(a+)+$/ condition: $a }`,
			ScanOptions{StepBudget: 1 << 22, Timeout: -1}, func(i ScanInfo) []string { return i.SlowStrings }},
		{"regex with many wildcards, steps", `rule bad { strings: $a = /a.*b.*c.*d/ condition: $a }`,
			ScanOptions{StepBudget: 1 << 22, Timeout: -1}, func(i ScanInfo) []string { return i.SlowStrings }},
		{"catastrophic regex, time", `rule bad { strings: $a = /a.*b.*c.*d/ condition: $a }`,
			ScanOptions{StepBudget: 1 << 50, Timeout: 50 * time.Millisecond}, func(i ScanInfo) []string {
				if !i.TimedOut {
					return nil
				}
				return i.TimeoutStrings
			}},
		{"all-wildcard hex with a long jump", `rule bad { strings: $a = { ?? [0-100000] ?? } condition: $a }`,
			ScanOptions{MaxMemory: 8 << 20, Timeout: -1}, func(i ScanInfo) []string { return i.MemoryStrings }},
		{"hex with a long jump over matching bytes", `rule bad { strings: $a = { 61 [0-100000] 62 } condition: $a }`,
			ScanOptions{MaxMemory: 8 << 20, Timeout: -1}, func(i ScanInfo) []string { return i.MemoryStrings }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms, info, alloc := budgetScan(t, tt.rule+other, data, tt.opt)
			if got := tt.list(info); !slices.Contains(got, "bad:$a") {
				t.Errorf("info %+v does not name bad:$a where expected", info)
			}
			if !slices.Contains(info.TruncatedStrings, "bad:$a") {
				t.Errorf("bad:$a not marked truncated: %+v", info)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Rule)
			}
			if !slices.Contains(names, "fine") {
				t.Errorf("matches %v: the rule within its budget must still match", names)
			}
			// memory: the match budget (or a small one for step and time
			// cases) plus the data read and the automaton, not more
			budget := max(tt.opt.MaxMemory, 8<<20)
			if bound := uint64(budget + int64(len(data)) + 16<<20); alloc > bound {
				t.Errorf("allocated %d MiB, bound %d MiB", alloc>>20, bound>>20)
			}
		})
	}
}
