package literal

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// asciiLower folds A-Z only, as the matcher does (bytes.ToLower would also
// rewrite invalid UTF-8).
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lower(c)
	}
	return out
}

// naiveIndex is the obvious definition Index must agree with.
func naiveIndex(b []byte, lits []string) int {
	best := -1
	lb := asciiLower(b)
	for _, l := range lits {
		if l == "" {
			continue
		}
		if i := bytes.Index(lb, asciiLower([]byte(l))); i >= 0 {
			if end := i + len(l); best < 0 || end < best {
				best = end
			}
		}
	}
	return best
}

// naiveMask is the obvious definition of Mask.
func naiveMask(s string, groups [][]string) uint64 {
	var m uint64
	for g, ls := range groups {
		if naiveIndex([]byte(s), ls) >= 0 {
			m |= 1 << min(g, 63)
		}
	}
	return m
}

type occ struct{ end, lit int }

// naiveEach lists every occurrence by end, then literal index.
func naiveEach(b []byte, lits [][]byte) []occ {
	var out []occ
	lb := asciiLower(b)
	for li, l := range lits {
		if len(l) == 0 {
			continue
		}
		ll := asciiLower(l)
		for i := 0; i+len(l) <= len(b); i++ {
			if bytes.Equal(lb[i:i+len(l)], ll) {
				out = append(out, occ{i + len(l), li})
			}
		}
	}
	slices.SortFunc(out, func(a, b occ) int {
		if a.end != b.end {
			return a.end - b.end
		}
		return a.lit - b.lit
	})
	return out
}

func each(m *Matcher, b []byte) []occ {
	var out []occ
	m.Each(b, func(end int, lit int32) { out = append(out, occ{end, int(lit)}) })
	slices.SortStableFunc(out, func(a, b occ) int { return a.end - b.end })
	slices.SortFunc(out, func(a, b occ) int {
		if a.end != b.end {
			return a.end - b.end
		}
		return a.lit - b.lit
	})
	return out
}

func TestIndexAgreesWithNaive(t *testing.T) {
	lits := []string{"ServerInfo~", "X-AnonResource-Backend", "autodiscover.json", "/ecp/", "erve", "~"}
	cases := []string{
		"", "nothing here", "serverinfo~a]@x", "GET /ECP/y.js", "...SERVER", "x-anonresource-backend-cookie",
		"a~b", "autodiscover.jso", "AutoDiscover.JSON?@x", "erv", "SERVERINF", "/ec/ecp/",
	}
	p := New(lits)
	for _, c := range cases {
		want := naiveIndex([]byte(c), lits)
		if got := p.Index([]byte(c)); got != want {
			t.Errorf("Index(%q) = %d, want %d", c, got, want)
		}
		if got := p.IndexString(c); got != want {
			t.Errorf("IndexString(%q) = %d, want %d", c, got, want)
		}
	}
	// random strings over a small alphabet hit overlaps and failure links
	r := rand.New(rand.NewPCG(1, 2))
	alpha := []byte("abcAB~/e")
	rl := []string{"ab", "bca", "b~", "cab~", "~/e", "aaa"}
	rp := New(rl)
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(30))
		for j := range b {
			b[j] = alpha[r.IntN(len(alpha))]
		}
		if got, want := rp.Index(b), naiveIndex(b, rl); got != want {
			t.Fatalf("Index(%q) = %d, want %d", b, got, want)
		}
	}
}

func TestEmpty(t *testing.T) {
	for _, p := range []*Matcher{New(nil), New([]string{""}), NewGroups([][]string{nil, {}})} {
		if !p.Empty() || p.Index([]byte("anything")) != -1 || p.ContainsString("x") || p.Mask("x") != 0 {
			t.Fatal("empty matcher must match nothing")
		}
		p.Each([]byte("anything"), func(int, int32) { t.Fatal("empty matcher reported a hit") })
	}
}

func TestMask(t *testing.T) {
	groups := [][]string{{"/ecp/", "ServerInfo~"}, {"autodiscover.json"}, nil, {"json?@"}}
	p := NewGroups(groups)
	for _, tc := range []struct {
		s    string
		want uint64
	}{
		{"GET /owa/", 0},
		{"POST /ECP/y.js", 1},
		{"/autodiscover/autodiscover.json?@evil.com/ecp/", 1 | 2 | 8},
		{"serverinfo~a]@x", 1},
	} {
		if got := p.Mask(tc.s); got != tc.want || got != naiveMask(tc.s, groups) {
			t.Errorf("Mask(%q) = %b, want %b", tc.s, got, tc.want)
		}
	}
}

// Groups past 63 share the last bit.
func TestMaskManyGroups(t *testing.T) {
	groups := make([][]string, 70)
	for i := range groups {
		groups[i] = []string{strings.Repeat("x", 3) + string(rune('0'+i%10)) + string(rune('a'+i/10))}
	}
	p := NewGroups(groups)
	if got := p.Mask("xxx5g"); got != 1<<63 {
		t.Fatalf("Mask = %b, want bit 63", got)
	}
	if got := p.Mask("xxx2a"); got != 1<<2 {
		t.Fatalf("Mask = %b, want bit 2", got)
	}
}

