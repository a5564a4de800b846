package detect

// The Sigma dialect (Env.Dialect Sigma): field conditions with the modifiers of the
// Sigma specification v2, applied left to right as pySigma, the reference
// implementation, applies them.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// pcreOnly reports whether a regular expression failed to compile only for
// a PCRE feature RE2 lacks (look-around, atomic groups, back references,
// possessive quantifiers, escapes such as \h or \Z), rather than for an
// error in the expression.
func pcreOnly(err error) bool {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case syntax.ErrInvalidPerlOp:
		return true
	case syntax.ErrInvalidNamedCapture: // (?<= and (?<! read as a group name
		return strings.HasPrefix(se.Expr, "(?<=") || strings.HasPrefix(se.Expr, "(?<!")
	case syntax.ErrInvalidEscape:
		c := strings.TrimPrefix(se.Expr, `\`)
		return c != "" && (c[0] >= '0' && c[0] <= '9' || c[0] >= 'a' && c[0] <= 'z' || c[0] >= 'A' && c[0] <= 'Z')
	case syntax.ErrInvalidRepeatOp:
		return strings.HasSuffix(se.Expr, "+") // a possessive quantifier
	}
	return false
}

// SigmaModifiers lists the Sigma value modifiers the engine implements.
var SigmaModifiers = []string{
	"all", "base64", "base64offset", "cased", "cidr", "contains", "dotall", "endswith",
	"exists", "expand", "fieldref", "gt", "gte", "i", "ignorecase", "lt", "lte", "m",
	"multiline", "neq", "re", "s", "startswith", "utf16", "utf16be", "utf16le", "wide", "windash",
}

// sigmaTimeModifiers are in the specification but read parts of timestamps,
// whose formats differ by source; rules using them are reported unsupported.
var sigmaTimeModifiers = []string{"minute", "hour", "day", "week", "month", "year"}

// maxAlternatives bounds the values one Sigma value expands to (windash
// before an encoding, placeholders with many values).
const maxAlternatives = 4096

// sigmaCond compiles one "field|modifiers: values" entry. An empty field
// with modifiers ('|all': [...]) is a keyword search.
func (c *compiler) sigmaCond(field string, mods []string, raw []*yaml.Node) (fieldCond, error) {
	fc := fieldCond{field: strings.ToLower(field)}
	for i, m := range mods {
		switch {
		case slices.Contains(sigmaTimeModifiers, m):
			return fc, fmt.Errorf("%w: time modifier %q", ErrUnsupported, m)
		case !slices.Contains(SigmaModifiers, m):
			return fc, fmt.Errorf("modifier %q is not a Sigma modifier", m)
		}
		mods[i] = canonicalModifier(m)
	}
	fc.all = slices.Contains(mods, "all")
	fc.negate = slices.Contains(mods, "neq")
	if slices.Contains(mods, "exists") {
		if fc.field == "" {
			return fc, errors.New("exists needs a field")
		}
		if len(raw) != 1 || raw[0].Kind != yaml.ScalarNode {
			return fc, errors.New("exists takes true or false")
		}
		b, err := strconv.ParseBool(raw[0].Value)
		if err != nil {
			return fc, errors.New("exists takes true or false")
		}
		// Sigma's exists asks only whether the field is there, empty or not.
		fc.exists, fc.presence = -1, true
		if b {
			fc.exists = 1
		}
		return fc, nil
	}
	if fc.field == "" && slices.Contains(mods, "fieldref") {
		return fc, errors.New("fieldref needs a field")
	}
	fc.refs = slices.Contains(mods, "fieldref")
	for _, v := range raw {
		v = resolveAlias(v)
		if v.Kind != yaml.ScalarNode {
			return fc, fmt.Errorf("line %d: values must be scalars", v.Line)
		}
		if v.Tag == "!!null" {
			// null: the field is absent or empty.
			fc.values = append(fc.values, emptyMatcher{})
			continue
		}
		m, err := c.sigmaValue(v, mods, fc.field == "")
		if err != nil {
			return fc, err
		}
		fc.values = append(fc.values, m)
	}
	return fc, nil
}

func canonicalModifier(m string) string {
	switch m {
	case "wide":
		return "utf16le"
	case "ignorecase":
		return "i"
	case "multiline":
		return "m"
	case "dotall":
		return "s"
	}
	return m
}

// sigmaValue compiles one value of a field condition or a keyword.
func (c *compiler) sigmaValue(v *yaml.Node, mods []string, keyword bool) (valueMatcher, error) {
	if err := c.spend(1); err != nil {
		return nil, err
	}
	has := func(m string) bool { return slices.Contains(mods, m) }
	// only checks that the modifiers besides main are among the others.
	only := func(main string, others ...string) error {
		for _, m := range mods {
			if m != main && !slices.Contains(others, m) {
				return fmt.Errorf("modifier %q cannot be combined with %s", m, main)
			}
		}
		return nil
	}
	s := v.Value
	if !has("re") && (has("i") || has("m") || has("s")) {
		return nil, errors.New("modifiers i, m and s need re")
	}
	switch {
	case has("re"):
		if has("expand") {
			return nil, fmt.Errorf("%w: expand in a regular expression", ErrUnsupported)
		}
		if err := only("re", "i", "m", "s", "all", "neq", "cased", "contains", "startswith", "endswith"); err != nil {
			return nil, err
		}
		// contains/startswith/endswith widen an anchored expression; ours
		// are searched for anywhere already, so they change nothing.
		re, err := Regexp(withReFlags(s, has))
		if err != nil {
			if pcreOnly(err) {
				// Sigma allows PCRE; Go's RE2 lacks look-around and back references.
				return nil, fmt.Errorf("%w: regular expression %q: %v", ErrUnsupported, clipText(s), err)
			}
			return nil, fmt.Errorf("regular expression %q: %w", clipText(s), err)
		}
		return newReMatcher(re), nil
	case has("cidr"):
		if err := only("cidr", "all", "neq"); err != nil {
			return nil, err
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("cidr: %w", err)
		}
		return cidrMatcher{p.Masked()}, nil
	case has("fieldref"):
		if err := only("fieldref", "contains", "startswith", "endswith", "cased", "all", "neq"); err != nil {
			return nil, err
		}
		if strings.ContainsAny(s, "*?") {
			return nil, errors.New("fieldref: a field name cannot hold wildcards")
		}
		m := fieldRefMatcher{ref: s, cased: has("cased")}
		m.prefix = has("startswith") || has("contains")
		m.suffix = has("endswith") || has("contains")
		return m, nil
	}
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		if has(op) {
			if err := only(op, "all", "neq"); err != nil {
				return nil, err
			}
			n, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", op, s)
			}
			return numMatcher{op, n}, nil
		}
	}

	var alts []sigmaString
	if has("expand") {
		vals, err := expandPlaceholders(s, c.env)
		if err != nil {
			return nil, err
		}
		for _, x := range vals {
			alts = append(alts, parseSigmaString(x))
		}
	} else {
		alts = []sigmaString{parseSigmaString(s)}
	}
	encoded := false
	for _, m := range mods {
		var err error
		switch m {
		case "contains":
			alts = mapAlts(alts, func(x sigmaString) sigmaString { return x.wrap(true, true) })
		case "startswith":
			alts = mapAlts(alts, func(x sigmaString) sigmaString { return x.wrap(false, true) })
		case "endswith":
			alts = mapAlts(alts, func(x sigmaString) sigmaString { return x.wrap(true, false) })
		case "windash":
			alts = mapAlts(alts, sigmaString.windash)
			// A few written-out forms match as globs, much faster than
			// the regular expression a dash class needs.
			if ex, err := expandDashes(alts); err == nil && len(ex) <= 32 {
				alts = ex
			}
		case "utf16le", "utf16be", "utf16":
			if alts, err = expandDashes(alts); err != nil {
				return nil, err
			}
			alts = mapAlts(alts, func(x sigmaString) sigmaString { return x.utf16(m) })
			encoded = true
		case "base64", "base64offset":
			if alts, err = expandDashes(alts); err != nil {
				return nil, err
			}
			var out []sigmaString
			for _, x := range alts {
				lit, ok := x.literal()
				if !ok {
					return nil, fmt.Errorf("%s: a value with wildcards cannot be encoded", m)
				}
				if m == "base64" {
					out = append(out, sigmaString{{kind: partLit, lit: base64.StdEncoding.EncodeToString([]byte(lit))}})
					continue
				}
				for _, e := range Base64Offsets(lit) {
					out = append(out, sigmaString{{kind: partLit, lit: e}})
				}
			}
			alts = out
			encoded = true
		}
	}
	if keyword && !has("contains") && !has("startswith") && !has("endswith") {
		// A keyword is found anywhere in a value.
		alts = mapAlts(alts, func(x sigmaString) sigmaString { return x.wrap(true, true) })
	}
	cased := has("cased")
	ms := make(anyMatcher, 0, len(alts)+1)
	for _, x := range alts {
		ms = append(ms, x.matcher(cased))
	}
	if v.Tag == "!!int" && !keyword && !encoded && len(alts) == 1 && !has("contains") && !has("startswith") && !has("endswith") && !has("windash") {
		// A number in a rule equals the same number written otherwise in
		// the event (EventID 4688 and "4688", ProcessId 4660 and "0x1234").
		if n, err := strconv.ParseInt(s, 0, 64); err == nil {
			ms = append(ms, intMatcher(n))
		}
	}
	if err := c.spend(len(ms) - 1); err != nil {
		return nil, err
	}
	if len(ms) == 1 {
		return ms[0], nil
	}
	return ms, nil
}

func mapAlts(alts []sigmaString, f func(sigmaString) sigmaString) []sigmaString {
	out := make([]sigmaString, len(alts))
	for i, x := range alts {
		out[i] = f(x)
	}
	return out
}

// expandPlaceholders replaces each %name% with every configured value of
// name (all combinations); the values may hold wildcards. \% is a plain
// percent sign. A placeholder without values is unsupported: the rule's
// author meant a site-specific list, which matching the bare text would
// silently never find.
func expandPlaceholders(s string, env *Env) ([]string, error) {
	out := []string{""}
	appendAll := func(text string) {
		for i := range out {
			out[i] += text
		}
	}
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '%':
			appendAll("%")
			i += 2
			continue
		case s[i] == '\\' && i+1 < len(s):
			appendAll(s[i : i+2]) // keep other escapes for the wildcard parser
			i += 2
			continue
		case s[i] != '%':
			appendAll(s[i : i+1])
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '%')
		name := ""
		if j > 0 {
			name = s[i+1 : i+1+j]
		}
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isWordRune(r) && r != '-' && r != '.' }) >= 0 {
			appendAll("%")
			i++
			continue
		}
		var vals []string
		if env != nil {
			vals = env.Placeholders[name]
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("%w: placeholder %%%s%% has no values configured", ErrUnsupported, name)
		}
		if len(out)*len(vals) > maxAlternatives {
			return nil, fmt.Errorf("placeholders expand to more than %d values", maxAlternatives)
		}
		next := make([]string, 0, len(out)*len(vals))
		for _, o := range out {
			for _, v := range vals {
				next = append(next, o+v)
			}
		}
		out = next
		i += j + 2
	}
	return out, nil
}

// Base64Offsets returns the three base64 forms of s, one for each position
// of s modulo 3 in the encoded data, cut to the characters that do not
// depend on the bytes around s (the base64offset modifier).
func Base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, 3, 2} // characters cut from the end; 0 = none
	out := make([]string, 3)
	for i := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		lo, hi := start[i], len(enc)-end[(len(s)+i)%3]
		if lo > hi {
			lo = hi
		}
		out[i] = enc[lo:hi]
	}
	return out
}

// sigmaString is a parsed Sigma value: literal runs and wildcards kept
// apart, so encoding modifiers transform only the literal text.
type sigmaString []sigmaPart

type partKind uint8

const (
	partLit  partKind = iota
	partStar          // '*': any run of characters
	partOne           // '?': one character
	partDash          // a windash position: - / – — ―
)

type sigmaPart struct {
	kind partKind
	lit  string
}

// parseSigmaString reads wildcards and escapes: \* \? and \\ stand for the
// character itself, a backslash before anything else is literal.
func parseSigmaString(v string) sigmaString {
	var s sigmaString
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			s = append(s, sigmaPart{kind: partLit, lit: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v) && (v[i+1] == '*' || v[i+1] == '?' || v[i+1] == '\\'):
			cur.WriteByte(v[i+1])
			i++
		case c == '*':
			flush()
			s = append(s, sigmaPart{kind: partStar})
		case c == '?':
			flush()
			s = append(s, sigmaPart{kind: partOne})
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return s
}

// wrap adds a leading and/or trailing '*' unless one is there.
func (s sigmaString) wrap(left, right bool) sigmaString {
	out := slices.Clone(s)
	if left && (len(out) == 0 || out[0].kind != partStar) {
		out = append(sigmaString{{kind: partStar}}, out...)
	}
	if right && (len(out) == 0 || out[len(out)-1].kind != partStar) {
		out = append(out, sigmaPart{kind: partStar})
	}
	return out
}

// literal returns the text of a value without wildcards.
func (s sigmaString) literal() (string, bool) {
	var b strings.Builder
	for _, p := range s {
		if p.kind != partLit {
			return "", false
		}
		b.WriteString(p.lit)
	}
	return b.String(), true
}

// windash marks the '-' and '/' that start a command-line flag: after a
// non-word character (or the start of a literal run) and before a word
// character, as pySigma's \B[-/]\b. Each then matches any of - / – — ―.
func (s sigmaString) windash() sigmaString {
	var out sigmaString
	for _, p := range s {
		if p.kind != partLit || !utf8.ValidString(p.lit) {
			out = append(out, p)
			continue
		}
		rs := []rune(p.lit)
		start := 0
		for j, r := range rs {
			if r != '-' && r != '/' {
				continue
			}
			if (j > 0 && isWordRune(rs[j-1])) || j+1 >= len(rs) || !isWordRune(rs[j+1]) {
				continue
			}
			if j > start {
				out = append(out, sigmaPart{kind: partLit, lit: string(rs[start:j])})
			}
			out = append(out, sigmaPart{kind: partDash})
			start = j + 1
		}
		if start < len(rs) {
			out = append(out, sigmaPart{kind: partLit, lit: string(rs[start:])})
		}
	}
	return out
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// expandDashes writes out every windash combination, for the encodings that
// need plain text.
func expandDashes(alts []sigmaString) ([]sigmaString, error) {
	var out []sigmaString
	for _, x := range alts {
		vars := []sigmaString{nil}
		for _, p := range x {
			if p.kind != partDash {
				for i := range vars {
					vars[i] = append(vars[i], p)
				}
				continue
			}
			if len(vars)*len(windashChars)+len(out) > maxAlternatives {
				return nil, fmt.Errorf("windash expands to more than %d values", maxAlternatives)
			}
			var next []sigmaString
			for _, v := range vars {
				for _, c := range windashChars {
					next = append(next, append(slices.Clip(v), sigmaPart{kind: partLit, lit: c}))
				}
			}
			vars = next
		}
		out = append(out, vars...)
	}
	return out, nil
}

// utf16 encodes the literal runs: utf16le, utf16be, or utf16 (little
// endian after a byte order mark).
func (s sigmaString) utf16(form string) sigmaString {
	var out sigmaString
	if form == "utf16" {
		out = append(out, sigmaPart{kind: partLit, lit: "\xff\xfe"})
	}
	for _, p := range s {
		if p.kind != partLit {
			out = append(out, p)
			continue
		}
		units := utf16.Encode([]rune(p.lit))
		b := make([]byte, 0, 2*len(units))
		for _, u := range units {
			if form == "utf16be" {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		out = append(out, sigmaPart{kind: partLit, lit: string(b)})
	}
	return out
}

// matcher builds the fastest matcher for the value: a glob, or a regular
// expression when windash positions need a character class or '?' must
// match one character rather than one byte.
func (s sigmaString) matcher(cased bool) valueMatcher {
	text := true
	for _, p := range s {
		text = text && (p.kind != partLit || utf8.ValidString(p.lit))
	}
	if !text {
		// Encoded bytes that are not text can neither be folded nor be
		// part of a regular expression: compare them as they are.
		cased = true
	}
	if !text || !slices.ContainsFunc(s, func(p sigmaPart) bool { return p.kind == partDash || p.kind == partOne }) {
		var g strings.Builder
		for _, p := range s {
			switch p.kind {
			case partStar:
				g.WriteByte('*')
			case partOne, partDash: // partDash: only in text
				g.WriteByte('?')
			default:
				for i := 0; i < len(p.lit); i++ {
					if c := p.lit[i]; c == '*' || c == '?' || c == '\\' {
						g.WriteByte('\\')
					}
					g.WriteByte(p.lit[i])
				}
			}
		}
		return newGlob(g.String(), cased)
	}
	var re strings.Builder
	re.WriteString("(?s")
	if !cased {
		re.WriteString("i")
	}
	re.WriteString(")^")
	for _, p := range s {
		switch p.kind {
		case partStar:
			re.WriteString(".*")
		case partOne:
			re.WriteString(".")
		case partDash:
			re.WriteString("[-/\u2013\u2014\u2015]")
		default:
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	re.WriteString("$")
	m := newReMatcher(regexp.MustCompile(re.String()))
	// the longest literal part still makes a prefilter
	best := ""
	for _, p := range s {
		if p.kind == partLit && len(p.lit) > len(best) {
			best = p.lit
		}
	}
	if !cased && len(best) >= minLiteral {
		return reLit{m, strings.ToLower(best)}
	}
	return m
}

// reLit is a regular expression that only matches values holding lit.
type reLit struct {
	reMatcher
	lit string
}

// anyMatcher holds the forms one value expands to (base64offset, windash,
// placeholders): any of them matching is a match, even under "all".
type anyMatcher []valueMatcher

func (m anyMatcher) match(v string) bool {
	for _, x := range m {
		if x.match(v) {
			return true
		}
	}
	return false
}

// intMatcher matches a field holding the number, in decimal or 0x hex.
type intMatcher int64

func (m intMatcher) match(v string) bool {
	v = strings.TrimSpace(v)
	var n int64
	var err error
	if len(v) > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') {
		var u uint64
		u, err = strconv.ParseUint(v[2:], 16, 64)
		n = int64(u)
	} else {
		n, err = strconv.ParseInt(v, 10, 64)
	}
	return err == nil && n == int64(m)
}

// refMatcher is a matcher that compares with the record's other fields.
type refMatcher interface {
	matchRef(v string, ev *evaluator) bool
}

// fieldRefMatcher is Sigma's fieldref: the field equals (starts with, ends
// with, contains) the value of the field named ref.
type fieldRefMatcher struct {
	ref            string
	prefix, suffix bool // contains sets both
	cased          bool
}

func (fieldRefMatcher) match(string) bool { return false }

func (m fieldRefMatcher) matchRef(v string, ev *evaluator) bool {
	o, ok := ev.rec.Field(m.ref)
	if !ok || ev.m != nil && !ev.m.charge(1+2*int64(len(o))) {
		return false
	}
	if !m.cased {
		v, o = strings.ToLower(v), strings.ToLower(o)
	}
	switch {
	case m.prefix && m.suffix:
		return strings.Contains(v, o)
	case m.prefix:
		return strings.HasPrefix(v, o)
	case m.suffix:
		return strings.HasSuffix(v, o)
	}
	return v == o
}

// clipText shortens a rule's value quoted in an error message.
func clipText(s string) string {
	if len(s) > 80 {
		return strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}
