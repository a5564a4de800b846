package logs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// asciiLower folds A-Z only, as the prefilter does (bytes.ToLower would
// also rewrite invalid UTF-8).
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = lower(c)
	}
	return out
}

// naiveIndex is the obvious definition Prefilter must agree with.
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

func TestPrefilterAgreesWithNaive(t *testing.T) {
	lits := []string{"ServerInfo~", "X-AnonResource-Backend", "autodiscover.json", "/ecp/", "erve", "~"}
	cases := []string{
		"", "nothing here", "serverinfo~a]@x", "GET /ECP/y.js", "...SERVER", "x-anonresource-backend-cookie",
		"a~b", "autodiscover.jso", "AutoDiscover.JSON?@x", "erv", "SERVERINF", "/ec/ecp/",
	}
	p := NewPrefilter(lits)
	for _, c := range cases {
		if got, want := p.Index([]byte(c)), naiveIndex([]byte(c), lits); got != want {
			t.Errorf("Index(%q) = %d, want %d", c, got, want)
		}
	}
	// random strings over a small alphabet hit overlaps and failure links
	r := rand.New(rand.NewPCG(1, 2))
	alpha := []byte("abcAB~/e")
	rl := []string{"ab", "bca", "b~", "cab~", "~/e", "aaa"}
	rp := NewPrefilter(rl)
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

func TestPrefilterEmpty(t *testing.T) {
	p := NewPrefilter(nil)
	if !p.Empty() || p.Index([]byte("anything")) != -1 {
		t.Fatal("empty prefilter must match nothing")
	}
}

func FuzzPrefilter(f *testing.F) {
	f.Add([]byte("ServerInfo~a]@x"), "serverinfo~", "/ecp/")
	f.Add([]byte("\x00\xff"), "\xff", "a")
	f.Fuzz(func(t *testing.T, b []byte, l1, l2 string) {
		lits := []string{l1, l2}
		pf := NewPrefilter(lits)
		want := naiveIndex(b, lits)
		if got := pf.Index(b); got != want {
			t.Fatalf("Index(%q, %q) = %d, want %d", b, lits, got, want)
		}
		if got := pf.ContainsString(string(b)); got != (want >= 0) {
			t.Fatalf("ContainsString(%q, %q) = %v, want %v", b, lits, got, want >= 0)
		}
	})
}

func BenchmarkPrefilter(b *testing.B) {
	line := []byte("2021-03-03 05:12:44 10.0.0.5 GET /owa/auth/15.1.2176/themes/resources/favicon.ico &CorrelationID=<empty>;&cafeReqId=1f2e3d4c-5b6a-7980-1a2b-3c4d5e6f7a8b; 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/89.0.4389.82+Safari/537.36 - 200 0 0 15\n")
	buf := bytes.Repeat(line, 4000)
	p := NewPrefilter([]string{"ServerInfo~", "autodiscover.json", "/ecp/default.flt", "X-AnonResource", "python-requests", "antSword", "DDIService.svc/SetObject"})
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if p.Index(buf) >= 0 {
			b.Fatal("unexpected hit")
		}
	}
}

func TestPrefilterMask(t *testing.T) {
	p := NewPrefilterGroups([][]string{{"/ecp/", "ServerInfo~"}, {"autodiscover.json"}, nil, {"json?@"}})
	for _, tc := range []struct {
		s    string
		want uint64
	}{
		{"GET /owa/", 0},
		{"POST /ECP/y.js", 1},
		{"/autodiscover/autodiscover.json?@evil.com/ecp/", 1 | 2 | 8},
		{"serverinfo~a]@x", 1},
	} {
		if got := p.Mask(tc.s); got != tc.want {
			t.Errorf("Mask(%q) = %b, want %b", tc.s, got, tc.want)
		}
	}
}

// TestPrefilterLongBuffers crosses the two-automaton segment boundaries.
func TestPrefilterLongBuffers(t *testing.T) {
	lits := []string{"ServerInfo~", "autodiscover.json", "ab"}
	p := NewPrefilter(lits)
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
	}
}
