package yara

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// Problem is something wrong or unsupported in a rule source. Skipped is
// true when a rule was dropped for it (the other rules still load); a
// syntax error drops the rule it is in.
type Problem struct {
	File    string
	Line    int
	Rule    string
	Reason  string
	Skipped bool
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Rule != "" {
		fmt.Fprintf(&b, "rule %s: ", p.Rule)
	}
	b.WriteString(p.Reason)
	if p.Skipped {
		b.WriteString(" (rule skipped)")
	}
	return b.String()
}

// Compiler collects rule sources and builds Rules. It is not safe for
// concurrent use.
type Compiler struct {
	exts     []external
	extIdx   map[string]int
	rules    []*crule
	ruleIdx  map[string]int    // "namespace:name" -> index in rules
	skipped  map[string]string // "namespace:name" -> reason, for rules that refer to them
	strs     []*cstring
	pats     []*pattern
	problems []Problem
	built    bool
}

type external struct {
	name string
	val  value
}

// NewCompiler returns an empty compiler.
func NewCompiler() *Compiler {
	return &Compiler{extIdx: map[string]int{}, ruleIdx: map[string]int{}, skipped: map[string]string{}}
}

func (c *Compiler) define(name string, v value) {
	if i, ok := c.extIdx[name]; ok {
		c.exts[i].val = v
		return
	}
	c.extIdx[name] = len(c.exts)
	c.exts = append(c.exts, external{name, v})
}

// DefineString declares a string external variable with its default value,
// like yara -d name=value. Scan's ext map overrides it per file.
func (c *Compiler) DefineString(name, value string) { c.define(name, strVal(value)) }

// DefineInt declares an integer external variable.
func (c *Compiler) DefineInt(name string, v int64) { c.define(name, intVal(v)) }

// DefineBool declares a boolean external variable.
func (c *Compiler) DefineBool(name string, v bool) { c.define(name, boolVal(v)) }

// crule is a compiled rule.
type crule struct {
	name, ns string
	file     string
	line     int
	tags     []string
	meta     []metaEntry
	private  bool
	global   bool
	strs     []int // indices in Rules.strs
	cond     *expr
	nloop    int
}

// cstring is a compiled string of a rule.
type cstring struct {
	rule    int
	id      string
	private bool
	pats    []int // variants (not chained)
	parts   []int // chained hex parts, in order
	gaps    [][2]int
	fixed   int64 // >= 0: only matches at this offset count (see atOff)
}

// pattern is one searchable variant of a string (or one part of a chained
// hex string).
type pattern struct {
	str      int
	part     int // index in the chain, -1 when not chained
	lit      []byte
	fold     bool
	prog     *prog
	wide     bool
	fullword bool
	atoms    []atomCand // nil: searched at every position
}

// Add parses and compiles one rule source; name is used in messages. Rules
// go to the namespace "default", like rules given to the yara tool. The
// problems found are returned (and also kept for Rules).
func (c *Compiler) Add(name string, src []byte) []Problem {
	return c.AddNamespace("default", name, src)
}

