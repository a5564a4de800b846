// Package fold finds ASCII text ignoring case in attacker-influenced
// strings. Lower-casing a copy and using its offsets on the original is
// wrong whenever lowering changes the length (invalid UTF-8 becomes
// U+FFFD, 'İ' grows a byte), and a server or log controls those bytes.
package fold

// Index returns the index of the first instance of sub in s, ASCII case
// ignored, or -1. sub should be ASCII; bytes of s outside ASCII only ever
// match themselves.
func Index(s, sub string) int {
	n := len(sub)
	if n == 0 {
		return 0
	}
	for i := 0; i+n <= len(s); i++ {
		if equal(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}

func equal(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
