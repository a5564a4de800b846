package yara

import (
	"bytes"
	"regexp"
	"strings"
)

// ruleAST is one parsed rule, before resolution of its identifiers.
type ruleAST struct {
	name    string
	line    int
	private bool
	global  bool
	tags    []string
	meta    []metaEntry
	strings []*stringAST
	cond    *expr
}

type metaEntry struct {
	key string
	val any // string, int64 or bool
}

type strKind int

const (
	skText strKind = iota
	skHex
	skRegex
)

// stringAST is one entry of a strings section.
type stringAST struct {
	id    string // "$a"; "$" for anonymous
	line  int
	kind  strKind
	text  string // decoded text, hex source or regex body
	flags string // regex i/s flags

	nocase, wide, ascii, fullword, private bool
	xor                                    bool
	xorMin, xorMax                         int
	base64, base64wide                     bool
	alphabet                               string
}

// Quantifier kinds of "of" and "for" expressions.
const (
	qExpr = iota
	qAll
	qAny
	qNone
	qPercent
)

type exprKind int

const (
	eBool exprKind = iota
	eInt
	eFloat
	eStr
	eRegex
	eFilesize
	eEntrypoint
	eIdent    // external, rule or loop variable (name)
	eModule   // module.member: unsupported
	eStrMatch // $a / $ (str), with at (args[0]) or in (args[0..1]) when op is "at"/"in"
	eCount    // #a, with in-range in args when op is "in"
	eOffset   // @a[args[0]]
	eLength   // !a[args[0]]
	eOf       // quant of strs (in range args[0..1] when op is "in")
	eForOf    // for quant of strs : (body)
	eForIn    // for quant vars in iterable : (body)
	eUnary    // op: not, defined, -, ~
	eBinary   // op: and or == != < <= > >= + - * \ % & | ^ << >> contains ...
	eCall     // uint8(args[0]) ...: name
)

// expr is a node of a condition.
type expr struct {
	kind  exprKind
	op    string
	b     bool
	i     int64
	f     float64
	s     string
	re    *regexString // for matches
	name  string
	line  int
	args  []*expr
	str   int   // string index for $a/#a/@a/!a; -1 for the anonymous one of a for-of
	strs  []int // string set of of/for-of
	qkind int
	quant *expr
	vars  []string
	rng   bool    // eForIn: iter holds lo, hi
	iter  []*expr // eForIn: range bounds or enumerated values
	body  *expr
	// filled by the compiler
	ref    int  // eIdent: rule index, or -1
	ext    int  // eIdent: external index, or -1
	loop   int  // eIdent: loop variable slot, or -1
	rngStr bool // eStrMatch/eCount with a range
}

// regexString is a regular expression used by "matches".
type regexString struct {
	src   string
	flags string
	prog  *prog
}

// fileAST is what one source file holds.
type fileAST struct {
	imports  []string
	includes []int // lines of include directives
	rules    []*ruleAST
	errs     []*syntaxError
}

var keywords = map[string]bool{
	"all": true, "and": true, "any": true, "ascii": true, "at": true, "base64": true, "base64wide": true,
	"condition": true, "contains": true, "defined": true, "endswith": true, "entrypoint": true, "false": true,
	"filesize": true, "for": true, "fullword": true, "global": true, "import": true, "icontains": true,
	"iendswith": true, "iequals": true, "in": true, "include": true, "int16": true, "int16be": true,
	"int32": true, "int32be": true, "int8": true, "int8be": true, "istartswith": true, "matches": true,
	"meta": true, "nocase": true, "none": true, "not": true, "of": true, "or": true, "private": true,
	"rule": true, "startswith": true, "strings": true, "them": true, "true": true, "uint16": true,
	"uint16be": true, "uint32": true, "uint32be": true, "uint8": true, "uint8be": true, "wide": true,
	"xor": true,
}

var intFuncs = map[string]bool{
	"int8": true, "int16": true, "int32": true, "int8be": true, "int16be": true, "int32be": true,
	"uint8": true, "uint16": true, "uint32": true, "uint8be": true, "uint16be": true, "uint32be": true,
}

// maxExprDepth bounds the nesting of conditions (hostile input must not
// exhaust the stack).
const maxExprDepth = 200

