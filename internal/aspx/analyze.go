package aspx

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Detection is one conclusion about a page, with the reasons it fired.
type Detection struct {
	Category string // exec, code, loader, obfuscated, filewrite, ...
	Spec
	Reasons []Reason
}

// Reason is one piece of evidence: a line of the page (0 when the reason
// is about the whole page) and what it shows.
type Reason struct {
	Line int
	Text string
}

func (r Reason) String() string {
	if r.Line > 0 {
		return fmt.Sprintf("line %d: %s", r.Line, r.Text)
	}
	return r.Text
}

// Taint bits: what request input still is when it reaches a use.
const (
	tAny  uint8 = 1 << iota // it comes from the request
	tPath                   // no sanitizer kept it inside a chosen folder
	tRaw                    // no literal SQL of the page's own around it
	// tDecoded: decoded at run time (unescape, base64, characters built
	// from numbers), request input or not
	tDecoded
	// tNamed: the request names the file, the page chose its folder
	// (dir + Request["f"]), or gives a site path whole
	// (MapPath(Request["f"])): writing content there drops a page
	tNamed
	// tSite: a path in the folder the page runs from or the site's root
	// (Request.PhysicalPath, MapPath(".")), where a file dropped runs
	tSite
	// tWhole: the request gives a site path whole (MapPath(Request["f"])):
	// it chooses the folder as well as the name
	tWhole
	tAll = tAny | tPath | tRaw
)

// better reports whether taint x names its origin better than m so far:
// request input before a decoded or site value.
func better(m, x uint8) bool {
	return x != 0 && (m == 0 || m&tAny == 0 && x&tAny != 0 || m == tDecoded && x&^tDecoded != 0)
}

// siteDirs are the paths MapPath maps to the page's own folder or the
// site's root.
var siteDirs = map[string]bool{"": true, ".": true, "./": true, ".\\": true, "~": true, "~/": true, "/": true, "\\": true}

// maxRounds bounds the passes that spread taint through variables and
// methods; real pages settle in two or three.
const maxRounds = 8

type cstmt struct {
	stmt
	lang   Lang
	method string // enclosing method, lower-case
}

type analysis struct {
	r       *Rules
	p       *Page
	stmts   []cstmt
	codeLow string
	vars    map[vkey]uint8
	origin  map[vkey]string // where a variable's input came from
	aliases map[string]bool // names holding the request object
	methods map[string][]string
	ret     map[string]uint8
	// locals are each method's parameters and declared variables: their
	// taint is the method's own, so one name in two methods is two values
	locals map[string]map[string]bool
	// declared are the names the page's code declares or assigns
	// anywhere: an undeclared X read as X.Text is a server control
	// declared in markup or a code-behind the file does not hold
	declared map[string]bool
	consts   map[string]bool // names of constant strings
	cur      string          // the method of the statement being read
	changed  bool
}

// Analyze reasons about the page's server code and returns what it found,
// ordered by category. A page without server code gives nothing.
func (r *Rules) Analyze(p *Page) []Detection {
	if p == nil || !p.Server {
		return nil
	}
	a := &analysis{r: r, p: p, vars: map[vkey]uint8{}, origin: map[vkey]string{},
		aliases: map[string]bool{"request": true}, methods: map[string][]string{}, ret: map[string]uint8{},
		locals: map[string]map[string]bool{}, declared: map[string]bool{}, consts: map[string]bool{}}
	budget := maxTokens
	var sb strings.Builder
	for _, b := range p.Blocks {
		for _, s := range lex(b, &budget) {
			a.stmts = append(a.stmts, cstmt{stmt: s, lang: b.Lang})
		}
		sb.WriteString(strings.ToLower(b.Code))
		sb.WriteByte('\n')
	}
	a.codeLow = sb.String()
	a.declare()
	a.declareAll()
	for round := 0; round < maxRounds; round++ {
		a.changed = false
		for i := range a.stmts {
			a.cur = a.stmts[i].method
			a.flow(&a.stmts[i])
		}
		if !a.changed {
			break
		}
	}
	return a.conclude()
}

// declare finds method declarations, their parameters, and which method
// each statement is in.
func (a *analysis) declare() {
	cur, curDepth := "", -1
	for i := range a.stmts {
		s := &a.stmts[i]
		t := s.toks
		if s.lang == VB {
			k := skipMods(t)
			if k < len(t) && t[k].low == "end" && k+1 < len(t) && (t[k+1].low == "sub" || t[k+1].low == "function") {
				cur = ""
				continue
			}
			if k+1 < len(t) && (t[k].low == "sub" || t[k].low == "function") && t[k+1].kind == tIdent {
				cur = t[k+1].low
				a.methods[cur] = vbParams(t[k+2:])
				a.local(cur, a.methods[cur]...)
				a.webMethod(cur, t, a.methods[cur])
				continue
			}
			s.method = cur
			if cur != "" && k > 0 && (t[k-1].low == "dim" || t[k-1].low == "const") {
				for _, g := range splitArgs(t[k:]) {
					if len(g) > 0 && g[0].kind == tIdent {
						a.local(cur, g[0].low)
					}
				}
			}
			continue
		}
		if cur != "" && s.depth <= curDepth {
			cur, curDepth = "", -1
		}
		if s.open && cur == "" {
			if name, params, ok := cDecl(t); ok {
				cur, curDepth = name, s.depth
				a.methods[name] = params
				a.local(name, params...)
				a.webMethod(name, t, params)
				continue
			}
		}
		s.method = cur
		if cur != "" {
			if name := cDeclared(t); name != "" {
				a.local(cur, name)
			}
		}
	}
}

// declareAll notes every name the code declares, assigns whole or loops
// over, in or out of methods (fields, VB's undeclared variables).
func (a *analysis) declareAll() {
	for m, ps := range a.methods {
		a.declared[m] = true
		for _, p := range ps {
			a.declared[p] = true
		}
	}
	for _, ls := range a.locals {
		for n := range ls {
			a.declared[n] = true
		}
	}
	for i := range a.stmts {
		t := a.stmts[i].toks
		if n := cDeclared(t); n != "" {
			a.declared[n] = true
		}
		// const string Key = "..." (Const Key = "..."): a fixed string
		if c := slices.IndexFunc(t, func(x tok) bool { return x.low == "const" || x.low == "readonly" }); c >= 0 {
			if e := slices.IndexFunc(t, func(x tok) bool { return x.text == "=" }); e > c+1 && e+2 == len(t) || e > c+1 && e+3 == len(t) && t[e+2].text == ";" {
				if t[e-1].kind == tIdent && t[e+1].kind == tString {
					a.consts[t[e-1].low] = true
				}
			}
		}
		for k, x := range t {
			if x.kind != tIdent {
				continue
			}
			prev, next := "", ""
			if k > 0 {
				prev = t[k-1].low
			}
			if k+1 < len(t) {
				next = t[k+1].text
			}
			// x = ..., Set x = ..., Dim x, For Each x In, (T x) and
			// x => ... lambdas, catch (E x)
			bare := prev != "." && (next == "=" || next == "=>" || next == "," && prev == "dim")
			if bare || prev == "dim" || prev == "set" || prev == "each" || prev == "const" || next == ")" && k > 1 && t[k-1].kind == tIdent && t[k-2].text == "(" {
				a.declared[x.low] = true
			}
		}
	}
}

