package literal

// IndexFold returns the index of the first instance of sub in s, ASCII case
// ignored, or -1. sub should be ASCII; bytes of s outside ASCII only ever
// match themselves. It is for one short literal in a short text (a header,
// a report line); many literals or long texts want a Matcher.
func IndexFold[T ~string | ~[]byte](s T, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	first := lower(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) == first && equalFold(s[i+1:i+n], sub[1:]) {
			return i
		}
	}
	return -1
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