type parser struct {
	lx      lexer
	la      *token
	cur     *ruleAST
	depth   int
	noQuant bool // parsing the quantifier of a for: "of" is the loop's
	// loop variables in scope, to tell them from externals while parsing
}

type parseAbort struct{ err *syntaxError }

func (p *parser) fail(line int, format string, args ...any) {
	panic(parseAbort{p.lx.errorf(line, format, args...)})
}

func (p *parser) peek() token {
	if p.la == nil {
		t, err := p.lx.next()
		if err != nil {
			panic(parseAbort{err})
		}
		p.la = &t
	}
	return *p.la
}

func (p *parser) take() token {
	t := p.peek()
	p.la = nil
	return t
}

// peek2 returns the token after the next one without consuming either.
func (p *parser) peek2() token {
	p.peek()
	save := p.lx
	t, err := p.lx.next()
	p.lx = save
	if err != nil {
		return token{kind: tEOF}
	}
	return t
}

func (p *parser) isPunct(v string) bool {
	t := p.peek()
	return t.kind == tPunct && t.val == v
}

func (p *parser) isWord(v string) bool {
	t := p.peek()
	return t.kind == tIdent && t.val == v
}

func (p *parser) expectPunct(v string) token {
	t := p.take()
	if t.kind != tPunct || t.val != v {
		p.fail(t.line, "syntax error: expected %q, found %s", v, t)
	}
	return t
}

func (p *parser) expectWord(v string) token {
	t := p.take()
	if t.kind != tIdent || t.val != v {
		p.fail(t.line, "syntax error: expected %q, found %s", v, t)
	}
	return t
}

var ruleStart = regexp.MustCompile(`(?m)^[ \t]*((private|global)[ \t]+)*rule[ \t\r\n]`)

// parseFile parses a whole source; a syntax error drops the rule it is in
// and parsing resumes at the next line that starts a rule.
func parseFile(src []byte) *fileAST {
	f := &fileAST{}
	p := &parser{lx: lexer{src: src, line: 1}}
	lastPos, lastLine := 0, 1
	for {
		ok := p.parseTop(f)
		if ok {
			return f
		}
		// resynchronise after the error
		p.la = nil
		from := p.lx.pos
		if from > len(src) {
			from = len(src)
		}
		// skip to the next line at least, so the broken rule is not retried
		nl := bytes.IndexByte(src[from:], '\n')
		if nl < 0 {
			return f
		}
		from += nl + 1
		loc := ruleStart.FindIndex(src[from:])
		if loc == nil {
			return f
		}
		// count lines from the last known position only: a file of many
		// broken rules must not cost quadratic time
		target := from + loc[0]
		if target < lastPos {
			lastPos, lastLine = 0, 1
		}
		lastLine += bytes.Count(src[lastPos:target], []byte{'\n'})
		lastPos = target
		p.lx.pos, p.lx.line = target, lastLine
	}
}

// parseTop parses until the end or the first error; it reports whether the
// end was reached.
func (p *parser) parseTop(f *fileAST) (done bool) {
	defer func() {
		if r := recover(); r != nil {
			pa, ok := r.(parseAbort)
			if !ok {
				panic(r)
			}
			f.errs = append(f.errs, pa.err)
			done = false
		}
	}()
	for {
		t := p.peek()
		switch {
		case t.kind == tEOF:
			return true
		case t.kind == tIdent && t.val == "import":
			p.take()
			m := p.take()
			if m.kind != tText {
				p.fail(m.line, "syntax error: import needs a module name in quotes")
			}
			f.imports = append(f.imports, m.val)
		case t.kind == tIdent && t.val == "include":
			p.take()
			m := p.take()
			if m.kind != tText {
				p.fail(m.line, "syntax error: include needs a file name in quotes")
			}
			f.includes = append(f.includes, t.line)
		case t.kind == tIdent && (t.val == "rule" || t.val == "private" || t.val == "global"):
			f.rules = append(f.rules, p.parseRule())
		default:
			p.fail(t.line, "syntax error: unexpected %s", t)
		}
	}
}

