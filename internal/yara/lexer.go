package yara

import (
	"fmt"
	"strconv"
	"strings"
)

// tokKind is the kind of a token of the rule language.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tStringID  // $a, $a*, $
	tCountID   // #a, #
	tOffsetID  // @a, @
	tLengthID  // !a, !
	tInt       // 12, 0x1f, 0o17, 3KB
	tFloat     // 1.5
	tText      // "..." (val holds the decoded bytes)
	tRegex     // /.../is (val holds the body, flags the modifiers)
	tPunct     // operators and punctuation, text in val
	tHexString // { ... } after '=' in a strings section (raw text in val)
)

type token struct {
	kind  tokKind
	val   string
	ival  int64
	fval  float64
	flags string // regex modifiers
	line  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tText:
		return strconv.Quote(t.val)
	case tRegex:
		return "/" + t.val + "/" + t.flags
	case tInt:
		return strconv.FormatInt(t.ival, 10)
	}
	return fmt.Sprintf("%q", t.val)
}

// syntaxError is a problem at a line of the source being parsed.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// lexer turns rule source into tokens on demand; the parser asks for a hex
// string explicitly because '{' means something else elsewhere.
type lexer struct {
	src  []byte
	pos  int
	line int
}

func (lx *lexer) errorf(line int, format string, args ...any) *syntaxError {
	return &syntaxError{line: line, msg: fmt.Sprintf(format, args...)}
}

