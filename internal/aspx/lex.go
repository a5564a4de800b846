package aspx

import (
	"strconv"
	"strings"
)

type tokKind uint8

const (
	tIdent tokKind = iota
	tString
	tNumber
	tPunct
)

// tok is one token of server code. Identifiers keep their spelling in
// text and are compared through low; strings hold their value.
type tok struct {
	kind tokKind
	text string
	low  string
	line int
}

// stmt is a statement: the tokens up to ';', '{', '}' (C#, JScript) or the
// end of the line or ':' (VB).
type stmt struct {
	toks []tok
	line int
	// open is set when the statement ends with '{' (a declaration or a
	// control statement whose body follows).
	open bool
	// depth is the brace depth it stands at (C#, JScript).
	depth int
}

// maxTokens bounds the tokens read from one page, maxStmt those of one
// statement (the flow reasoning is quadratic in a statement's length;
// real statements are far shorter).
const (
	maxTokens = 200_000
	maxStmt   = 256
)

// stmts builds a block's statements as its lexer reads tokens: a
// statement starts at its first token's line, and one that grows past
// maxStmt is cut there.
type stmts struct {
	out    []stmt
	cur    stmt
	depth  int // brace depth (C#, JScript)
	budget *int
}

// end closes the statement being built; open marks one ended by '{', which
// is kept even when empty. The next statement starts at line.
func (b *stmts) end(open bool, line int) {
	if len(b.cur.toks) > 0 || open {
		b.cur.open, b.cur.depth = open, b.depth
		b.out = append(b.out, b.cur)
	}
	b.cur = stmt{line: line}
}

func (b *stmts) push(t tok) {
	if len(b.cur.toks) == 0 {
		b.cur.line = t.line
	}
	if len(b.cur.toks) >= maxStmt {
		b.end(false, t.line)
	}
	b.cur.toks = append(b.cur.toks, t)
	*b.budget--
}

// lex splits a block into statements.
func lex(b Block, budget *int) []stmt {
	if b.Lang == VB {
		return lexVB(b, budget)
	}
	return lexC(b, budget)
}

func lexC(b Block, budget *int) []stmt {
	s := b.Code
	line := b.Line
	st := &stmts{cur: stmt{line: line}, budget: budget}
	push := st.push
	var inits []bool // for each open brace: is it an initializer
	for i := 0; i < len(s) && *budget > 0; {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				end = len(s) - i - 2
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '"' || c == '\'' || (c == '@' && i+1 < len(s) && s[i+1] == '"') || (c == '$' && i+1 < len(s) && s[i+1] == '"'):
			verbatim := c == '@'
			if c == '@' || c == '$' {
				i++
			}
			q := s[i]
			val, n, nl := readString(s[i:], q, verbatim, verbatim)
			push(tok{kind: tString, text: val, line: line})
			line += nl
			i += n
		case curlyQuote(s[i:]) > 0:
			val, n := readCurly(s[i:])
			push(tok{kind: tString, text: val, line: line})
			i += n
		case c == ';':
			st.end(false, line)
			i++
		case c == '{':
			// an array or collection initializer (new byte[] { ... },
			// x = { ... }) stays inside its statement
			if n := len(st.cur.toks); n > 0 && (st.cur.toks[n-1].text == "]" || st.cur.toks[n-1].text == "=" || st.cur.toks[n-1].text == "(" || st.cur.toks[n-1].text == ",") || len(inits) > 0 && inits[len(inits)-1] {
				inits = append(inits, true)
				push(tok{kind: tPunct, text: "{", line: line})
				i++
				continue
			}
			inits = append(inits, false)
			st.end(true, line)
			st.depth++
			i++
		case c == '}':
			if n := len(inits); n > 0 && inits[n-1] {
				inits = inits[:n-1]
				push(tok{kind: tPunct, text: "}", line: line})
				i++
				continue
			}
			if n := len(inits); n > 0 {
				inits = inits[:n-1]
			}
			st.end(false, line)
			if st.depth > 0 {
				st.depth--
			}
			i++
		case isIdentStart(c) || c == '\\' && i+1 < len(s) && s[i+1] == 'u':
			id, n := readIdent(s[i:])
			if n == 0 {
				i++
				continue
			}
			push(tok{kind: tIdent, text: id, low: strings.ToLower(id), line: line})
			i += n
		case c >= '0' && c <= '9':
			from := i
			for i < len(s) && (isIdentByte(s[i]) || s[i] == '.') {
				i++
			}
			push(tok{kind: tNumber, text: s[from:i], line: line})
		default:
			n := punctLen(s[i:])
			push(tok{kind: tPunct, text: s[i : i+n], line: line})
			i += n
		}
	}
	st.end(false, line)
	return st.out
}