func (p *parser) parseRule() *ruleAST {
	r := &ruleAST{}
	p.cur = r
	for {
		t := p.take()
		if t.kind != tIdent {
			p.fail(t.line, "syntax error: expected rule, found %s", t)
		}
		if t.val == "private" {
			r.private = true
			continue
		}
		if t.val == "global" {
			r.global = true
			continue
		}
		if t.val != "rule" {
			p.fail(t.line, "syntax error: expected rule, found %s", t)
		}
		r.line = t.line
		break
	}
	name := p.take()
	if name.kind != tIdent || keywords[name.val] {
		p.fail(name.line, "syntax error: expected rule name, found %s", name)
	}
	r.name = name.val
	if p.isPunct(":") {
		p.take()
		for p.peek().kind == tIdent && !keywords[p.peek().val] {
			r.tags = append(r.tags, p.take().val)
		}
		if len(r.tags) == 0 {
			p.fail(p.peek().line, "syntax error: expected tags after ':'")
		}
	}
	p.expectPunct("{")
	if p.isWord("meta") {
		p.take()
		p.expectPunct(":")
		for p.peek().kind == tIdent && p.peek().val != "strings" && p.peek().val != "condition" {
			key := p.take()
			p.expectPunct("=")
			v := p.take()
			switch {
			case v.kind == tText:
				r.meta = append(r.meta, metaEntry{key.val, v.val})
			case v.kind == tInt:
				r.meta = append(r.meta, metaEntry{key.val, v.ival})
			case v.kind == tPunct && v.val == "-" && p.peek().kind == tInt:
				r.meta = append(r.meta, metaEntry{key.val, -p.take().ival})
			case v.kind == tIdent && (v.val == "true" || v.val == "false"):
				r.meta = append(r.meta, metaEntry{key.val, v.val == "true"})
			default:
				p.fail(v.line, "syntax error: bad meta value %s", v)
			}
		}
	}
	if p.isWord("strings") {
		p.take()
		p.expectPunct(":")
		for p.peek().kind == tStringID {
			r.strings = append(r.strings, p.parseString())
		}
		if len(r.strings) == 0 {
			p.fail(p.peek().line, "syntax error: empty strings section")
		}
	}
	p.expectWord("condition")
	p.expectPunct(":")
	r.cond = p.parseExpr(0)
	p.expectPunct("}")
	return r
}

func (p *parser) parseString() *stringAST {
	id := p.take()
	if strings.HasSuffix(id.val, "*") {
		p.fail(id.line, "syntax error: wildcard in string definition")
	}
	s := &stringAST{id: "$" + id.val, line: id.line}
	p.expectPunct("=")
	// look at the raw source: '{' starts a hex string here only
	if err := p.lx.skipSpace(); err != nil {
		panic(parseAbort{err})
	}
	if p.lx.pos < len(p.lx.src) && p.lx.src[p.lx.pos] == '{' {
		t, err := p.lx.hexString()
		if err != nil {
			panic(parseAbort{err})
		}
		s.kind, s.text = skHex, t.val
	} else {
		t := p.take()
		switch t.kind {
		case tText:
			s.kind, s.text = skText, t.val
		case tRegex:
			s.kind, s.text, s.flags = skRegex, t.val, t.flags
		default:
			p.fail(t.line, "syntax error: expected string, found %s", t)
		}
	}
	seen := map[string]bool{}
	for {
		t := p.peek()
		if t.kind != tIdent {
			break
		}
		switch t.val {
		case "nocase", "wide", "ascii", "fullword", "private", "xor", "base64", "base64wide":
		default:
			return s
		}
		p.take()
		if seen[t.val] {
			p.fail(t.line, "duplicated modifier %s", t.val)
		}
		seen[t.val] = true
		switch t.val {
		case "nocase":
			s.nocase = true
		case "wide":
			s.wide = true
		case "ascii":
			s.ascii = true
		case "fullword":
			s.fullword = true
		case "private":
			s.private = true
		case "xor":
			s.xor, s.xorMin, s.xorMax = true, 0, 255
			if p.isPunct("(") {
				p.take()
				lo := p.take()
				if lo.kind != tInt {
					p.fail(lo.line, "syntax error: xor needs a key")
				}
				hi := lo
				if p.isPunct("-") {
					p.take()
					hi = p.take()
					if hi.kind != tInt {
						p.fail(hi.line, "syntax error: xor needs a key range")
					}
				}
				p.expectPunct(")")
				if lo.ival < 0 || hi.ival > 255 || lo.ival > hi.ival {
					p.fail(lo.line, "invalid xor range")
				}
				s.xorMin, s.xorMax = int(lo.ival), int(hi.ival)
			}
		case "base64", "base64wide":
			if t.val == "base64" {
				s.base64 = true
			} else {
				s.base64wide = true
			}
			if p.isPunct("(") {
				p.take()
				a := p.take()
				if a.kind != tText {
					p.fail(a.line, "syntax error: base64 needs an alphabet in quotes")
				}
				p.expectPunct(")")
				if len(a.val) != 64 {
					p.fail(a.line, "length of base64 alphabet must be 64")
				}
				if s.alphabet != "" && s.alphabet != a.val {
					p.fail(a.line, "can not specify multiple alphabets")
				}
				s.alphabet = a.val
			}
		}
	}
	return s
}

