// Package visible owns how attacker-written text is shown to a person: on
// the terminal (text report, warnings, progress line), in CSV cells and in
// the HTML report. Control, format (bidi overrides, zero-width) and line
// separator characters would drive the terminal, or hide or reorder what
// the analyst reads, as in a file name spoofed with U+202E; they are shown
// as escapes instead. Machine outputs (JSON, SARIF properties) keep the
// exact value and do not use this package.
package visible

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every hidden character written as an escape: \xNN
// below U+0080, \uNNNN and \UNNNNNNNN above. Invalid UTF-8 becomes U+FFFD.
func String(s string) string {
	if safeASCII(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, Hidden) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, c := range s {
		switch {
		case !Hidden(c):
			b.WriteRune(c)
		case c < 0x80:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			fmt.Fprintf(&b, `\U%08x`, c)
		}
	}
	return b.String()
}

// Strings applies String to each element, in a new slice.
func Strings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = String(s)
	}
	return out
}

// Hidden reports whether c is written as an escape: a control character
// (C0, DEL, C1), a format character (Cf: bidi controls, zero-width
// characters, tags) or a line or paragraph separator.
func Hidden(c rune) bool {
	return unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp)
}

// safeASCII is the fast path: printable ASCII only.
func safeASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// RuneStart returns the largest i <= n at which a UTF-8 sequence of s
// starts, so s[:i] does not split a character.
func RuneStart(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