// TestLongBuffers crosses the two-automaton segment boundaries.
func TestLongBuffers(t *testing.T) {
	lits := []string{"ServerInfo~", "autodiscover.json", "ab"}
	p := New(lits)
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 3000; n++ {
		b := bytes.Repeat([]byte("x"), 4*segSize+r.IntN(6*segSize))
		for k := r.IntN(3); k > 0; k-- {
			l := lits[r.IntN(len(lits))]
			at := r.IntN(len(b) - len(l))
			copy(b[at:], l)
		}
		if got, want := p.Index(b), naiveIndex(b, lits); got != want {
			t.Fatalf("len %d: Index = %d, want %d", len(b), got, want)
		}
		if got, want := p.IndexString(string(b)), naiveIndex(b, lits); got != want {
			t.Fatalf("len %d: IndexString = %d, want %d", len(b), got, want)
		}
	}
}

// TestMaskLong crosses the boundaries of Mask's three segments.
func TestMaskLong(t *testing.T) {
	groups := [][]string{{"ServerInfo~"}, {"autodiscover.json", "ab"}, {"/ecp/"}}
	p := NewGroups(groups)
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 5000; n++ {
		b := bytes.Repeat([]byte("x"), r.IntN(1500))
		for k := r.IntN(3); k > 0 && len(b) > 20; k-- {
			g := groups[r.IntN(len(groups))]
			l := g[r.IntN(len(g))]
			copy(b[r.IntN(len(b)-len(l)):], l)
		}
		if got, want := p.Mask(string(b)), naiveMask(string(b), groups); got != want {
			t.Fatalf("len %d: Mask = %b, want %b", len(b), got, want)
		}
	}
}