// Precedence levels, loosest first.
var binPrec = map[string]int{
	"or": 1, "and": 2,
	"==": 4, "!=": 4, "contains": 4, "icontains": 4, "startswith": 4, "istartswith": 4,
	"endswith": 4, "iendswith": 4, "iequals": 4, "matches": 4,
	"<": 5, "<=": 5, ">": 5, ">=": 5,
	"|": 6, "^": 7, "&": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "\\": 11, "%": 11,
}

// arithPrec is the loosest level of a primary (arithmetic) expression.
const arithPrec = 6

func (p *parser) binOp() (string, bool) {
	t := p.peek()
	if t.kind == tPunct || t.kind == tIdent {
		if _, ok := binPrec[t.val]; ok {
			if t.val == "%" { // "50% of" is a quantifier
				if n := p.peek2(); n.kind == tIdent && n.val == "of" {
					return "", false
				}
			}
			return t.val, true
		}
	}
	return "", false
}

func (p *parser) parseExpr(minPrec int) *expr {
	p.depth++
	if p.depth > maxExprDepth {
		p.fail(p.peek().line, "condition nested too deeply")
	}
	defer func() { p.depth-- }()
	var left *expr
	t := p.peek()
	if t.kind == tIdent && (t.val == "not" || t.val == "defined") && minPrec <= 3 {
		p.take()
		left = &expr{kind: eUnary, op: t.val, line: t.line, args: []*expr{p.parseExpr(3)}}
	} else {
		left = p.parseUnary()
	}
	for {
		op, ok := p.binOp()
		if !ok || binPrec[op] < minPrec {
			return left
		}
		prec := binPrec[op]
		t := p.take()
		var right *expr
		if op == "matches" {
			rt := p.take()
			if rt.kind != tRegex {
				p.fail(rt.line, "syntax error: matches needs a regular expression")
			}
			right = &expr{kind: eRegex, s: rt.val, op: rt.flags, line: rt.line}
		} else {
			right = p.parseExpr(prec + 1)
		}
		left = &expr{kind: eBinary, op: op, line: t.line, args: []*expr{left, right}}
	}
}

func (p *parser) parseUnary() *expr {
	t := p.peek()
	if t.kind == tPunct && (t.val == "-" || t.val == "~") {
		p.take()
		p.depth++
		if p.depth > maxExprDepth {
			p.fail(t.line, "condition nested too deeply")
		}
		e := &expr{kind: eUnary, op: t.val, line: t.line, args: []*expr{p.parseUnary()}}
		p.depth--
		return e
	}
	return p.parsePrimary()
}

// maybeQuant turns a just-parsed primary into the quantifier of an "of".
func (p *parser) maybeQuant(e *expr) *expr {
	if p.noQuant {
		return e
	}
	if p.isWord("of") {
		return p.parseOf(qExpr, e)
	}
	if p.isPunct("%") {
		if n := p.peek2(); n.kind == tIdent && n.val == "of" {
			p.take()
			return p.parseOf(qPercent, e)
		}
	}
	return e
}

