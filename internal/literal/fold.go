package literal

import (
	"bytes"
	"strings"
)

// IndexFold returns the index of the first instance of sub in s, ASCII case
// ignored, or -1. sub should be ASCII; bytes of s outside ASCII only ever
// match themselves. It is for one short literal in a text of modest size
// (a header, a tag, a page); many literals or long texts want a Matcher.
func IndexFold[T ~string | ~[]byte](s T, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	lo := lower(sub[0])
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	last := len(s) - n // the last place a match can start
	// Candidates come from the vectorised byte search for each spelling of
	// the first byte. The other spelling is looked for only before the next
	// lower-case one, so that a spelling the text lacks costs nothing: each
	// byte is searched at most once for each.
	nl := -2           // next lo at or after i; -1 for none up to last
	nu, upEnd := -1, 0 // next up found, valid when >= i; none in [i, upEnd)
	for i := 0; i <= last; {
		if nl != -1 && nl < i {
			nl = indexByteIn(s, lo, i, last+1)
		}
		bound := nl
		if bound < 0 {
			bound = last + 1
		}
		if up != lo && nu < i {
			if from := max(i, upEnd); from < bound {
				if nu = indexByteIn(s, up, from, bound); nu < 0 {
					upEnd = bound
				}
			}
		}
		j := bound
		if up != lo && nu >= i && nu < j {
			j = nu
		}
		if j > last {
			return -1
		}
		if equalFold(s[j+1:j+n], sub[1:]) {
			return j
		}
		i = j + 1
	}
	return -1
}

// indexByteIn returns the index in s of the first c in s[from:to], or -1.
func indexByteIn[T ~string | ~[]byte](s T, c byte, from, to int) int {
	var k int
	switch v := any(s).(type) {
	case string:
		k = strings.IndexByte(v[from:to], c)
	case []byte:
		k = bytes.IndexByte(v[from:to], c)
	default: // a named type
		k = -1
		for p := from; p < to; p++ {
			if s[p] == c {
				k = p - from
				break
			}
		}
	}
	if k < 0 {
		return -1
	}
	return from + k
}

// EqualFold reports whether a and b are equal, ASCII case ignored.
func EqualFold[T ~string | ~[]byte](a T, b string) bool {
	return len(a) == len(b) && equalFold(a, b)
}

func equalFold[T ~string | ~[]byte](a T, b string) bool {
	for i := 0; i < len(b); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