// undeclaredControl: in a page that can hold server controls, an X that
// the code never declares, read as X.Text (a control member), is a
// control declared where this file does not show it.
func (a *analysis) undeclaredControl(x tok, member string) bool {
	return a.p.Forms && a.r.controlMembers[member] && !a.declared[x.low] && !a.p.Elements[x.low] &&
		!a.aliases[x.low] && !stores[x.low] && !isSelf(x)
}

func (a *analysis) local(method string, names ...string) {
	if a.locals[method] == nil {
		a.locals[method] = map[string]bool{}
	}
	for _, n := range names {
		a.locals[method][n] = true
	}
}

// cDeclared returns the variable a C# or JScript statement declares
// ("string x = ...", "var x", "List<T> x;", "for (int i = 0"), or "".
func cDeclared(t []tok) string {
	end := len(t)
	if i := slices.IndexFunc(t, func(x tok) bool { return x.kind == tPunct && (x.text == "=" || x.text == ";") }); i >= 0 {
		end = i
	} else if i := slices.IndexFunc(t, func(x tok) bool { return x.low == "in" }); i >= 0 {
		end = i // foreach (T x in ...)
	}
	if end < 2 || t[end-1].kind != tIdent || notDecl[t[end-1].low] {
		return ""
	}
	before := t[end-2]
	if before.kind == tIdent && !notDecl[before.low] && before.low != "return" && before.low != "else" ||
		before.text == ">" || before.text == "]" {
		return t[end-1].low
	}
	return ""
}

// vkey names a variable: a method's local (method set) or the page's.
type vkey struct{ method, name string }

// key is where a name's taint is kept as read in method.
func (a *analysis) key(method, name string) vkey {
	if method != "" && a.locals[method][name] {
		return vkey{method, name}
	}
	return vkey{name: name}
}

// webMethod: the parameters of a [WebMethod] (<WebMethod()>) are what the
// client posts.
func (a *analysis) webMethod(method string, decl []tok, params []string) {
	if !slices.ContainsFunc(decl, func(x tok) bool { return x.low == "webmethod" }) {
		return
	}
	for _, p := range params {
		a.taintKey(a.key(method, p), tAll, "web method parameter "+p)
	}
}

var vbMods = map[string]bool{"public": true, "private": true, "protected": true, "friend": true, "shared": true,
	"overrides": true, "overridable": true, "static": true, "dim": true, "set": true, "let": true, "const": true,
	"redim": true, "preserve": true, "async": true, "partial": true, "overloads": true}

func skipMods(t []tok) int {
	k := 0
	if len(t) > 0 && t[0].text == "<" { // <WebMethod()> attribute
		for k < len(t) && t[k].text != ">" {
			k++
		}
		k = min(k+1, len(t)) // an attribute left open ends the statement
	}
	for k < len(t) && t[k].kind == tIdent && vbMods[t[k].low] {
		k++
	}
	return k
}

func vbParams(t []tok) []string {
	open, close := parenRange(t, 0)
	if open < 0 {
		return nil
	}
	var out []string
	for _, g := range splitArgs(t[open+1 : close]) {
		for _, x := range g {
			if x.kind == tIdent && !slices.Contains([]string{"byval", "byref", "optional", "paramarray"}, x.low) {
				out = append(out, x.low)
				break
			}
		}
	}
	return out
}

var notDecl = map[string]bool{"if": true, "for": true, "foreach": true, "while": true, "switch": true, "using": true,
	"lock": true, "catch": true, "else": true, "try": true, "do": true, "return": true, "new": true, "finally": true,
	"class": true, "namespace": true, "struct": true, "interface": true, "fixed": true, "checked": true, "unchecked": true}

// cDecl recognises "type Name(params)" or "function Name(params)" before a
// body.
func cDecl(t []tok) (string, []string, bool) {
	if len(t) < 3 || t[len(t)-1].text != ")" || notDecl[t[0].low] {
		return "", nil, false
	}
	for _, x := range t {
		if x.text == "=" || x.text == "=>" || x.kind == tString {
			return "", nil, false
		}
	}
	// find the '(' matching the last ')'
	depth := 0
	open := -1
	for k := len(t) - 1; k >= 0; k-- {
		switch t[k].text {
		case ")":
			depth++
		case "(":
			depth--
			if depth == 0 {
				open = k
			}
		}
		if open >= 0 {
			break
		}
	}
	if open < 1 || t[open-1].kind != tIdent || notDecl[t[open-1].low] {
		return "", nil, false
	}
	if open < 2 && t[0].low != "function" {
		return "", nil, false
	}
	var params []string
	for _, g := range splitArgs(t[open+1 : len(t)-1]) {
		name := ""
		for _, x := range g {
			if x.text == "=" {
				break
			}
			if x.kind == tIdent {
				name = x.low
			}
		}
		if name != "" {
			params = append(params, name)
		}
	}
	return t[open-1].low, params, true
}

// parenRange finds the first '(' at or after i and its matching ')'.
func parenRange(t []tok, i int) (int, int) {
	for ; i < len(t); i++ {
		if t[i].text == "(" {
			break
		}
	}
	if i >= len(t) {
		return -1, -1
	}
	return i, matchClose(t, i)
}

// matchClose returns the index of the bracket closing t[i], or len(t).
func matchClose(t []tok, i int) int {
	depth := 0
	for k := i; k < len(t); k++ {
		switch t[k].text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return len(t)
}

// splitArgs splits tokens at top-level commas.
func splitArgs(t []tok) [][]tok {
	var out [][]tok
	depth, st := 0, 0
	for k, x := range t {
		switch x.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, t[st:k])
				st = k + 1
			}
		}
	}
	if st < len(t) {
		out = append(out, t[st:])
	}
	return out
}

// taint adds m to a name as the current method sees it.
func (a *analysis) taint(name string, m uint8, from string) {
	a.taintKey(a.key(a.cur, name), m, from)
}

func (a *analysis) taintKey(name vkey, m uint8, from string) {
	if m == 0 || name.name == "" {
		return
	}
	if old := a.vars[name]; old|m != old {
		a.vars[name] = old | m
		a.changed = true
		if _, ok := a.origin[name]; !ok {
			a.origin[name] = from
		}
	}
}