// AddNamespace is Add with an explicit namespace.
func (c *Compiler) AddNamespace(ns, name string, src []byte) []Problem {
	var probs []Problem
	f := parseFile(src)
	for _, e := range f.errs {
		probs = append(probs, Problem{File: name, Line: e.line, Reason: e.msg, Skipped: true})
	}
	for _, l := range f.includes {
		probs = append(probs, Problem{File: name, Line: l, Reason: "include directives are not supported: add the included file itself"})
	}
	imported := map[string]bool{}
	for _, m := range f.imports {
		imported[m] = true
	}
	for _, r := range f.rules {
		if p := c.addRule(ns, name, r, imported); p != nil {
			probs = append(probs, *p)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	c.problems = append(c.problems, probs...)
	return probs
}

type ruleError struct{ msg string }

func (c *Compiler) addRule(ns, file string, r *ruleAST, imported map[string]bool) (prob *Problem) {
	key := ns + ":" + r.name
	if _, dup := c.ruleIdx[key]; dup {
		return &Problem{File: file, Line: r.line, Rule: r.name, Reason: "duplicated rule identifier", Skipped: true}
	}
	if _, dup := c.skipped[key]; dup {
		return &Problem{File: file, Line: r.line, Rule: r.name, Reason: "duplicated rule identifier", Skipped: true}
	}
	defer func() {
		if x := recover(); x != nil {
			e, ok := x.(ruleError)
			if !ok {
				panic(x)
			}
			c.skipped[key] = e.msg
			prob = &Problem{File: file, Line: r.line, Rule: r.name, Reason: e.msg, Skipped: true}
		}
	}()
	cr := &crule{name: r.name, ns: ns, file: file, line: r.line, tags: r.tags, meta: r.meta,
		private: r.private, global: r.global}
	rc := &ruleCompiler{c: c, ns: ns, rule: r, imported: imported, referenced: make([]bool, len(r.strings)),
		atOff: make([]int64, len(r.strings))}
	for i := range rc.atOff {
		rc.atOff[i] = atNone
	}
	ids := map[string]bool{}
	for _, s := range r.strings {
		if s.id != "$" && ids[s.id] {
			rc.fail("duplicated string identifier %s", s.id)
		}
		ids[s.id] = true
	}
	rc.resolve(r.cond, false)
	rc.typeOf(r.cond)
	for i, s := range r.strings {
		if !rc.referenced[i] {
			rc.fail("unreferenced string %s", s.id)
		}
	}
	// strings last: building patterns allocates, so only for rules that load
	var strs []*cstring
	var pats []*pattern
	for _, s := range r.strings {
		cs, ps := rc.compileString(s, len(c.strs)+len(strs), len(c.pats)+len(pats))
		cs.fixed = -1
		if off := rc.atOff[len(strs)]; off >= 0 {
			cs.fixed = off
		}
		strs = append(strs, cs)
		pats = append(pats, ps...)
	}
	cr.cond = r.cond
	cr.nloop = rc.maxLoop
	idx := len(c.rules)
	for _, cs := range strs {
		cs.rule = idx
		cr.strs = append(cr.strs, len(c.strs))
		c.strs = append(c.strs, cs)
	}
	c.pats = append(c.pats, pats...)
	c.rules = append(c.rules, cr)
	c.ruleIdx[key] = idx
	return nil
}

type ruleCompiler struct {
	c          *Compiler
	ns         string
	rule       *ruleAST
	imported   map[string]bool
	referenced []bool
	// atOff per string: the constant of "$a at C" when that is the only use
	// of $a (YARA then only looks for $a at C), atNone when unused, atMany
	// when used otherwise.
	atOff   []int64
	scope   []string // loop variables, innermost last
	maxLoop int
	anon    int // depth of for-of loops
}

func (rc *ruleCompiler) fail(format string, args ...any) {
	panic(ruleError{fmt.Sprintf(format, args...)})
}

const (
	atNone = -2
	atMany = -1
)

func (rc *ruleCompiler) ref(i int) {
	if i >= 0 {
		rc.referenced[i] = true
		rc.atOff[i] = atMany
	} else if rc.anon == 0 {
		rc.fail("anonymous string reference outside a for ... of loop")
	}
}

// resolve binds identifiers and marks referenced strings.
func (rc *ruleCompiler) resolve(e *expr, _ bool) {
	if e == nil {
		return
	}
	switch e.kind {
	case eEntrypoint:
		rc.fail("entrypoint is not supported (it needs the pe or elf module)")
	case eModule:
		if rc.mathCall(e) {
			for _, a := range e.args {
				rc.resolve(a, false)
			}
			return
		}
		mod, _, _ := strings.Cut(e.name, ".")
		mod, _, _ = strings.Cut(mod, "[")
		mod, _, _ = strings.Cut(mod, "(")
		if rc.imported[mod] {
			rc.fail("module %q is not supported (uses %s)", mod, e.name)
		}
		rc.fail("undefined identifier %q", mod)
	case eIdent:
		e.ref, e.ext, e.loop = -1, -1, -1
		for i := len(rc.scope) - 1; i >= 0; i-- {
			if rc.scope[i] == e.name {
				e.loop = i
				return
			}
		}
		if i, ok := rc.c.extIdx[e.name]; ok {
			e.ext = i
			return
		}
		if i, ok := rc.c.ruleIdx[rc.ns+":"+e.name]; ok {
			e.ref = i
			return
		}
		if why, ok := rc.c.skipped[rc.ns+":"+e.name]; ok {
			rc.fail("depends on skipped rule %s (%s)", e.name, why)
		}
		if rc.imported[e.name] {
			rc.fail("module %q is not supported", e.name)
		}
		rc.fail("undefined identifier %q", e.name)
	case eStrMatch:
		if c, ok := constInt(e.args); ok && e.op == "at" && e.str >= 0 && c >= 0 {
			rc.referenced[e.str] = true
			switch rc.atOff[e.str] {
			case atNone:
				rc.atOff[e.str] = c
			case c:
			default:
				rc.atOff[e.str] = atMany
			}
		} else {
			rc.ref(e.str)
		}
	case eCount, eOffset, eLength:
		rc.ref(e.str)
	case eOf:
		for _, s := range e.strs {
			rc.ref(s)
		}
	case eForOf:
		for _, s := range e.strs {
			rc.ref(s)
		}
		rc.resolve(e.quant, false)
		rc.anon++
		rc.resolve(e.body, false)
		rc.anon--
		return
	case eForIn:
		rc.resolve(e.quant, false)
		for _, it := range e.iter {
			rc.resolve(it, false)
		}
		if len(e.vars) != 1 {
			rc.fail("loops over %d variables need a module iterator (not supported)", len(e.vars))
		}
		rc.scope = append(rc.scope, e.vars...)
		if len(rc.scope) > rc.maxLoop {
			rc.maxLoop = len(rc.scope)
		}
		rc.resolve(e.body, false)
		rc.scope = rc.scope[:len(rc.scope)-len(e.vars)]
		return
	case eRegex:
		tree, err := parseRegex(e.s, strings.Contains(e.op, "i"), strings.Contains(e.op, "s"))
		if err != nil {
			rc.fail("invalid regular expression /%s/: %v", e.s, err)
		}
		p, err := compileRE(tree)
		if err != nil {
			rc.fail("invalid regular expression /%s/: %v", e.s, err)
		}
		e.re = &regexString{src: e.s, flags: e.op, prog: p}
		return
	}
	rc.resolve(e.quant, false)
	for _, a := range e.args {
		rc.resolve(a, false)
	}
}

type vtype int

const (
	tyBool vtype = iota
	tyInt
	tyFloat
	tyStr
	tyRegex
)

var tyName = map[vtype]string{tyBool: "boolean", tyInt: "integer", tyFloat: "float", tyStr: "string", tyRegex: "regexp"}

func (rc *ruleCompiler) wantNum(e *expr, what string) vtype {
	t := rc.typeOf(e)
	if t != tyInt && t != tyFloat && t != tyBool {
		rc.fail("wrong type for %s: %s", what, tyName[t])
	}
	return t
}

func (rc *ruleCompiler) wantInt(e *expr, what string) {
	if t := rc.typeOf(e); t != tyInt && t != tyBool {
		rc.fail("wrong type for %s: %s", what, tyName[t])
	}
}

// typeOf checks the types of a condition, as YARA does when compiling.
func (rc *ruleCompiler) typeOf(e *expr) vtype {
	switch e.kind {
	case eBool:
		return tyBool
	case eInt, eFilesize:
		return tyInt
	case eFloat:
		return tyFloat
	case eStr:
		return tyStr
	case eRegex:
		return tyRegex
	case eIdent:
		switch {
		case e.loop >= 0:
			return tyInt
		case e.ext >= 0:
			switch rc.c.exts[e.ext].val.k {
			case vStr:
				return tyStr
			case vInt:
				return tyInt
			case vFloat:
				return tyFloat
			}
			return tyBool
		}
		return tyBool
	case eStrMatch:
		for _, a := range e.args {
			rc.wantInt(a, "string offset")
		}
		return tyBool
	case eCount, eOffset, eLength:
		for _, a := range e.args {
			rc.wantInt(a, "string index or range")
		}
		return tyInt
	case eOf:
		if e.quant != nil {
			rc.wantInt(e.quant, "quantifier")
		}
		for _, a := range e.args {
			rc.wantInt(a, "range")
		}
		return tyBool
	case eForOf:
		if e.quant != nil {
			rc.wantInt(e.quant, "quantifier")
		}
		rc.typeOf(e.body)
		return tyBool
	case eForIn:
		if e.quant != nil {
			rc.wantInt(e.quant, "quantifier")
		}
		for _, a := range e.iter {
			rc.wantInt(a, "enumeration item")
		}
		rc.typeOf(e.body)
		return tyBool
	case eCall:
		if mathFuncs[e.name] > 0 {
			return rc.mathType(e)
		}
		rc.wantInt(e.args[0], e.name+" offset")
		return tyInt
	case eUnary:
		switch e.op {
		case "not", "defined":
			rc.typeOf(e.args[0])
			return tyBool
		case "-":
			return rc.wantNum(e.args[0], "unary minus")
		default:
			rc.wantInt(e.args[0], "~")
			return tyInt
		}
	case eBinary:
		switch e.op {
		case "and", "or":
			rc.typeOf(e.args[0])
			rc.typeOf(e.args[1])
			return tyBool
		case "==", "!=", "<", "<=", ">", ">=":
			a, b := rc.typeOf(e.args[0]), rc.typeOf(e.args[1])
			if (a == tyStr) != (b == tyStr) || a == tyRegex || b == tyRegex {
				rc.fail("type mismatch: %s %s %s", tyName[a], e.op, tyName[b])
			}
			return tyBool
		case "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iequals":
			if rc.typeOf(e.args[0]) != tyStr || rc.typeOf(e.args[1]) != tyStr {
				rc.fail("wrong type for %s: strings needed", e.op)
			}
			return tyBool
		case "matches":
			if rc.typeOf(e.args[0]) != tyStr {
				rc.fail("wrong type for matches: a string is needed")
			}
			return tyBool
		case "+", "-", "*", "\\":
			a := rc.wantNum(e.args[0], e.op)
			b := rc.wantNum(e.args[1], e.op)
			if a == tyFloat || b == tyFloat {
				return tyFloat
			}
			return tyInt
		default: // % & | ^ << >>
			rc.wantInt(e.args[0], e.op)
			rc.wantInt(e.args[1], e.op)
			return tyInt
		}
	}
	return tyBool
}

// compileString builds the patterns of one string; sidx and pidx are the
// indices its cstring and first pattern will get.
func (rc *ruleCompiler) compileString(s *stringAST, sidx, pidx int) (*cstring, []*pattern) {
	cs := &cstring{id: s.id, private: s.private}
	var pats []*pattern
	add := func(p *pattern) {
		p.str = sidx
		if p.part < 0 {
			cs.pats = append(cs.pats, pidx+len(pats))
		}
		pats = append(pats, p)
	}
	ascii := s.ascii || !s.wide
	switch s.kind {
	case skHex:
		if s.nocase || s.wide || s.ascii || s.fullword || s.xor || s.base64 || s.base64wide {
			rc.fail("string %s: hex strings take only the private modifier", s.id)
		}
		tree, err := parseHex(s.text)
		if err != nil {
			rc.fail("string %s: %v", s.id, err)
		}
		parts, gaps := splitChain(tree)
		for i, part := range parts {
			p := &pattern{part: -1}
			if len(parts) > 1 {
				p.part = i
				cs.parts = append(cs.parts, pidx+len(pats))
			}
			p.prog = rc.compileProg(s, part)
			p.atoms = treeAtoms(part, maxAtom)
			add(p)
		}
		cs.gaps = gaps
	case skRegex:
		if s.xor || s.base64 || s.base64wide {
			rc.fail("string %s: xor and base64 do not apply to regular expressions", s.id)
		}
		nocase := s.nocase || strings.Contains(s.flags, "i")
		tree, err := parseRegex(s.text, nocase, strings.Contains(s.flags, "s"))
		if err != nil {
			rc.fail("string %s: invalid regular expression: %v", s.id, err)
		}
		if ascii {
			add(&pattern{part: -1, prog: rc.compileProg(s, tree), atoms: treeAtoms(tree, maxAtom), fullword: s.fullword})
		}
		if s.wide {
			w := widen(tree)
			add(&pattern{part: -1, prog: rc.compileProg(s, w), atoms: treeAtoms(w, maxAtom), fullword: s.fullword, wide: true})
		}
	case skText:
		if len(s.text) == 0 {
			rc.fail("string %s: empty string", s.id)
		}
		if s.xor && s.nocase {
			rc.fail("string %s: invalid modifier combination: xor nocase", s.id)
		}
		b64 := s.base64 || s.base64wide
		if b64 && (s.nocase || s.xor || s.fullword) {
			rc.fail("string %s: invalid modifier combination: base64 with nocase, xor or fullword", s.id)
		}
		var encs [][]byte
		var wides []bool
		if ascii {
			encs, wides = append(encs, []byte(s.text)), append(wides, false)
		}
		if s.wide {
			encs, wides = append(encs, wideBytes([]byte(s.text))), append(wides, true)
		}
		seen := map[string]bool{}
		for i, enc := range encs {
			switch {
			case b64:
				if len(enc) < 3 {
					rc.fail("string %s: base64 needs at least 3 bytes", s.id)
				}
				for _, sub := range base64Substrings(enc, s.alphabet) {
					if s.base64 && !seen[string(sub)] {
						seen[string(sub)] = true
						add(&pattern{part: -1, lit: sub, atoms: []atomCand{literalAtom(sub, maxAtom)}})
					}
					if s.base64wide {
						w := wideBytes(sub)
						if !seen[string(w)] {
							seen[string(w)] = true
							add(&pattern{part: -1, lit: w, atoms: []atomCand{literalAtom(w, maxAtom)}, wide: true})
						}
					}
				}
			case s.xor:
				for k := s.xorMin; k <= s.xorMax; k++ {
					x := make([]byte, len(enc))
					for j, b := range enc {
						x[j] = b ^ byte(k)
					}
					add(&pattern{part: -1, lit: x, atoms: []atomCand{literalAtom(x, maxXorAtom)}, fullword: s.fullword, wide: wides[i]})
				}
			default:
				add(&pattern{part: -1, lit: enc, fold: s.nocase, atoms: []atomCand{literalAtom(enc, maxAtom)}, fullword: s.fullword, wide: wides[i]})
			}
		}
	}
	return cs, pats
}

func (rc *ruleCompiler) compileProg(s *stringAST, tree *reNode) *prog {
	p, err := compileRE(tree)
	if err != nil {
		rc.fail("string %s: %v", s.id, err)
	}
	return p
}

func wideBytes(b []byte) []byte {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, c, 0)
	}
	return out
}