// skipSpace skips blanks and comments.
func (lx *lexer) skipSpace() *syntaxError {
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == '\n':
			lx.line++
			lx.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			lx.pos++
		case c == '/' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '/':
			for lx.pos < len(lx.src) && lx.src[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '/' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '*':
			start := lx.line
			lx.pos += 2
			for {
				if lx.pos+1 >= len(lx.src) {
					lx.pos = len(lx.src)
					return lx.errorf(start, "unterminated comment")
				}
				if lx.src[lx.pos] == '\n' {
					lx.line++
				}
				if lx.src[lx.pos] == '*' && lx.src[lx.pos+1] == '/' {
					lx.pos += 2
					break
				}
				lx.pos++
			}
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// next returns the next token. A '/' always starts a regular expression: the
// rule language divides with '\'.
func (lx *lexer) next() (token, *syntaxError) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	if lx.pos >= len(lx.src) {
		return token{kind: tEOF, line: lx.line}, nil
	}
	line := lx.line
	c := lx.src[lx.pos]
	switch {
	case isIdentStart(c):
		start := lx.pos
		for lx.pos < len(lx.src) && isIdentChar(lx.src[lx.pos]) {
			lx.pos++
		}
		if lx.pos-start > 128 {
			return token{}, lx.errorf(line, "identifier too long")
		}
		return token{kind: tIdent, val: string(lx.src[start:lx.pos]), line: line}, nil
	case c == '$' || c == '#' || c == '@' || c == '!':
		if c == '!' && lx.pos+1 < len(lx.src) && lx.src[lx.pos+1] == '=' {
			lx.pos += 2
			return token{kind: tPunct, val: "!=", line: line}, nil
		}
		start := lx.pos
		lx.pos++
		for lx.pos < len(lx.src) && isIdentChar(lx.src[lx.pos]) {
			lx.pos++
		}
		if c == '$' && lx.pos < len(lx.src) && lx.src[lx.pos] == '*' {
			lx.pos++
		}
		kind := map[byte]tokKind{'$': tStringID, '#': tCountID, '@': tOffsetID, '!': tLengthID}[c]
		return token{kind: kind, val: string(lx.src[start+1 : lx.pos]), line: line}, nil
	case c >= '0' && c <= '9':
		return lx.number()
	case c == '"':
		s, err := lx.text()
		return token{kind: tText, val: s, line: line}, err
	case c == '/':
		return lx.regex()
	}
	for _, p := range []string{"..", "==", "!=", "<=", ">=", "<<", ">>"} {
		if strings.HasPrefix(string(lx.src[lx.pos:min(lx.pos+2, len(lx.src))]), p) {
			lx.pos += 2
			return token{kind: tPunct, val: p, line: line}, nil
		}
	}
	if strings.IndexByte("{}()[]:=,.<>+-*\\%&|^~", c) >= 0 {
		lx.pos++
		return token{kind: tPunct, val: string(c), line: line}, nil
	}
	lx.pos++
	return token{}, lx.errorf(line, "unexpected character %q", c)
}

func (lx *lexer) number() (token, *syntaxError) {
	line := lx.line
	start := lx.pos
	base := 10
	if lx.pos+1 < len(lx.src) && lx.src[lx.pos] == '0' && (lx.src[lx.pos+1] == 'x' || lx.src[lx.pos+1] == 'o') {
		base = 16
		if lx.src[lx.pos+1] == 'o' {
			base = 8
		}
		lx.pos += 2
	}
	digits := lx.pos
	for lx.pos < len(lx.src) && isIdentChar(lx.src[lx.pos]) {
		lx.pos++
	}
	word := string(lx.src[digits:lx.pos])
	// a float: digits '.' digits (but not the range operator "..")
	if base == 10 && lx.pos+1 < len(lx.src) && lx.src[lx.pos] == '.' && lx.src[lx.pos+1] >= '0' && lx.src[lx.pos+1] <= '9' {
		lx.pos++
		for lx.pos < len(lx.src) && lx.src[lx.pos] >= '0' && lx.src[lx.pos] <= '9' {
			lx.pos++
		}
		f, err := strconv.ParseFloat(string(lx.src[start:lx.pos]), 64)
		if err != nil {
			return token{}, lx.errorf(line, "invalid number %q", lx.src[start:lx.pos])
		}
		return token{kind: tFloat, fval: f, line: line}, nil
	}
	mult := int64(1)
	if base == 10 {
		switch {
		case strings.HasSuffix(word, "KB"):
			mult, word = 1024, strings.TrimSuffix(word, "KB")
		case strings.HasSuffix(word, "MB"):
			mult, word = 1024*1024, strings.TrimSuffix(word, "MB")
		}
	}
	v, err := strconv.ParseInt(word, base, 64)
	if err != nil || word == "" {
		return token{}, lx.errorf(line, "invalid number %q", lx.src[start:lx.pos])
	}
	if mult > 1 && v > (1<<62)/mult {
		return token{}, lx.errorf(line, "number too large %q", lx.src[start:lx.pos])
	}
	return token{kind: tInt, ival: v * mult, line: line}, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// text reads a double-quoted string and decodes its escapes.
func (lx *lexer) text() (string, *syntaxError) {
	line := lx.line
	lx.pos++ // opening quote
	var b strings.Builder
	for {
		if lx.pos >= len(lx.src) || lx.src[lx.pos] == '\n' {
			return "", lx.errorf(line, "unterminated string")
		}
		c := lx.src[lx.pos]
		lx.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if lx.pos >= len(lx.src) {
				return "", lx.errorf(line, "unterminated string")
			}
			e := lx.src[lx.pos]
			lx.pos++
			switch e {
			case '"', '\\':
				b.WriteByte(e)
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 'x':
				if lx.pos+1 >= len(lx.src) || unhex(lx.src[lx.pos]) < 0 || unhex(lx.src[lx.pos+1]) < 0 {
					return "", lx.errorf(line, `illegal escape sequence: \x needs two hex digits`)
				}
				b.WriteByte(byte(unhex(lx.src[lx.pos])<<4 | unhex(lx.src[lx.pos+1])))
				lx.pos += 2
			default:
				return "", lx.errorf(line, "illegal escape sequence \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
}

// regex reads /body/flags. The body keeps its escapes except \/.
func (lx *lexer) regex() (token, *syntaxError) {
	line := lx.line
	lx.pos++
	var b strings.Builder
	for {
		if lx.pos >= len(lx.src) || lx.src[lx.pos] == '\n' {
			return token{}, lx.errorf(line, "unterminated regular expression")
		}
		c := lx.src[lx.pos]
		lx.pos++
		if c == '/' {
			break
		}
		if c == '\\' && lx.pos < len(lx.src) {
			if lx.src[lx.pos] == '/' {
				b.WriteByte('/')
				lx.pos++
				continue
			}
			if lx.src[lx.pos] == '\n' {
				return token{}, lx.errorf(line, "unterminated regular expression")
			}
			b.WriteByte('\\')
			b.WriteByte(lx.src[lx.pos])
			lx.pos++
			continue
		}
		b.WriteByte(c)
	}
	flags := lx.pos
	for lx.pos < len(lx.src) && (lx.src[lx.pos] == 'i' || lx.src[lx.pos] == 's') {
		lx.pos++
	}
	if b.Len() == 0 {
		return token{}, lx.errorf(line, "empty regular expression")
	}
	return token{kind: tRegex, val: b.String(), flags: string(lx.src[flags:lx.pos]), line: line}, nil
}

// hexString reads { ... } verbatim (comments removed), for the hex parser.
func (lx *lexer) hexString() (token, *syntaxError) {
	if err := lx.skipSpace(); err != nil {
		return token{}, err
	}
	line := lx.line
	if lx.pos >= len(lx.src) || lx.src[lx.pos] != '{' {
		return token{}, lx.errorf(line, "expected hex string")
	}
	lx.pos++
	var b strings.Builder
	for {
		if lx.pos >= len(lx.src) {
			return token{}, lx.errorf(line, "unterminated hex string")
		}
		c := lx.src[lx.pos]
		if c == '}' {
			lx.pos++
			return token{kind: tHexString, val: b.String(), line: line}, nil
		}
		if c == '/' && lx.pos+1 < len(lx.src) && (lx.src[lx.pos+1] == '/' || lx.src[lx.pos+1] == '*') {
			if err := lx.skipSpace(); err != nil {
				return token{}, err
			}
			b.WriteByte(' ')
			continue
		}
		if c == '\n' {
			lx.line++
		}
		b.WriteByte(c)
		lx.pos++
	}
}