// flow spreads taint through one statement: assignments, loops over
// input, buffers filled from input streams, arguments passed to the
// page's own methods and what those return.
func (a *analysis) flow(s *cstmt) {
	t := s.toks
	if len(t) == 0 {
		return
	}
	if s.lang == VB {
		a.flowVB(s)
	} else {
		for k, x := range t {
			if x.kind != tPunct || !isAssignOp(x.text) {
				continue
			}
			root, chain := lvalue(t, k)
			end := exprEnd(t, k+1)
			rhs := t[k+1 : end]
			a.assign(root, chain, rhs, x.text != "=")
		}
		// foreach (T x in EXPR)
		if t[0].low == "foreach" || t[0].low == "for" {
			for k := 1; k+1 < len(t); k++ {
				if t[k].low == "in" || t[k].low == "of" {
					if t[k-1].kind == tIdent {
						m, from := a.mask(t[k+1:])
						a.taint(t[k-1].low, m, from)
					}
					break
				}
			}
		}
		if t[0].low == "return" && s.method != "" {
			if m, _ := a.mask(t[1:]); m != 0 && a.ret[s.method]|m != a.ret[s.method] {
				a.ret[s.method] |= m
				a.changed = true
			}
		}
	}
	// calls: the page's own methods get their callers' input; streams
	// fill buffers; builders and streams take what is written to them
	for k := 0; k+1 < len(t); k++ {
		if t[k].kind != tIdent || t[k+1].text != "(" {
			continue
		}
		name := t[k].low
		params, own := a.methods[name]
		// Go(x) or this.Go(x) / Me.Go(x): a call of the page's own method
		own = own && (k == 0 || t[k-1].text != "." || k > 1 && isSelf(t[k-2]) && (k < 3 || t[k-3].text != "."))
		switch {
		case own:
		case name == "blockcopy", name == "copy", name == "read", name == "readblock", name == "copyto",
			name == "binaryread", name == "readbytes", name == "write", name == "append", name == "appendline",
			name == "add", name == "addrange", name == "insert", name == "push", name == "setvalue", name == "appendformat":
		default:
			continue
		}
		close := matchClose(t, k+1)
		args := splitArgs(t[k+2 : min(close, len(t))])
		if own {
			for i, g := range args {
				m, from := a.mask(g)
				if i < len(params) {
					a.taintKey(a.key(name, params[i]), m, from)
				}
			}
			continue
		}
		if k < 2 || t[k-1].text != "." || t[k-2].kind != tIdent {
			if (name == "blockcopy" || name == "copy") && len(args) >= 3 {
				m, from := a.mask(args[0])
				dst := args[2]
				if name == "copy" {
					dst = args[1]
				}
				if len(dst) > 0 && dst[0].kind == tIdent {
					a.taint(dst[0].low, m, from)
				}
			}
			continue
		}
		recv := receiverRoot(t, k-1)
		switch name {
		case "read", "readblock", "copyto", "binaryread", "readbytes":
			m, from := a.mask(t[recvStart(t, k-1) : k-1])
			// into a buffer the page holds (s.Read(buf, ...)), not into
			// context.Response.OutputStream
			if len(args) > 0 && len(args[0]) == 1 && args[0][0].kind == tIdent {
				a.taint(args[0][0].low, m, from)
			}
		case "write", "append", "appendline", "add", "addrange", "insert", "push", "setvalue", "appendformat":
			// a builder or stream the page holds in a variable (sb.Append,
			// ms.Write); context.Response.Write does not fill context
			if st := recvStart(t, k-1); !(st == k-2 || st == k-4 && isSelf(t[st])) || recv == "response" {
				continue
			}
			var m uint8
			var from string
			if stores[recv] && (name == "add" || name == "insert") && len(args) >= 2 && len(args[0]) == 1 && args[0][0].kind == tString {
				m, from = a.mask(args[1])
				a.taint(recv+"["+strings.ToLower(args[0][0].text)+"]", m, from)
				continue
			}
			for _, g := range args {
				gm, gf := a.mask(g)
				if gm != 0 && m == 0 {
					from = gf
				}
				m |= gm
			}
			a.taint(recv, m, from)
		}
	}
}

func (a *analysis) flowVB(s *cstmt) {
	t := s.toks
	k := skipMods(t)
	if k >= len(t) {
		return
	}
	switch t[k].low {
	case "if", "elseif":
		// If cond Then x = y on one line: the statement after Then
		for j := k + 1; j+1 < len(t); j++ {
			if t[j].low == "then" {
				a.flowVB(&cstmt{stmt: stmt{toks: t[j+1:]}, lang: VB, method: s.method})
				break
			}
		}
		return
	case "while", "do", "loop", "case", "select", "until", "sub", "function", "end":
		return
	case "for":
		if k+2 < len(t) && t[k+1].low == "each" {
			for j := k + 2; j+1 < len(t); j++ {
				if t[j].low == "in" {
					m, from := a.mask(t[j+1:])
					a.taint(t[k+2].low, m, from)
					break
				}
			}
		}
		return
	case "return":
		if s.method != "" {
			if m, _ := a.mask(t[k+1:]); m != 0 && a.ret[s.method]|m != a.ret[s.method] {
				a.ret[s.method] |= m
				a.changed = true
			}
		}
		return
	}
	for j := k; j < len(t); j++ {
		if t[j].kind == tPunct && (t[j].text == "=" || t[j].text == "+=" || t[j].text == "&=") {
			if t[k].kind != tIdent {
				return
			}
			chain := t[k:j]
			for c := range chain {
				if chain[c].low == "as" {
					chain = chain[:c]
					break
				}
			}
			a.assign(t[k].low, chain, t[j+1:], t[j].text != "=")
			return
		}
	}
}

func isAssignOp(s string) bool {
	switch s {
	case "=", "+=", "-=", "^=", "|=", "&=", "*=":
		return true
	}
	return false
}

// lvalue walks back from an assignment at k to the assigned name: its
// root identifier and the whole chain (a.b[c].d).
func lvalue(t []tok, k int) (string, []tok) {
	if st := recvStart(t, k); st >= 0 && st < k && t[st].kind == tIdent {
		if isSelf(t[st]) && st+2 < k && t[st+1].text == "." && t[st+2].kind == tIdent {
			st += 2
		}
		return t[st].low, t[st:k]
	}
	return "", nil
}

// isSelf: this (C#, JScript) or Me (VB), through which a page names its
// own members and controls.
func isSelf(x tok) bool {
	return x.kind == tIdent && (x.low == "this" || x.low == "me")
}

// exprEnd finds where the expression starting at i ends: a comma or a
// closing bracket at its own depth, or the statement's end.
func exprEnd(t []tok, i int) int {
	depth := 0
	for k := i; k < len(t); k++ {
		switch t[k].text {
		case "(", "[":
			depth++
		case ")", "]":
			if depth == 0 {
				return k
			}
			depth--
		case ",":
			if depth == 0 {
				return k
			}
		}
	}
	return len(t)
}

