package detect

import "testing"

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, v string
		want bool
	}{
		{"abc", "ABC", true}, {"a*c", "abbbc", true}, {"a*c", "ab", false}, {"*b*", "abc", true},
		{`a\*c`, "a*c", true}, {`a\*c`, "abc", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*", "", true}, {"", "", true}, {"", "x", false}, {"ab*ab", "ab", false}, {"ab*ab", "abab", true},
	} {
		if got := newGlob(tc.p, false).match(tc.v); got != tc.want {
			t.Errorf("glob %q on %q = %v, want %v", tc.p, tc.v, got, tc.want)
		}
	}
}
