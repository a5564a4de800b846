package fold

import (
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
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
		if got := Index(tc.s, tc.sub); got != tc.want {
			t.Errorf("Index(%q, %q) = %d, want %d", tc.s, tc.sub, got, tc.want)
		}
	}
}

// On ASCII input Index agrees with lower-casing both sides.
func FuzzIndex(f *testing.F) {
	f.Add("x&OWAVER=1", "owaver=")
	f.Fuzz(func(t *testing.T, s, sub string) {
		i := Index(s, sub)
		if i > len(s) || (i >= 0 && !strings.EqualFold(s[i:i+len(sub)], sub) && isASCII(sub)) {
			t.Fatalf("Index(%q, %q) = %d", s, sub, i)
		}
		if isASCII(s) && isASCII(sub) {
			if want := strings.Index(strings.ToLower(s), strings.ToLower(sub)); i != want {
				t.Fatalf("Index(%q, %q) = %d, want %d", s, sub, i, want)
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