// recvStart walks back from the token before dot over a member chain
// (a.b[c](d).e) and returns where the chain starts: its root identifier,
// or the first token after whatever ends it.
func recvStart(t []tok, dot int) int {
	j := dot - 1
	for j >= 0 {
		switch {
		case t[j].text == "]" || t[j].text == ")":
			depth := 0
			for ; j >= 0; j-- {
				if t[j].text == "]" || t[j].text == ")" {
					depth++
				} else if t[j].text == "[" || t[j].text == "(" {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			j--
		case t[j].kind == tIdent:
			if j > 0 && t[j-1].text == "." {
				j -= 2
				continue
			}
			return j
		default:
			return j + 1
		}
	}
	return 0
}

func receiverRoot(t []tok, dot int) string {
	root, _ := lvalue(t, dot)
	return root
}

// assign taints what an assignment sets. Appending (+=, &=) keeps the
// start of the value: input appended to a path the page chose does not
// choose where the path leads.
func (a *analysis) assign(root string, chain []tok, rhs []tok, appends bool) {
	if root == "" || len(rhs) == 0 {
		return
	}
	// a name for the request object itself
	if last := rhs[len(rhs)-1]; len(rhs) <= 6 && last.kind == tIdent && a.aliases[last.low] && root != last.low {
		if !a.aliases[root] {
			a.aliases[root] = true
			a.changed = true
		}
		return
	}
	m, from, head, tail := a.maskParts(rhs)
	m = pathEnds(m, head && !appends, tail)
	if m == 0 {
		return
	}
	// Session["x"] = input: the session carries it to later requests
	// (Context.Session[...] taints the session, not the context)
	for c, x := range chain {
		if stores[x.low] {
			a.taint(storeSlot(chain[c:]), m, from)
			return
		}
	}
	a.taint(root, m, from)
}

// stores keep a value between requests or postbacks of the page: what is
// put under a key comes back from a later read of that key.
var stores = map[string]bool{"session": true, "application": true, "cache": true, "viewstate": true}

// storeSlot names what t (a store, then maybe ["key"] or ("key")) reads
// or writes: the key's own slot for a constant key, else the whole store.
func storeSlot(t []tok) string {
	if len(t) >= 4 && (t[1].text == "[" || t[1].text == "(") && t[2].kind == tString && (t[3].text == "]" || t[3].text == ")") {
		return t[0].low + "[" + strings.ToLower(t[2].text) + "]"
	}
	return t[0].low
}

// storeTaint is the taint a read of a store (t[k] its name) carries: its
// key's slot and whatever was put there under keys not known.
func (a *analysis) storeTaint(t []tok, k int) (uint8, string) {
	slot := storeSlot(t[k:])
	m, from := a.vars[vkey{name: slot}], a.origin[vkey{name: slot}]
	if w := a.vars[vkey{name: t[k].low}]; w != 0 && slot != t[k].low {
		if m == 0 {
			from = a.origin[vkey{name: t[k].low}]
		}
		m |= w
	}
	return m, from
}

// mask is the taint of an expression: request input, server controls,
// tainted variables, methods returning input; sanitizers and the page's
// own SQL text clear their bits. A concatenated path leads where its
// first or last part says: input in the middle of a path the page starts
// and ends (dir + input + "/" + generatedName) does not choose it.
func (a *analysis) mask(t []tok) (uint8, string) {
	m, from, head, tail := a.maskParts(t)
	return pathEnds(m, head, tail), from
}

// pathEnds sets the path bits of a value from its ends: input first
// chooses where it leads; input last only names the file.
func pathEnds(m uint8, head, tail bool) uint8 {
	m &^= tPath | tNamed
	if !tail {
		m &^= tWhole
	}
	switch {
	case head:
		m |= tPath
	case tail:
		m |= tNamed
	}
	return m
}

// maskParts is mask with the path bit of the concatenation's first and
// last parts apart.
func (a *analysis) maskParts(t []tok) (m uint8, from string, head, tail bool) {
	// cond ? x : y is x or y; the condition does not lead the path
	if q, c := ternary(t); q > 0 {
		m1, f1, h1, t1 := a.maskParts(t[q+1 : c])
		m2, f2, h2, t2 := a.maskParts(t[c+1:])
		if m1 == 0 || better(m1, m2) {
			f1 = f2
		}
		return m1 | m2, f1, h1 || h2, t1 || t2
	}
	parts := pathParts(t)
	if !hasConcat(t) && parts == nil {
		m, from = a.maskFlat(t)
		if m&tRaw != 0 && slices.ContainsFunc(t, func(x tok) bool { return x.kind == tString && a.r.sqlText.MatchString(x.text) }) {
			m &^= tRaw
		}
		return m, from, m&tPath != 0, m&(tPath|tNamed) != 0
	}
	if parts == nil {
		parts = splitConcat(t)
	}
	first, firstWhole := true, false
	for i, p := range parts {
		pm, pf := a.maskFlat(p)
		if better(m, pm) {
			from = pf
		}
		// only the last part gives the whole path, or a folder the
		// request gives whole (MapPath(Request["dir"])) joined with a
		// name the request gives too
		headWhole := pm&tWhole != 0
		if i < len(parts)-1 {
			pm &^= tWhole
		}
		// a folder the page names under the site's root or the page's
		// own folder (MapPath("~") + "/uploads/") is a folder it chose
		if m&tSite != 0 && pm == 0 && a.subfolder(p) {
			m &^= tSite
		}
		m |= pm
		// an empty literal ("" + x) chooses nothing
		if len(p) == 1 && p[0].kind == tString && p[0].text == "" {
			continue
		}
		if first {
			head = pm&tPath != 0
			firstWhole = headWhole
			first = false
		}
		if i == len(parts)-1 {
			tail = pm&(tPath|tNamed) != 0
		}
	}
	if firstWhole && tail {
		m |= tWhole
	}
	if m&tRaw != 0 {
		for _, x := range t {
			if x.kind == tString && a.r.sqlText.MatchString(x.text) {
				m &^= tRaw
				break
			}
		}
	}
	return m, from, head, tail
}

// ternary finds the top-level ? and : of a conditional expression, or
// returns 0, 0.
func ternary(t []tok) (int, int) {
	depth, q := 0, 0
	for k, x := range t {
		switch {
		case x.text == "(" || x.text == "[" || x.text == "{":
			depth++
		case x.text == ")" || x.text == "]" || x.text == "}":
			depth--
		case depth == 0 && x.kind == tPunct && x.text == "?" && q == 0 && k > 0:
			q = k
		case depth == 0 && x.kind == tPunct && x.text == ":" && q > 0 && k > q+1 && k < len(t)-1:
			return q, k
		}
	}
	return 0, 0
}

// pathParts returns the parts a path is built from when the expression
// is one call of Path.Combine or String.Format, or nil.
func pathParts(t []tok) [][]tok {
	if p := combineArgs(t); p != nil {
		return p
	}
	return formatParts(t)
}

// formatParts returns the parts of String.Format("...{0}...", args) in
// the order the format places them: its literal pieces and the
// arguments its placeholders name. A format that is not a literal, or a
// placeholder without its argument, gives nil.
func formatParts(t []tok) [][]tok {
	k := findName(t, []string{"string", "format"}, 0)
	if k != 2 || len(t) < 6 || t[3].text != "(" || matchClose(t, 3) != len(t)-1 {
		return nil
	}
	args := splitArgs(t[4 : len(t)-1])
	if len(args) < 2 || len(args[0]) != 1 || args[0][0].kind != tString {
		return nil
	}
	lit := func(text string) []tok { return []tok{{kind: tString, text: text, line: t[0].line}} }
	var out [][]tok
	f := args[0][0].text
	for f != "" {
		open := strings.IndexByte(f, '{')
		if open < 0 {
			out = append(out, lit(f))
			break
		}
		if open > 0 {
			out = append(out, lit(f[:open]))
		}
		end := strings.IndexByte(f[open:], '}')
		if end < 0 {
			return nil
		}
		spec := f[open+1 : open+end]
		if c := strings.IndexAny(spec, ",:"); c >= 0 {
			spec = spec[:c]
		}
		n, err := strconv.Atoi(strings.TrimSpace(spec))
		if err != nil || n < 0 || n+1 >= len(args) {
			return nil
		}
		out = append(out, args[n+1])
		f = f[open+end+1:]
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// subfolder: a part of a path the page wrote itself that names a folder
// below the one before it: a literal or a variable of the page's own
// that is neither a bare separator nor an extension (".aspx").
func (a *analysis) subfolder(p []tok) bool {
	if len(p) == 1 && p[0].kind == tString {
		v := strings.Trim(p[0].text, `/\`)
		return v != "" && v != "." && !strings.HasPrefix(p[0].text, ".") && strings.ContainsAny(p[0].text, `/\`)
	}
	return len(p) == 1 && p[0].kind == tIdent && !a.consts[p[0].low]
}

// combineArgs returns the arguments when the expression is one call of
// Path.Combine (its parts joined as a path), or nil.
func combineArgs(t []tok) [][]tok {
	for k := 0; k+1 < len(t); k++ {
		if t[k].text == "(" {
			if k == 0 || t[k-1].low != "combine" || matchClose(t, k) != len(t)-1 {
				return nil
			}
			if args := splitArgs(t[k+1 : len(t)-1]); len(args) > 1 {
				return args
			}
			return nil
		}
		if t[k].kind != tIdent && t[k].text != "." {
			return nil
		}
	}
	return nil
}

// hasConcat: the expression has a top-level + or &.
func hasConcat(t []tok) bool {
	depth := 0
	for k, x := range t {
		switch x.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case "+", "&":
			if depth == 0 && x.kind == tPunct && k > 0 {
				return true
			}
		}
	}
	return false
}

// splitConcat splits an expression at its top-level + and & (string
// concatenation in C#, JScript and VB).
func splitConcat(t []tok) [][]tok {
	var out [][]tok
	depth, st := 0, 0
	for k, x := range t {
		switch x.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case "+", "&":
			if depth == 0 && x.kind == tPunct && k > st {
				out = append(out, t[st:k])
				st = k + 1
			}
		}
	}
	return append(out, t[st:])
}

// maskFlat is the taint of one operand.
func (a *analysis) maskFlat(t []tok) (uint8, string) {
	var m uint8
	from := ""
	set := func(x uint8, f string) {
		if better(m, x) {
			from = f
		}
		m |= x
	}
	for k := 0; k < len(t); k++ {
		x := t[k]
		if x.kind != tIdent {
			continue
		}
		// typeof(T), GetType(): a type is not a value the client sent
		if x.low == "typeof" && k+1 < len(t) && t[k+1].text == "(" {
			k = min(matchClose(t, k+1), len(t))
			continue
		}
		if k+1 < len(t) && t[k+1].text == "(" {
			if a.r.decoders[x.low] {
				set(tDecoded, x.text+"()")
			} else if (x.low == "chr" || x.low == "chrw" || x.low == "char" || x.low == "fromcharcode") && !(k+3 < len(t) && t[k+2].kind == tNumber && t[k+3].text == ")") {
				set(tDecoded, x.text+"() of computed codes")
			}
		}
		// this.txtPath.Text is txtPath.Text
		if isSelf(x) && k+2 < len(t) && t[k+1].text == "." && t[k+2].kind == tIdent {
			continue
		}
		// input inside a sanitizer's call stays in the folder it picks:
		// Server.MapPath("~/files/" + name); input joined outside it
		// (MapPath("./") + name) does not
		if end, mapper, ok := a.sanitizerCall(t, k); ok {
			inner := t[k+2 : end]
			im, f := a.mask(inner)
			whole := im&tPath != 0 && !hasConcat(inner) && pathParts(inner) == nil
			im &^= tPath | tNamed | tWhole
			if mapper && whole {
				im |= tNamed | tWhole
			}
			if mapper && (len(inner) == 0 || len(inner) == 1 && inner[0].kind == tString && siteDirs[inner[0].text]) {
				im |= tSite
				f = x.text + "(\"" + literalText(inner) + "\")"
			}
			set(im, f)
			k = end
			continue
		}
		prevDot := k > 0 && t[k-1].text == "." && !(k > 1 && isSelf(t[k-2]) && (k < 3 || t[k-3].text != "."))
		next := ""
		if k+1 < len(t) {
			next = t[k+1].text
		}
		// list.Item(key): an entry of the page's own collection picked by
		// input is still the page's own value
		if prevDot && x.low == "item" && (next == "(" || next == "[") && k >= 2 && a.ownValue(t[k-2]) {
			k = min(matchClose(t, k+1), len(t))
			continue
		}
		if a.aliases[x.low] {
			switch {
			case next == "[" || next == "(":
				set(tAll, x.text+"[...]")
				continue
			case next == "." && k+2 < len(t) && a.r.requestMembers[t[k+2].low]:
				if t[k+2].low == "files" {
					set(tAny|tRaw, x.text+".Files")
				} else {
					set(tAll, x.text+"."+t[k+2].text)
				}
				continue
			}
		}
		if prevDot && (x.low == "physicalpath" || x.low == "physicalapplicationpath" || x.low == "basedirectory") {
			set(tSite, x.text)
			continue
		}
		// Session["k"], Context.Session["k"]: what the page put there
		if stores[x.low] && !a.locals[a.cur][x.low] {
			if v, f := a.storeTaint(t, k); v != 0 {
				set(v, x.text+" (from "+f+")")
			}
			if slot := storeSlot(t[k:]); slot != x.low {
				k += 3
			}
			continue
		}
		if !prevDot {
			if _, ok := a.p.Controls[x.low]; (ok || next == "." && k+2 < len(t) && a.undeclaredControl(x, t[k+2].low)) && next == "." && k+2 < len(t) && a.r.controlMembers[t[k+2].low] {
				if a.r.uploadNames[t[k+2].low] {
					set(tAny|tRaw, x.text+"."+t[k+2].text)
				} else {
					set(tAll, x.text+"."+t[k+2].text)
				}
				continue
			}
			vk := a.key(a.cur, x.low)
			v := a.vars[vk]
			if v != 0 {
				set(v, x.text+" (from "+a.origin[vk]+")")
			} else if next == "[" && !a.aliases[x.low] {
				// an element of the page's own array picked by input
				// is still the page's own value
				k = min(matchClose(t, k+1), len(t))
				continue
			}
			if next == "(" && a.ret[x.low] != 0 {
				set(a.ret[x.low], x.text+"() (returns request input)")
			}
		}
	}
	return m, from
}

// ownValue: x names a value of the page's own, not the request object
// or a name holding input.
func (a *analysis) ownValue(x tok) bool {
	return x.kind == tIdent && !a.aliases[x.low] && !isSelf(x) && a.vars[a.key(a.cur, x.low)] == 0 && a.ret[x.low] == 0
}

// sanitizerCall reports whether t[k] is the last part of a sanitizer name
// called there, the index of its closing parenthesis, and whether it is a
// mapper (whose result the mapped path's start still chooses).
func (a *analysis) sanitizerCall(t []tok, k int) (int, bool, bool) {
	if k+1 >= len(t) || t[k+1].text != "(" {
		return 0, false, false
	}
	called := func(s []string) bool {
		first := k - 2*(len(s)-1)
		return first >= 0 && findName(t[first:k+1], s, 0) == k-first
	}
	for _, s := range a.r.sanitizers {
		if called(s) {
			return min(matchClose(t, k+1), len(t)), slices.ContainsFunc(a.r.mappers, called), true
		}
	}
	return 0, false, false
}

// findName finds the dotted name parts in t at or after i (the last part
// at the returned index), or -1.
func findName(t []tok, parts []string, i int) int {
	n := 2*len(parts) - 1
	for k := i; k+n <= len(t); k++ {
		ok := true
		for p, part := range parts {
			x := t[k+2*p]
			if x.kind != tIdent || x.low != part {
				ok = false
				break
			}
			if p > 0 && t[k+2*p-1].text != "." {
				ok = false
				break
			}
		}
		if ok {
			return k + n - 1
		}
	}
	return -1
}

type hit struct {
	category string
	reason   Reason
}

// conclude looks at every dangerous use and at the page as a whole.
func (a *analysis) conclude() []Detection {
	var hits []hit
	codeNamed := false // a dynamic-code use exists, input or not
	var extras []Reason
	gate := false
	// sinks whose required names the page lacks are out from the start
	active := make([]bool, len(a.r.sinks))
	for i, sk := range a.r.sinks {
		active[i] = len(sk.requires) == 0 || slices.ContainsFunc(sk.requires, func(q string) bool { return strings.Contains(a.codeLow, q) })
	}
	hasAssembly := strings.Contains(a.codeLow, "assembly")
	var decoded, drops []Reason
	for i := range a.stmts {
		s := &a.stmts[i]
		t := s.toks
		a.cur = s.method
		for si, sk := range a.r.sinks {
			if !active[si] || sk.langs != nil && !sk.langs[s.lang] {
				continue
			}
			for k := findName(t, sk.parts, 0); k >= 0; k = findName(t, sk.parts, k+1) {
				first := k - 2*(len(sk.parts)-1)
				if sk.bare && first > 0 && t[first-1].text == "." {
					continue
				}
				args, ok := a.sinkArgs(s, sk, first, k)
				if !ok {
					continue
				}
				if sk.category == "code" {
					codeNamed = true
				}
				// each argument leads where its own ends say
				var m uint8
				var from string
				for _, g := range splitArgs(args) {
					gm, gf := a.mask(g)
					if better(m, gm) {
						from = gf
					}
					m |= gm
				}
				need := tAny
				switch sk.category {
				case "filewrite", "fileread":
					need = tPath
					switch {
					case sk.upload:
						// an upload kept under the name the client gives it
						// counts where pages run, or where the client says
						need |= tWhole
						if m&tSite != 0 {
							need |= tNamed
						}
					case sk.names:
						need |= tNamed
					}
				case "sql":
					need = tRaw
				case "code":
					if m&tAny != 0 && ownTemplate(args) {
						// eval("(" + json + ")"): input inside code the
						// page wrote is an injection bug, not a shell
						continue
					}
					if m&tAny == 0 {
						if lit := literalText(args); readsRequest(lit) {
							hits = append(hits, hit{sk.category, Reason{t[k].line, fmt.Sprintf("%s runs code of the page's own that reads the request: %q", sk.name, clip(lit, 60))}})
						} else if m&tDecoded != 0 {
							decoded = append(decoded, Reason{t[k].line, fmt.Sprintf("%s runs code decoded at run time (%s)", sk.name, from)})
						}
					}
				}
				if m&need == 0 {
					if sk.category == "filewrite" && sk.drops && m&tAny != 0 && m&tSite != 0 &&
						(len(sk.modes) == 0 || slices.ContainsFunc(t, func(x tok) bool { return x.kind == tIdent && slices.Contains(sk.modes, x.low) })) {
						drops = append(drops, Reason{t[k].line, fmt.Sprintf("a file named by the client (%s) is put by %s in the folder the page runs from or the site's root", from, sk.name)})
					}
					continue
				}
				hits = append(hits, hit{sk.category, Reason{t[k].line, fmt.Sprintf("request input (%s) reaches %s", from, sk.name)}})
			}
		}
		// Godzilla's reflective Assembly.Load: GetMethod("Load").Invoke
		if idx := findName(t, []string{"getmethod"}, 0); idx >= 0 && hasString(t, "Load") && hasAssembly {
			codeNamed = true
			if m, from := a.mask(t); m&tAny != 0 {
				hits = append(hits, hit{"code", Reason{t[idx].line, fmt.Sprintf("request input (%s) reaches Assembly.Load through reflection", from)}})
			}
		}
		if a.isGate(s) {
			if !gate {
				extras = append(extras, Reason{s.line, "acts only when request input matches a fixed string (a password)"})
			}
			gate = true
		}
	}
	// an uploader that drops files beside itself behind a password
	if gate {
		for _, r := range drops {
			hits = append(hits, hit{"filewrite", r})
		}
	}
	hits = append(hits, a.scriptHosts()...)
	obf := append(a.obfuscation(), decoded...)
	decrypt := a.decryption()
	family := a.family()

	by := map[string][]Reason{}
	var order []string
	add := func(cat string, r Reason) {
		if _, ok := by[cat]; !ok {
			order = append(order, cat)
		}
		if !slices.Contains(by[cat], r) {
			by[cat] = append(by[cat], r)
		}
	}
	fileSinks := map[string]bool{}
	contents := false // a file's content read or a file written, not only listed
	for _, h := range hits {
		if h.category == "fileread" || h.category == "filewrite" {
			name := h.reason.Text[strings.LastIndex(h.reason.Text, " reaches ")+9:]
			fileSinks[name] = true
			contents = contents || !a.r.listers[strings.ToLower(name)]
		}
	}
	for _, h := range hits {
		cat := h.category
		switch cat {
		case "code":
			if len(decrypt) > 0 {
				cat = "loader"
			}
		case "fileread":
			// listing folders alone is a browser; reading one file alone a
			// download page
			if len(fileSinks) < 2 || !contents {
				continue
			}
			if _, w := by["filewrite"]; w || hasCat(hits, "filewrite") {
				cat = "filewrite"
			}
		case "http":
			if !gate && len(obf) == 0 && !a.otherUse(hits, fileSinks, contents) {
				continue
			}
		}
		add(cat, h.reason)
	}
	if codeNamed && len(obf) > 0 && len(by["code"]) == 0 && len(by["loader"]) == 0 {
		for _, r := range obf {
			add("obfuscated", r)
		}
	}
	var out []Detection
	for _, cat := range order {
		rs := by[cat]
		switch cat {
		case "loader":
			rs = append(rs, decrypt...)
		}
		if cat != "obfuscated" {
			rs = append(rs, obf...)
		}
		rs = append(rs, extras...)
		rs = append(rs, family...)
		out = append(out, Detection{Category: cat, Spec: a.r.detections[cat], Reasons: rs})
	}
	// one finding per rule: the file-manager categories share one
	merged := out[:0]
	seen := map[string]int{}
	for _, d := range out {
		if i, ok := seen[d.Rule]; ok {
			for _, r := range d.Reasons {
				if !slices.Contains(merged[i].Reasons, r) {
					merged[i].Reasons = append(merged[i].Reasons, r)
				}
			}
			continue
		}
		seen[d.Rule] = len(merged)
		merged = append(merged, d)
	}
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].Rule < merged[j].Rule })
	return merged
}

// ownTemplate: the expression is a concatenation that starts and ends with
// the page's own literals ("var x=(" + input + ");").
func ownTemplate(t []tok) bool {
	parts := splitConcat(t)
	if len(parts) < 3 {
		return false
	}
	isLit := func(p []tok) bool { return len(p) == 1 && p[0].kind == tString && p[0].text != "" }
	return isLit(parts[0]) && isLit(parts[len(parts)-1])
}

// literalText joins an expression made only of string literals and
// Chr(n) codes ("ev" & "al(request(""x""))"), or returns "".
func literalText(t []tok) string {
	var sb strings.Builder
	for _, p := range splitConcat(t) {
		switch {
		case len(p) == 1 && p[0].kind == tString:
			sb.WriteString(p[0].text)
		case len(p) == 4 && p[0].kind == tIdent && (p[0].low == "chr" || p[0].low == "chrw") && p[1].text == "(" && p[2].kind == tNumber && p[3].text == ")":
			if n := atoi(p[2].text); n > 0 && n < 128 {
				sb.WriteByte(byte(n))
			}
		default:
			return ""
		}
	}
	return sb.String()
}

// readsRequest: code text that names the request object (Request(...),
// Request.Form, Context.Request; ...), not the word in prose.
func readsRequest(code string) bool {
	low := strings.ToLower(code)
	for i := strings.Index(low, "request"); i >= 0; {
		before := i == 0 || !isIdentByte(low[i-1]) || low[i-1] == '.'
		end := i + len("request")
		if before && end < len(low) && strings.IndexByte(".([;,)", low[end]) >= 0 {
			return true
		}
		next := strings.Index(low[end:], "request")
		if next < 0 {
			break
		}
		i = end + next
	}
	return false
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// scriptHosts finds code handed to an engine inside a string (an XSLT
// msxsl:script block) that reads the request, where the page enables the
// engine's scripts.
func (a *analysis) scriptHosts() []hit {
	var out []hit
	for _, h := range a.r.scriptHosts {
		if !slices.ContainsFunc(h.enablers, func(e string) bool { return strings.Contains(a.codeLow, e) }) {
			continue
		}
		for i := range a.stmts {
			for _, x := range a.stmts[i].toks {
				if x.kind != tString {
					continue
				}
				low := strings.ToLower(x.text)
				if at := strings.Index(low, h.marker); at >= 0 && readsRequest(low[at:]) {
					out = append(out, hit{"code", Reason{x.line, fmt.Sprintf("an embedded %s block, run with scripts enabled, reads the request", h.marker)}})
					break
				}
			}
		}
	}
	return out
}

func hasCat(hs []hit, cat string) bool {
	return slices.ContainsFunc(hs, func(h hit) bool { return h.category == cat })
}

// otherUse: a dangerous use besides relaying counts on its own (a file
// read alone, a download page, does not).
func (a *analysis) otherUse(hs []hit, fileSinks map[string]bool, contents bool) bool {
	return slices.ContainsFunc(hs, func(h hit) bool {
		return h.category != "http" && (h.category != "fileread" || len(fileSinks) >= 2 && contents)
	})
}

func hasString(t []tok, v string) bool {
	return slices.ContainsFunc(t, func(x tok) bool { return x.kind == tString && x.text == v })
}

// sinkArgs returns the tokens a use of the sink takes its input from.
func (a *analysis) sinkArgs(s *cstmt, sk sink, first, last int) ([]tok, bool) {
	t := s.toks
	switch sk.kind {
	case "assign":
		if first > 0 && t[first-1].text != "." && t[first-1].text != "," && first != 0 {
			return nil, false
		}
		if last+1 >= len(t) || (t[last+1].text != "=" && t[last+1].text != "+=" && t[last+1].text != "&=") {
			return nil, false
		}
		if s.lang == VB && first <= 0 {
			return nil, false
		}
		return t[last+2 : exprEnd(t, last+2)], true
	case "new":
		if first == 0 || t[first-1].low != "new" {
			// System.Net.Sockets.TcpClient: "new" stands before the namespace
			j := first - 1
			for j >= 1 && t[j].text == "." && t[j-1].kind == tIdent {
				j -= 2
			}
			if j < 0 || t[j].low != "new" {
				return nil, false
			}
		}
	}
	if last+1 < len(t) && t[last+1].text == "(" {
		close := matchClose(t, last+1)
		args := t[last+2 : min(close, len(t))]
		if sk.arg >= 0 {
			groups := splitArgs(args)
			if sk.arg >= len(groups) {
				return nil, false
			}
			return groups[sk.arg], true
		}
		return args, true
	}
	// VBScript calls a sub without parentheses: Execute Request("x")
	if s.lang == VB && sk.kind == "call" && last+1 < len(t) {
		return t[last+1:], true
	}
	return nil, false
}

// isGate: an if comparing request input with a literal.
func (a *analysis) isGate(s *cstmt) bool {
	t := s.toks
	if len(t) < 4 || (t[0].low != "if" && t[0].low != "elseif") {
		return false
	}
	// the condition only: a literal in the statement it guards
	// (if (x != null) Session["k"] = y) is not compared
	if t[1].text == "(" && s.lang != VB {
		t = t[:min(matchClose(t, 1)+1, len(t))]
	} else if i := slices.IndexFunc(t, func(x tok) bool { return x.low == "then" }); i > 0 {
		t = t[:i]
	}
	// a literal compared stands outside any call or index: at depth 1
	// in a parenthesised condition, else at depth 0
	top := 0
	if t[1].text == "(" && matchClose(t, 1) == len(t)-1 {
		top = 1
	}
	cmp, lit := false, false
	depth := 0
	for _, x := range t {
		switch {
		case x.text == "(" || x.text == "[":
			depth++
		case x.text == ")" || x.text == "]":
			depth--
		case x.text == "==" || x.text == "!=" || x.text == "<>" || x.low == "equals" || (s.lang == VB && x.text == "="):
			cmp = true
		// a literal compared, not an index or argument: Request["p"] == "x"
		case x.kind == tString && x.text != "" && depth <= top && !a.r.sqlText.MatchString(x.text),
			x.kind == tIdent && a.consts[x.low] && depth <= top:
			lit = true
		}
	}
	if !cmp || !lit {
		return false
	}
	// a piece of the input checked (url.Substring(0, 7) != "http://",
	// Right(dir, 1) <> "\\") validates it; a password is compared whole
	for _, x := range t {
		if x.kind == tIdent && inputPieces[x.low] {
			return false
		}
	}
	m, _ := a.mask(t)
	return m&tAny != 0
}

// inputPieces take part of a string or test what it holds.
var inputPieces = map[string]bool{"substring": true, "substr": true, "left": true, "right": true, "mid": true,
	"startswith": true, "endswith": true, "indexof": true, "lastindexof": true, "instr": true, "instrrev": true,
	"contains": true, "length": true, "len": true, "getextension": true}

// obfuscation collects signs that the code hides what it does.
func (a *analysis) obfuscation() []Reason {
	var out []Reason
	chars := 0
	charLine := 0
	// strings kept in variables and joined later: q = "u"; a = q + "ns" + w
	consts := map[string][]string{}
	for i := range a.stmts {
		t := a.stmts[i].toks
		if k := slices.IndexFunc(t, func(x tok) bool { return x.text == "=" }); k > 0 && t[k-1].kind == tIdent && k+1 < len(t) {
			var parts []string
			for _, p := range splitConcat(t[k+1:]) {
				switch {
				case len(p) == 1 && p[0].kind == tString:
					parts = append(parts, p[0].text)
				case len(p) == 1 && p[0].kind == tIdent && consts[p[0].low] != nil:
					parts = append(parts, consts[p[0].low]...)
				default:
					parts = nil
				}
				if parts == nil {
					break
				}
			}
			name := t[k-1].low
			if parts == nil {
				delete(consts, name)
			} else {
				consts[name] = parts
				if len(parts) > 1 && len(splitConcat(t[k+1:])) > 1 && slices.ContainsFunc(t[k+1:], func(x tok) bool { return x.kind == tIdent }) {
					if hidden := a.hiddenIn(strings.Join(parts, ""), parts); hidden != "" {
						out = append(out, Reason{t[k].line, fmt.Sprintf("joins string variables into %q", hidden)})
					}
				}
			}
		}
		for k := 0; k < len(t); k++ {
			x := t[k]
			if x.kind == tString && len(x.text) >= a.r.blobMin {
				if kind := blobKind(x.text); kind != "" {
					out = append(out, Reason{x.line, fmt.Sprintf("a %s blob of %d characters", kind, len(x.text))})
				}
			}
			// "Sys" + "tem.Diagnostics.Process": names built from pieces
			if x.kind == tString && k+2 < len(t) && (t[k+1].text == "+" || t[k+1].text == "&") && t[k+2].kind == tString {
				parts := []string{x.text}
				j := k + 1
				for j+1 < len(t) && (t[j].text == "+" || t[j].text == "&") && t[j+1].kind == tString {
					parts = append(parts, t[j+1].text)
					j += 2
				}
				if name := a.hiddenIn(strings.Join(parts, ""), parts); name != "" {
					out = append(out, Reason{x.line, fmt.Sprintf("joins string pieces into %q", name)})
				}
				k = j - 1
				continue
			}
			// StrReverse("exe.dmc"), "lave".split("").reverse().join("")
			if x.kind == tIdent && x.low == "strreverse" && k+2 < len(t) && t[k+2].kind == tString {
				if name := a.hiddenIn(reverse(t[k+2].text), nil); name != "" {
					out = append(out, Reason{x.line, fmt.Sprintf("reverses a string into %q", name)})
				}
			}
			if x.kind == tString && k+4 < len(t) && t[k+1].text == "." && t[k+2].low == "split" {
				for j := k + 3; j < len(t) && j < k+12; j++ {
					if t[j].low == "reverse" {
						if name := a.hiddenIn(reverse(x.text), nil); name != "" {
							out = append(out, Reason{x.line, fmt.Sprintf("reverses a string into %q", name)})
						}
						break
					}
				}
			}
			// characters from numbers: (char)(x ^ k), Chr(99), fromCharCode
			if x.kind == tIdent && k+1 < len(t) && t[k+1].text == "(" && (x.low == "chr" || x.low == "chrw" || x.low == "fromcharcode") {
				chars++
				charLine = cmp(charLine, x.line)
			}
			if x.text == "(" && k+3 < len(t) && t[k+1].low == "char" && t[k+2].text == ")" && (t[k+3].text == "(" || t[k+3].kind == tNumber) {
				chars++
				charLine = cmp(charLine, x.line)
			}
		}
	}
	if chars >= 6 {
		out = append(out, Reason{charLine, fmt.Sprintf("builds %d characters from numbers", chars)})
	}
	if s := a.charString(); s != "" {
		out = append(out, Reason{0, fmt.Sprintf("spells %q with character codes", s)})
	}
	return out
}

func cmp(cur, line int) int {
	if cur == 0 {
		return line
	}
	return cur
}

// charString evaluates runs of Chr(n) & Chr(n) and (char)n + (char)n and
// reports a hidden name they spell.
func (a *analysis) charString() string {
	for i := range a.stmts {
		t := a.stmts[i].toks
		var sb strings.Builder
		for k := 0; k < len(t); k++ {
			x := t[k]
			n := -1
			if x.kind == tIdent && (x.low == "chr" || x.low == "chrw") && k+3 < len(t) && t[k+1].text == "(" && t[k+2].kind == tNumber && t[k+3].text == ")" {
				n = atoi(t[k+2].text)
				k += 3
			} else if x.text == "(" && k+3 < len(t) && t[k+1].low == "char" && t[k+2].text == ")" && t[k+3].kind == tNumber {
				n = atoi(t[k+3].text)
				k += 3
			}
			if n > 0 && n < 128 {
				sb.WriteByte(byte(n))
				continue
			}
			if x.text == "+" || x.text == "&" {
				continue
			}
			if name := a.hiddenIn(sb.String(), nil); name != "" && sb.Len() >= 3 {
				return name
			}
			sb.Reset()
		}
		if name := a.hiddenIn(sb.String(), nil); name != "" && sb.Len() >= 3 {
			return name
		}
	}
	return ""
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<20 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// hiddenIn returns the longest hidden name found in s but in none of its
// parts alone.
func (a *analysis) hiddenIn(s string, parts []string) string {
	low := strings.ToLower(s)
	best := ""
	for _, h := range a.r.hidden {
		if len(h) < 3 || !strings.Contains(low, h) || len(h) <= len(best) {
			continue
		}
		whole := false
		for _, p := range parts {
			if strings.Contains(strings.ToLower(p), h) {
				whole = true
				break
			}
		}
		if !whole {
			best = h
		}
	}
	return best
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// blobKind tells a long literal of base64 or hex.
func blobKind(s string) string {
	hex, b64 := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		isHex := c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		isB64 := isHex || c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
		if c == '\r' || c == '\n' {
			continue
		}
		hex = hex && isHex
		b64 = b64 && isB64
		if !b64 {
			return ""
		}
	}
	if hex {
		return "hex"
	}
	clean := strings.NewReplacer("\r", "", "\n", "").Replace(s)
	if d, err := base64.StdEncoding.DecodeString(clean[:len(clean)/4*4]); err == nil && len(d) > 2 && d[0] == 'M' && d[1] == 'Z' {
		return "base64 Windows executable"
	}
	return "base64"
}

// decryption: the page decrypts (AES, Rijndael, DES, RC4) or XORs a buffer
// byte by byte.
func (a *analysis) decryption() []Reason {
	var out []Reason
	for i := range a.stmts {
		t := a.stmts[i].toks
		for _, d := range a.r.decryptors {
			if k := findName(t, d, 0); k >= 0 {
				out = append(out, Reason{t[k].line, "decrypts data with " + strings.Join(d, ".")})
				break
			}
		}
		for k := 1; k+1 < len(t); k++ {
			// buf[i] ^= key[...] or buf[i] = (byte)(buf[i] ^ key[...])
			if (t[k].text == "^=" || t[k].text == "^") && t[k-1].text == "]" {
				out = append(out, Reason{t[k].line, "XORs a buffer byte by byte"})
				break
			}
			// VBScript: Chr(AscB(MidB(data, i, 1)) Xor Asc(Mid(key, ...)))
			if t[k].low == "xor" && a.stmts[i].lang == VB && slices.ContainsFunc(t, func(x tok) bool { return x.low == "ascb" || x.low == "midb" }) {
				out = append(out, Reason{t[k].line, "XORs the data byte by byte"})
				break
			}
		}
		if len(out) >= 3 {
			break
		}
	}
	return out
}

// family names well-known shells where their marks are present.
func (a *analysis) family() []Reason {
	c := a.codeLow
	var out []Reason
	switch {
	case strings.Contains(c, "eval") && strings.Contains(c, "unsafe"):
		out = append(out, Reason{0, `China Chopper's eval(..., "unsafe")`})
	}
	if strings.Contains(c, "createinstance(\"u\")") || strings.Contains(c, "equals(this)") && strings.Contains(c, "binaryread") {
		out = append(out, Reason{0, "Behinder's payload call: CreateInstance(\"U\").Equals(this)"})
	}
	if strings.Contains(c, `session["payload"]`) || strings.Contains(c, "context.session[") && strings.Contains(c, "createinstance") {
		out = append(out, Reason{0, "Godzilla's payload kept in the session"})
	}
	if strings.Contains(c, "x-cmd") || strings.Contains(c, "x-status") && strings.Contains(c, "socket") {
		out = append(out, Reason{0, "reGeorg's X-CMD/X-STATUS tunnel protocol"})
	}
	if strings.Contains(c, "runspacefactory") || strings.Contains(c, "addscript") {
		out = append(out, Reason{0, "runs PowerShell in the page (Antak-style)"})
	}
	return out
}