func lexVB(b Block, budget *int) []stmt {
	s := b.Code
	line := b.Line
	st := &stmts{cur: stmt{line: line}, budget: budget}
	push := st.push
	for i := 0; i < len(s) && *budget > 0; {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
			// a line ending in " _" continues
			if n := len(st.cur.toks); n > 0 && st.cur.toks[n-1].text == "_" {
				st.cur.toks = st.cur.toks[:n-1]
				continue
			}
			st.end(false, line)
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case c == '\'':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ':' && (i+1 >= len(s) || s[i+1] != '='):
			st.end(false, line)
			i++
		case c == '"':
			// VB doubles a quote to escape it; a literal never spans lines
			val, n, _ := readString(s[i:], '"', true, false)
			push(tok{kind: tString, text: val, line: line})
			i += n
		case curlyQuote(s[i:]) > 0:
			val, n := readCurly(s[i:])
			push(tok{kind: tString, text: val, line: line})
			i += n
		case isIdentStart(c):
			id, n := readIdent(s[i:])
			low := strings.ToLower(id)
			if low == "rem" && (i+n >= len(s) || s[i+n] == ' ' || s[i+n] == '\t') && len(st.cur.toks) == 0 {
				for i < len(s) && s[i] != '\n' {
					i++
				}
				continue
			}
			push(tok{kind: tIdent, text: id, low: low, line: line})
			i += n
		case c >= '0' && c <= '9' || c == '&' && i+1 < len(s) && (s[i+1] == 'H' || s[i+1] == 'h'):
			from := i
			i++
			for i < len(s) && (isIdentByte(s[i]) || s[i] == '.') {
				i++
			}
			push(tok{kind: tNumber, text: s[from:i], line: line})
		default:
			n := punctLen(s[i:])
			push(tok{kind: tPunct, text: s[i : i+n], line: line})
			i += n
		}
	}
	st.end(false, line)
	return st.out
}

// readString reads a literal quoted by q from s[0]; verbatim strings (C#
// @"", VB) double the quote to escape it, and only C#'s span lines. It
// returns the value, the bytes read and the newlines inside.
func readString(s string, q byte, verbatim, multiline bool) (string, int, int) {
	var sb strings.Builder
	nl := 0
	i := 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			if verbatim && i+1 < len(s) && s[i+1] == q {
				sb.WriteByte(q)
				i += 2
				continue
			}
			return sb.String(), i + 1, nl
		case c == '\\' && !verbatim && i+1 < len(s):
			r, n := unescape(s[i:])
			sb.WriteString(r)
			i += n
			continue
		case c == '\n':
			nl++
			if !multiline {
				return sb.String(), i, nl - 1 // unterminated: stop at the line end
			}
		}
		sb.WriteByte(c)
		i++
	}
	return sb.String(), i, nl
}

// curlyQuote returns the length of a typographic double quote at the
// start of s, or 0. VB takes them for '"'; shells pasted through word
// processors carry them in C# and JScript too.
func curlyQuote(s string) int {
	if strings.HasPrefix(s, "\u201c") || strings.HasPrefix(s, "\u201d") {
		return len("\u201c")
	}
	return 0
}

// readCurly reads a literal opened by a typographic quote up to the next
// one (either way round) or the line end.
func readCurly(s string) (string, int) {
	i := curlyQuote(s)
	from := i
	for i < len(s) && s[i] != '\n' {
		if n := curlyQuote(s[i:]); n > 0 {
			return s[from:i], i + n
		}
		i++
	}
	return s[from:i], i
}

// unescape decodes one backslash escape of a C# or JScript string.
func unescape(s string) (string, int) {
	switch s[1] {
	case 'n':
		return "\n", 2
	case 't':
		return "\t", 2
	case 'r':
		return "\r", 2
	case '0':
		return "\x00", 2
	case 'u':
		if len(s) >= 6 {
			if v, err := strconv.ParseUint(s[2:6], 16, 16); err == nil {
				return string(rune(v)), 6
			}
		}
	case 'x':
		n := 2
		for n < len(s) && n < 6 && isHex(s[n]) {
			n++
		}
		if n > 2 {
			if v, err := strconv.ParseUint(s[2:n], 16, 32); err == nil {
				return string(rune(v)), n
			}
		}
	}
	return s[1:2], 2
}

// readIdent reads an identifier; \uXXXX escapes (C#, JScript allow them
// in names, and shells use them to hide "eval") are decoded.
func readIdent(s string) (string, int) {
	var sb strings.Builder
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil && v < 0x80 && (isIdentByte(byte(v))) {
				sb.WriteByte(byte(v))
				i += 6
				continue
			}
			break
		}
		if !isIdentByte(c) && c < 0x80 {
			break
		}
		sb.WriteByte(c)
		i++
	}
	return sb.String(), i
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var puncts = []string{"==", "!=", "<=", ">=", "=>", "&&", "||", "+=", "-=", "^=", "|=", "&=", "*=", "<>", "::", "++", "--", "<<", ">>"}

func punctLen(s string) int {
	for _, p := range puncts {
		if strings.HasPrefix(s, p) {
			return len(p)
		}
	}
	return 1
}
