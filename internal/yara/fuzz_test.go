package yara

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"
)

// checkMatches verifies what must hold of any scan result.
func checkMatches(t *testing.T, data []byte, ms []Match) {
	t.Helper()
	for _, m := range ms {
		if m.Rule == "" {
			t.Fatalf("match without rule: %+v", m)
		}
		if !sort.SliceIsSorted(m.Strings, func(i, j int) bool {
			a, b := m.Strings[i], m.Strings[j]
			return a.ID < b.ID || (a.ID == b.ID && a.Offset < b.Offset)
		}) {
			// strings come grouped by id in definition order, offsets sorted
			for i := 1; i < len(m.Strings); i++ {
				a, b := m.Strings[i-1], m.Strings[i]
				if a.ID == b.ID && a.ID != "$" && a.Offset >= b.Offset {
					t.Fatalf("rule %s: offsets of %s not increasing", m.Rule, a.ID)
				}
			}
		}
		for _, s := range m.Strings {
			if s.Offset < 0 || s.Length <= 0 || s.Offset+s.Length > int64(len(data)) {
				t.Fatalf("rule %s %s: match %d+%d outside %d bytes", m.Rule, s.ID, s.Offset, s.Length, len(data))
			}
			if !bytes.Equal(s.Data, data[s.Offset:s.Offset+int64(len(s.Data))]) || int64(len(s.Data)) > s.Length {
				t.Fatalf("rule %s %s: data does not match the file", m.Rule, s.ID)
			}
		}
	}
}

func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(upstreamDir, "*.yar"))
	own, _ := filepath.Glob("testdata/oracle/*.yar")
	for _, p := range append(seeds, own...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`rule a { strings: $a = { 4D 5A [-] 50 45 ( 00 | 01 ?? ) } $b = /a(b|c){2,5}?d\b/is condition: for all i in (1..#a) : ( @a[i] < !b[1] ) }`)
	f.Add(`import "pe" rule b : t { meta: x = 1 strings: $ = "x" xor(1-2) wide condition: pe.is_dll() and any of them }`)
	f.Fuzz(func(t *testing.T, src string) {
		done := make(chan bool)
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(60 * time.Second): // a hang becomes a crasher
				panic(fmt.Sprintf("slow input: %q", src))
			}
		}()
		c := NewCompiler()
		for _, e := range externalNames {
			c.DefineString(e, "x")
		}
		probs := c.Add("fuzz.yar", []byte(src))
		for _, p := range probs {
			if p.File != "fuzz.yar" || p.Reason == "" {
				t.Fatalf("bad problem: %+v", p)
			}
		}
		r, _ := c.Rules()
		if r == nil {
			return
		}
		for _, data := range [][]byte{nil, []byte("x"), []byte(src), bytes.Repeat([]byte("ab\x00"), 100)} {
			ms, err := r.ScanWithOptions(data, nil, ScanOptions{StepBudget: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			checkMatches(t, data, ms)
		}
	})
}

var (
	fuzzRulesOnce sync.Once
	fuzzRules     *Rules
)

// fixedRules compiles the upstream and oracle rule files once.
func fixedRules(t testing.TB) *Rules {
	fuzzRulesOnce.Do(func() {
		fuzzRules, _ = compileOracle(t, oracleRuleFiles(t))
	})
	return fuzzRules
}

// fuzzBudget are the budgets FuzzScan holds every scan to; boundedScan
// fails when a scan costs more than them (with a wide margin: the machine
// may be busy), not only when it panics.
var fuzzBudget = ScanOptions{StepBudget: 1 << 22, MaxMemory: 4 << 20, Timeout: time.Second}

func boundedScan(t *testing.T, r *Rules, data []byte, ext map[string]string) []Match {
	t.Helper()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	ms, err := r.ScanWithOptions(data, ext, fuzzBudget)
	took := time.Since(start)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if took > 30*fuzzBudget.Timeout {
		t.Fatalf("scan took %v, budget %v", took, fuzzBudget.Timeout)
	}
	// the match budget, copies of matched data and the conditions' work
	if alloc, bound := m1.TotalAlloc-m0.TotalAlloc, uint64(fuzzBudget.MaxMemory)+uint64(8*len(data))+32<<20; alloc > bound {
		t.Fatalf("scan allocated %d bytes, bound %d", alloc, bound)
	}
	checkMatches(t, data, ms)
	return ms
}

func FuzzScan(f *testing.F) {
	rules := fixedRules(f)
	f.Add("$a and #b > 1", []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["x"],"unsafe");%>`))
	f.Add("any of them", []byte("POST /ecp/y.js "+string(bytes.Repeat([]byte("x"), 120))+" 200 "))
	f.Add("for any i in (1..#c) : (@c[i] == uint16(0))", []byte("!BDN\x00\x00Page Language=\"C#\""))
	f.Add("$b at 0 or 2 of ($*)", append([]byte{0x4d, 0x5a}, bytes.Repeat([]byte{0}, 300)...))
	f.Add("none of them", []byte(" /autodiscover/autodiscover.json?a=1 Powershell 200 "))
	// catastrophic patterns: the fuzzed text is also tried as a regex
	f.Add("(a+)+$", bytes.Repeat([]byte("a"), 4096))
	f.Add("a.*b.*c.*d.*e", bytes.Repeat([]byte("abc"), 2000))
	f.Add("(a|aa)*(b|a)*c", bytes.Repeat([]byte("a"), 3000))
	f.Fuzz(func(t *testing.T, cond string, data []byte) {
		boundedScan(t, rules, data, map[string]string{"filename": "x.aspx", "extension": "aspx"})
		// a fuzzed condition over fixed strings of every kind
		c := NewCompiler()
		c.DefineString("filename", "")
		src := `rule fz { strings: $a = "Page" nocase wide ascii $b = { 4D 5A [0-8] ( 00 | 50 ) } $c = /[a-z]{2,4}\.js/ $d = "eval" xor(0-3) fullword condition: (` +
			cond + `) or ($a and $b and $c and $d and false) }`
		if probs := c.Add("fz.yar", []byte(src)); len(probs) == 0 {
			if r, _ := c.Rules(); r != nil {
				boundedScan(t, r, data, nil)
			}
		}
		// the fuzzed text as a regular expression and a hex string with a
		// long jump: budgets hold whatever the pattern
		c = NewCompiler()
		src = "rule fr { strings: $r = /" + cond + "/ $h = { ?? [0-100000] 61 } condition: $r or #h > 3 }"
		if probs := c.Add("fr.yar", []byte(src)); len(probs) == 0 {
			if r, _ := c.Rules(); r != nil {
				boundedScan(t, r, data, nil)
			}
		}
	})
}