// base64Substrings returns the three encodings of s at the three possible
// alignments, keeping only the characters that depend on s alone.
func base64Substrings(s []byte, alphabet string) [][]byte {
	enc := base64.StdEncoding
	if alphabet != "" {
		enc = base64.NewEncoding(alphabet)
	}
	var out [][]byte
	for i := 0; i < 3; i++ {
		padded := append(make([]byte, i), s...)
		e := enc.WithPadding(base64.NoPadding).EncodeToString(padded)
		first := (8*i + 5) / 6
		last := (8*(i+len(s)))/6 - 1
		if last >= len(e) {
			last = len(e) - 1
		}
		if first <= last {
			out = append(out, []byte(e[first:last+1]))
		}
	}
	return out
}

// chainThreshold is YARA's STRING_CHAINING_THRESHOLD: hex jumps wider than
// this split the string into parts matched separately.
const chainThreshold = 200

// splitChain splits a hex tree at its top-level jumps wider than the
// threshold (or unbounded).
func splitChain(n *reNode) ([]*reNode, [][2]int) {
	items := flatten(n, nil)
	var parts []*reNode
	var gaps [][2]int
	var cur []*reNode
	for _, it := range items {
		if it.jump && (it.max < 0 || it.max > chainThreshold) {
			parts = append(parts, concatOf(cur))
			gaps = append(gaps, [2]int{it.min, it.max})
			cur = nil
			continue
		}
		cur = append(cur, it)
	}
	parts = append(parts, concatOf(cur))
	return parts, gaps
}