func (p *parser) parseOf(q int, quant *expr) *expr {
	t := p.expectWord("of")
	e := &expr{kind: eOf, qkind: q, quant: quant, line: t.line}
	e.strs = p.parseStringSet()
	if p.isWord("in") {
		p.take()
		lo, hi := p.parseRange()
		e.op = "in"
		e.args = []*expr{lo, hi}
	}
	return e
}

func (p *parser) parseRange() (*expr, *expr) {
	p.expectPunct("(")
	lo := p.parseExpr(arithPrec)
	p.expectPunct("..")
	hi := p.parseExpr(arithPrec)
	p.expectPunct(")")
	return lo, hi
}

// lookupStrings resolves "$a", "$a*" or "$*" against the current rule.
func (p *parser) lookupStrings(line int, id string) []int {
	var out []int
	if strings.HasSuffix(id, "*") {
		prefix := "$" + strings.TrimSuffix(id, "*")
		for i, s := range p.cur.strings {
			if strings.HasPrefix(s.id, prefix) {
				out = append(out, i)
			}
		}
		if len(out) == 0 {
			p.fail(line, "undefined string identifier $%s", id)
		}
		return out
	}
	for i, s := range p.cur.strings {
		if s.id == "$"+id && id != "" {
			return []int{i}
		}
	}
	p.fail(line, "undefined string identifier $%s", id)
	return nil
}

func (p *parser) parseStringSet() []int {
	if p.isWord("them") {
		t := p.take()
		if len(p.cur.strings) == 0 {
			p.fail(t.line, "undefined string identifier: them, rule has no strings")
		}
		out := make([]int, len(p.cur.strings))
		for i := range out {
			out[i] = i
		}
		return out
	}
	p.expectPunct("(")
	var out []int
	for {
		t := p.take()
		if t.kind != tStringID {
			p.fail(t.line, "syntax error: expected string identifier, found %s", t)
		}
		out = append(out, p.lookupStrings(t.line, t.val)...)
		if p.isPunct(",") {
			p.take()
			continue
		}
		p.expectPunct(")")
		return out
	}
}

func (p *parser) parseIndex() *expr {
	if p.isPunct("[") {
		p.take()
		e := p.parseExpr(arithPrec)
		p.expectPunct("]")
		return e
	}
	return &expr{kind: eInt, i: 1}
}

// stringRef resolves $a/#a/@a/!a; "" is the anonymous string of a for-of.
func (p *parser) stringRef(t token) int {
	if t.val == "" {
		return -1
	}
	return p.lookupStrings(t.line, t.val)[0]
}

func (p *parser) parsePrimary() *expr {
	t := p.take()
	switch t.kind {
	case tInt:
		return p.maybeQuant(&expr{kind: eInt, i: t.ival, line: t.line})
	case tFloat:
		return &expr{kind: eFloat, f: t.fval, line: t.line}
	case tText:
		return &expr{kind: eStr, s: t.val, line: t.line}
	case tRegex:
		p.fail(t.line, "syntax error: regular expression outside matches")
	case tStringID:
		if strings.HasSuffix(t.val, "*") {
			p.fail(t.line, "syntax error: wildcard string identifier outside a set")
		}
		e := &expr{kind: eStrMatch, str: p.stringRef(t), line: t.line}
		if p.isWord("at") {
			p.take()
			e.op = "at"
			e.args = []*expr{p.parseExpr(arithPrec)}
		} else if p.isWord("in") {
			p.take()
			lo, hi := p.parseRange()
			e.op = "in"
			e.args = []*expr{lo, hi}
		}
		return e
	case tCountID:
		e := &expr{kind: eCount, str: p.stringRef(t), line: t.line}
		if p.isWord("in") {
			p.take()
			lo, hi := p.parseRange()
			e.op = "in"
			e.args = []*expr{lo, hi}
		}
		return p.maybeQuant(e)
	case tOffsetID:
		return &expr{kind: eOffset, str: p.stringRef(t), line: t.line, args: []*expr{p.parseIndex()}}
	case tLengthID:
		return &expr{kind: eLength, str: p.stringRef(t), line: t.line, args: []*expr{p.parseIndex()}}
	case tPunct:
		if t.val == "(" {
			e := p.parseExpr(0)
			p.expectPunct(")")
			return p.maybeQuant(e)
		}
	case tIdent:
		switch t.val {
		case "true", "false":
			return &expr{kind: eBool, b: t.val == "true", line: t.line}
		case "filesize":
			return p.maybeQuant(&expr{kind: eFilesize, line: t.line})
		case "entrypoint":
			return &expr{kind: eEntrypoint, line: t.line}
		case "all":
			return p.parseOf(qAll, nil)
		case "any":
			return p.parseOf(qAny, nil)
		case "none":
			return p.parseOf(qNone, nil)
		case "for":
			return p.parseFor(t)
		}
		if intFuncs[t.val] {
			p.expectPunct("(")
			arg := p.parseExpr(arithPrec)
			p.expectPunct(")")
			return p.maybeQuant(&expr{kind: eCall, name: t.val, line: t.line, args: []*expr{arg}})
		}
		if keywords[t.val] {
			p.fail(t.line, "syntax error: unexpected %s", t)
		}
		name := t.val
		if p.isPunct(".") || p.isPunct("[") || p.isPunct("(") {
			// module member, array or function: consume a plausible suffix
			return p.parseModuleRef(t)
		}
		return p.maybeQuant(&expr{kind: eIdent, name: name, line: t.line})
	}
	p.fail(t.line, "syntax error: unexpected %s", t)
	return nil
}

