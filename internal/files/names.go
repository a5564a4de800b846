package files

import (
	"bufio"
	"bytes"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
)

// nameIOC is one line of signature-base's filename-iocs.txt: a regular
// expression searched in the file's full Windows path, its score, an
// optional expression that marks a false positive, and the comment above
// it (which says where the indicator comes from).
type nameIOC struct {
	re      *regexp.Regexp
	fp      *regexp.Regexp
	score   int
	line    int
	comment string
	// also are the expression's other required literals (lower-case):
	// a path must hold one of each set before the expression is run
	also [][]string
}

// nameIOCs finds the expressions a path matches without running thousands
// of them: every expression has sets of literals, one of each any match
// contains (at least three bytes, see requiredLiterals); the literals of
// its most selective set are indexed by their first three bytes,
// lower-cased, and only expressions with such a literal in the path, and
// one of each of their other sets, are run. (A literal.Matcher over these
// thousands of literals builds a DFA table many times this index's size,
// which pushed the hunt past its memory bounds.)
type nameIOCs struct {
	iocs []nameIOC
	lits []nameLit
	tri  map[uint32][]int32 // trigram -> indices in lits
	// always are expressions without usable literals, run on every path.
	always []int32
}

type nameLit struct {
	s   string // lower-case
	ioc int32
}

// parseNameIOCs reads filename-iocs.txt ("REGEX;SCORE[;FALSE_POSITIVE_REGEX]",
// '#' comments). Lines that do not parse are returned as problems.
func parseNameIOCs(file string, data []byte) (*nameIOCs, []Problem) {
	n := &nameIOCs{tri: map[uint32][]int32{}}
	var probs []Problem
	comment := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "#"):
			if c := strings.TrimSpace(strings.TrimLeft(l, "#")); c != "" {
				comment = c
			}
			continue
		}
		parts := strings.Split(l, ";")
		bad := func(reason string) {
			probs = append(probs, Problem{File: file, Line: line, Reason: reason, Skipped: true})
		}
		if len(parts) < 2 {
			bad("want REGEX;SCORE")
			continue
		}
		score, err := strconv.Atoi(strings.TrimSpace(parts[1]))
		if err != nil {
			bad("score is not a number")
			continue
		}
		re, err := regexp.Compile(parts[0])
		if err != nil {
			bad("regular expression: " + err.Error())
			continue
		}
		ioc := nameIOC{re: re, score: score, line: line, comment: comment}
		if len(parts) > 2 && parts[2] != "" {
			if ioc.fp, err = regexp.Compile(parts[2]); err != nil {
				bad("false-positive expression: " + err.Error())
				continue
			}
		}
		idx := int32(len(n.iocs))
		sets := requiredLiterals(parts[0])
		if len(sets) > 1 {
			ioc.also = sets[1:]
		}
		n.iocs = append(n.iocs, ioc)
		if sets == nil {
			n.always = append(n.always, idx)
			continue
		}
		lits := sets[0]
		for _, s := range lits {
			li := int32(len(n.lits))
			n.lits = append(n.lits, nameLit{s: s, ioc: idx})
			k := trigram(s)
			n.tri[k] = append(n.tri[k], li)
		}
	}
	if err := sc.Err(); err != nil {
		probs = append(probs, Problem{File: file, Line: line, Reason: err.Error()})
	}
	return n, probs
}

func trigram(s string) uint32 { return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) }

// requiredLiterals returns sets of lower-cased strings of at least three
// bytes: every match of expr contains one string of each set. The first
// set is the most selective (the one whose shortest string is longest); nil
// when there is no set. Case is folded so that the index serves (?i)
// expressions too.
func requiredLiterals(expr string) [][]string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	sets := literalsOf(re.Simplify())
	best := -1
	for i, l := range sets {
		if best < 0 || shortest(l) > shortest(sets[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	sets[0], sets[best] = sets[best], sets[0]
	return sets
}

func shortest(l []string) int {
	n := len(l[0])
	for _, x := range l {
		n = min(n, len(x))
	}
	return n
}

// literalsOf returns the sets of strings of at least three bytes a match
// of re must hold one of each.
func literalsOf(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if l := strings.ToLower(string(re.Rune)); len(l) >= 3 {
			return [][]string{{l}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return literalsOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalsOf(re.Sub[0])
		}
	case syntax.OpConcat:
		// every part is in a match: each one's sets hold
		var out [][]string
		for _, s := range re.Sub {
			out = append(out, literalsOf(s)...)
		}
		return out
	case syntax.OpAlternate:
		// one branch is: the union of one set of each
		var out []string
		for _, s := range re.Sub {
			l := literalsOf(s)
			if l == nil {
				return nil
			}
			best := l[0]
			for _, x := range l[1:] {
				if shortest(x) > shortest(best) {
					best = x
				}
			}
			out = append(out, best...)
		}
		return [][]string{out}
	}
	return nil
}

// nameMatcher is per-goroutine state for nameIOCs.match.
type nameMatcher struct {
	seen []uint32 // per ioc: the generation that last queued it
	gen  uint32
	cand []int32
}

// match returns the indices of the expressions that match winPath and
// whose false-positive expression does not, in file order.
func (n *nameIOCs) match(m *nameMatcher, winPath string) []int32 {
	if len(m.seen) != len(n.iocs) {
		m.seen = make([]uint32, len(n.iocs))
	}
	m.gen++
	if m.gen == 0 {
		clear(m.seen)
		m.gen = 1
	}
	m.cand = append(m.cand[:0], n.always...)
	low := strings.ToLower(winPath)
	for i := 0; i+3 <= len(low); i++ {
		for _, li := range n.tri[trigram(low[i:])] {
			l := n.lits[li]
			if m.seen[l.ioc] == m.gen || !strings.HasPrefix(low[i:], l.s) {
				continue
			}
			m.seen[l.ioc] = m.gen
			m.cand = append(m.cand, l.ioc)
		}
	}
	var out []int32
next:
	for _, i := range m.cand {
		ioc := &n.iocs[i]
		for _, set := range ioc.also {
			if !slices.ContainsFunc(set, func(l string) bool { return strings.Contains(low, l) }) {
				continue next
			}
		}
		if ioc.re.MatchString(winPath) && (ioc.fp == nil || !ioc.fp.MatchString(winPath)) {
			out = append(out, i)
		}
	}
	sortInt32(out)
	return out
}

func sortInt32(s []int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
