package cli

import (
	"strings"
	"testing"
)

// FuzzParseSize: size flags (--max-scan-size, lab --size) come from the
// command line; no input panics or yields a negative or overflowed size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"2GB", "500MB", "64KiB", "10M", "123", "0", "-1", "NaN", "Inf", "1e300GB", "9223372036854775807", "1.5 GiB", " 7 b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if n != 0 || !strings.Contains(err.Error(), "size") {
				t.Fatalf("parseSize(%q) = %d, %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d: negative", s, n)
		}
	})
}

func TestParseSizeRefusesNonFinite(t *testing.T) {
	for _, s := range []string{"NaN", "Inf", "+Inf", "1e300GB", "9.3e18", "-0.5KB"} {
		if n, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", s, n)
		}
	}
}