// parseModuleRef consumes ident(.ident | [expr] | (args))* and yields an
// eModule node: modules are not supported, the rule will be skipped.
func (p *parser) parseModuleRef(t token) *expr {
	name := t.val
	var args []*expr // of the last call, for the module functions exhunt has
	for {
		switch {
		case p.isPunct("."):
			p.take()
			m := p.take()
			if m.kind != tIdent {
				p.fail(m.line, "syntax error: expected identifier after '.'")
			}
			name += "." + m.val
		case p.isPunct("["):
			p.take()
			p.parseExpr(0)
			p.expectPunct("]")
			name += "[]"
		case p.isPunct("("):
			p.take()
			args = nil
			for !p.isPunct(")") {
				if p.peek().kind == tRegex {
					p.take()
					args = append(args, nil)
				} else {
					args = append(args, p.parseExpr(0))
				}
				if !p.isPunct(",") {
					break
				}
				p.take()
			}
			p.expectPunct(")")
			name += "()"
		default:
			if !strings.HasSuffix(name, "()") {
				args = nil
			}
			return p.maybeQuant(&expr{kind: eModule, name: name, line: t.line, args: args})
		}
	}
}

func (p *parser) parseFor(t token) *expr {
	e := &expr{line: t.line}
	q := p.peek()
	switch {
	case q.kind == tIdent && q.val == "all":
		p.take()
		e.qkind = qAll
	case q.kind == tIdent && q.val == "any":
		p.take()
		e.qkind = qAny
	case q.kind == tIdent && q.val == "none":
		p.take()
		e.qkind = qNone
	default:
		e.qkind = qExpr
		p.noQuant = true
		e.quant = p.parseExpr(arithPrec)
		p.noQuant = false
		if p.isPunct("%") {
			p.take()
			e.qkind = qPercent
		}
	}
	if p.isWord("of") {
		p.take()
		e.kind = eForOf
		e.strs = p.parseStringSet()
	} else {
		e.kind = eForIn
		for {
			v := p.take()
			if v.kind != tIdent || keywords[v.val] {
				p.fail(v.line, "syntax error: expected loop variable, found %s", v)
			}
			e.vars = append(e.vars, v.val)
			if !p.isPunct(",") {
				break
			}
			p.take()
		}
		p.expectWord("in")
		if p.peek().kind == tIdent {
			m := p.take()
			e.iter = []*expr{p.parseModuleRef(m)}
		} else {
			p.expectPunct("(")
			first := p.parseExpr(arithPrec)
			if p.isPunct("..") {
				p.take()
				e.rng = true
				e.iter = []*expr{first, p.parseExpr(arithPrec)}
			} else {
				e.iter = []*expr{first}
				for p.isPunct(",") {
					p.take()
					e.iter = append(e.iter, p.parseExpr(arithPrec))
				}
			}
			p.expectPunct(")")
		}
	}
	p.expectPunct(":")
	p.expectPunct("(")
	e.body = p.parseExpr(0)
	p.expectPunct(")")
	return e
}