func TestEach(t *testing.T) {
	lits := [][]byte{[]byte("he"), []byte("she"), []byte("his"), []byte("hers"), []byte("He"), []byte("\x00\xff")}
	m, err := Compile(lits, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("uSHErs his \x00\xff\x00 HE")
	if got, want := each(m, b), naiveEach(b, lits); !slices.Equal(got, want) {
		t.Fatalf("Each = %v, want %v", got, want)
	}
}

// TestEachLong covers the lockstep segments: occurrences across every
// segment boundary, in the warm-up bytes and in the tail, reported once
// each and in increasing end order.
func TestEachLong(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lits := [][]byte{[]byte("abcab"), []byte("b"), []byte("CABCABCABCA"), []byte("bca"), []byte("x\x00y")}
	for _, n := range []int{300, 1000, 1001, 3071, 4*eachSeg - 1, 4 * eachSeg, 3*eachSeg*2 + 7, 3*eachSeg*5 + eachSeg/2, 100000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcABCxy\x00"[rng.IntN(9)]
		}
		// whole literals straddling each segment boundary (segments are
		// a third of a short input)
		for k := eachSeg; k+16 < n; k += eachSeg {
			copy(b[k-5:], "cabcabcabca")
		}
		for k := 5; k+16 < n; k += 61 {
			copy(b[k-5:], "cabcabcabca")
		}
		m, err := Compile(lits, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var raw []occ
		m.Each(b, func(end int, lit int32) { raw = append(raw, occ{end, int(lit)}) })
		for i := 1; i < len(raw); i++ {
			if raw[i].end < raw[i-1].end {
				t.Fatalf("len %d: hit %v after %v", n, raw[i], raw[i-1])
			}
		}
		if got, want := each(m, b), naiveEach(b, lits); !slices.Equal(got, want) {
			t.Fatalf("len %d: Each found %d occurrences, want %d", n, len(got), len(want))
		}
	}
}

func TestCompileTooLarge(t *testing.T) {
	var lits [][]byte
	for i := range 200 {
		lits = append(lits, []byte(strings.Repeat(string(rune('a'+i%26)), 50)+string(rune('0'+i%10))))
	}
	if _, err := Compile(lits, 1000); err != ErrTooLarge {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// Past maxGroupStates literals are cut short: the matcher still finds
// every literal (it over-approximates).
func TestGroupsCapKeepsMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var lits []string
	for range 3000 {
		b := make([]byte, 40)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		lits = append(lits, string(b))
	}
	p := New(lits)
	if p.States() > maxGroupStates {
		t.Fatalf("%d states, cap %d", p.States(), maxGroupStates)
	}
	for _, l := range lits {
		if !p.ContainsString("--" + strings.ToUpper(l) + "--") {
			t.Fatalf("%q not found", l)
		}
	}
}

func TestIndexFold(t *testing.T) {
	for _, tc := range []struct {
		s, sub string
		want   int
	}{
		{"x&owaVer=15.1", "owaver=", 2},
		{"\x9eowAVer=", "owaver=", 1},                  // invalid UTF-8 before the match
		{"İ Threat Detected: x", "threat detected", 3}, // a letter whose lower case is longer
		{"no match", "owaver=", -1},
		{"ab", "abc", -1},
		{"abc", "", 0},
	} {
		if got := IndexFold(tc.s, tc.sub); got != tc.want {
			t.Errorf("IndexFold(%q, %q) = %d, want %d", tc.s, tc.sub, got, tc.want)
		}
		if got := IndexFold([]byte(tc.s), tc.sub); got != tc.want {
			t.Errorf("IndexFold([]byte(%q), %q) = %d, want %d", tc.s, tc.sub, got, tc.want)
		}
	}
}

// FuzzMatcher checks every search against the naive oracle.
func FuzzMatcher(f *testing.F) {
	f.Add([]byte("ServerInfo~a]@x"), "serverinfo~", "/ecp/", "erv")
	f.Add([]byte("\x00\xff"), "\xff", "a", "")
	f.Add(bytes.Repeat([]byte("xyz/ECP/"), 2000), "/ecp/", "zx", "yzxy")
	f.Fuzz(func(t *testing.T, b []byte, l1, l2, l3 string) {
		// long literals only make the oracle and the tables slow
		l1, l2, l3 = l1[:min(len(l1), 64)], l2[:min(len(l2), 64)], l3[:min(len(l3), 64)]
		lits := []string{l1, l2, l3}
		m := New(lits)
		want := naiveIndex(b, lits)
		if got := m.Index(b); got != want {
			t.Fatalf("Index(%q, %q) = %d, want %d", b, lits, got, want)
		}
		if got := m.IndexString(string(b)); got != want {
			t.Fatalf("IndexString(%q, %q) = %d, want %d", b, lits, got, want)
		}
		groups := [][]string{{l1}, {l2, l3}}
		if got, want := NewGroups(groups).Mask(string(b)), naiveMask(string(b), groups); got != want {
			t.Fatalf("Mask(%q, %q) = %b, want %b", b, groups, got, want)
		}
		bl := [][]byte{[]byte(l1), []byte(l2), []byte(l3)}
		cm, err := Compile(bl, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := each(cm, b), naiveEach(b, bl); !slices.Equal(got, want) {
			t.Fatalf("Each(%q, %q) = %v, want %v", b, bl, got, want)
		}
	})
}

// On ASCII input IndexFold agrees with lower-casing both sides.
func FuzzIndexFold(f *testing.F) {
	f.Add("x&OWAVER=1", "owaver=")
	f.Fuzz(func(t *testing.T, s, sub string) {
		i := IndexFold(s, sub)
		if i > len(s) || (i >= 0 && !strings.EqualFold(s[i:i+len(sub)], sub) && isASCII(sub)) {
			t.Fatalf("IndexFold(%q, %q) = %d", s, sub, i)
		}
		if want := naiveIndex([]byte(s), []string{sub}); sub != "" && (want < 0) != (i < 0) || want >= 0 && i != want-len(sub) {
			t.Fatalf("IndexFold(%q, %q) = %d, naive end %d", s, sub, i, want)
		}
		if isASCII(s) && isASCII(sub) {
			if want := strings.Index(strings.ToLower(s), strings.ToLower(sub)); i != want {
				t.Fatalf("IndexFold(%q, %q) = %d, want %d", s, sub, i, want)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Fields", "fields", true},
		{"FIELDS", "fields", true},
		{"field", "fields", false},
		{"fieldsx", "fields", false},
		{"\u212Aey", "key", false}, // Kelvin sign: not ASCII
		{"", "", true},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := EqualFold([]byte(tc.a), tc.b); got != tc.want {
			t.Errorf("EqualFold([]byte(%q), %q) = %v", tc.a, tc.b, got)
		}
	}
}

// The search table is built on first use; concurrent first uses share it.
func TestConcurrentFirstUse(t *testing.T) {
	m := New([]string{"/ecp/", "ServerInfo~"})
	b := bytes.Repeat([]byte("x/ECP/"), 3000)
	done := make(chan int)
	for range 4 {
		go func() { done <- m.Index(b) }()
	}
	for range 4 {
		if got := <-done; got != 6 {
			t.Fatalf("Index = %d, want 6", got)
		}
	}
}

// The table is allocated at the trie's size, counted beforehand.
func TestTrieSize(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 500 {
		var lits []string
		for k := r.IntN(6); k >= 0; k-- {
			b := make([]byte, r.IntN(8))
			for j := range b {
				b[j] = "abAB~\xff"[r.IntN(6)]
			}
			lits = append(lits, string(b))
		}
		if got, want := New(lits).States(), trieSize(lits); got != want {
			t.Fatalf("%q: %d states, trieSize %d", lits, got, want)
		}
	}
}