func concatOf(items []*reNode) *reNode {
	if len(items) == 1 {
		return items[0]
	}
	return &reNode{op: rConcat, subs: items}
}

// Rules compiles what was added. The problems are all those found by Add.
// It may be called once; later Adds are not seen by the returned Rules.
func (c *Compiler) Rules() (*Rules, []Problem) {
	r, err := newRules(c)
	probs := append([]Problem(nil), c.problems...)
	if err != nil {
		probs = append(probs, Problem{Reason: err.Error()})
		return nil, probs
	}
	return r, probs
}

// constInt folds a single constant integer argument ("$a at 0x100 + 2").
func constInt(args []*expr) (int64, bool) {
	if len(args) != 1 {
		return 0, false
	}
	return foldInt(args[0])
}

func foldInt(e *expr) (int64, bool) {
	switch e.kind {
	case eInt:
		return e.i, true
	case eUnary:
		v, ok := foldInt(e.args[0])
		switch {
		case !ok:
			return 0, false
		case e.op == "-":
			return -v, true
		case e.op == "~":
			return ^v, true
		}
	case eBinary:
		a, ok1 := foldInt(e.args[0])
		b, ok2 := foldInt(e.args[1])
		if !ok1 || !ok2 {
			return 0, false
		}
		switch e.op {
		case "+":
			return a + b, true
		case "-":
			return a - b, true
		case "*":
			return a * b, true
		case "\\":
			if b != 0 {
				return a / b, true
			}
		case "%":
			if b != 0 {
				return a % b, true
			}
		case "&":
			return a & b, true
		case "|":
			return a | b, true
		case "^":
			return a ^ b, true
		case "<<":
			if b >= 0 && b < 64 {
				return a << uint(b), true
			}
		case ">>":
			if b >= 0 && b < 64 {
				return a >> uint(b), true
			}
		}
	}
	return 0, false
}
