package catalog

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/exhunt/exhunt/rules"
)

// Checked is one rule set validated: the built-in rules with the rule
// files given, or a rules tree given (a folder laid out as the embedded
// rules, such as the repository's rules/), read as the hunt reads the
// embedded one.
type Checked struct {
	// Source is "built-in rules" or the tree's path.
	Source  string
	Catalog *Catalog
	// Skipped are the rules the hunt skips, each with why; a rule of the
	// shipped set or a tree may be skipped, one given never is.
	Skipped []Skip
}

// Skip is a rule the hunt skips.
type Skip struct {
	File   string
	Line   int
	Rule   string
	Reason string
	Given  bool // a rule the user gave (a Sigma rule unsupported)
}

func (s Skip) String() string {
	var b strings.Builder
	b.WriteString(s.File)
	if s.Line > 0 {
		fmt.Fprintf(&b, ":%d", s.Line)
	}
	if s.Given {
		b.WriteString(" (given)")
	}
	b.WriteString(": ")
	if s.Rule != "" {
		fmt.Fprintf(&b, "rule %s: ", s.Rule)
	}
	b.WriteString(s.Reason)
	return b.String()
}

// Validate loads the built-in rules and the rule files and folders given,
// each with the compiler the hunt uses: exhunt rules (.yaml), Sigma rules
// (.yml, or .yaml with a logsource) and YARA rules (.yar, .yara); folders
// are searched for all three. A folder laid out as the embedded rules is
// a rules tree and is loaded as the hunt loads the embedded one. A given
// rule that does not load fails the validation with its file, line and
// reason; rules of the shipped set or of a tree that the hunt skips for a
// stated reason are listed as skipped, as are given Sigma rules that need
// a feature exhunt lacks.
func Validate(paths []string) ([]Checked, error) {
	var own, sig, yar, trees []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		if !st.IsDir() {
			switch kindOfRuleFile(p) {
			case "yara":
				yar = append(yar, p)
			case "sigma":
				sig = append(sig, p)
			default:
				own = append(own, p)
			}
			continue
		}
		if isTree(p) {
			trees = appendNew(trees, p)
			continue
		}
		// A folder of a tree (rules/yara, rules/aspx) holds the tree's
		// data files beside its rules (stages.yaml, aspx.yaml): it is
		// checked as its tree loads it.
		if t, ok := treeOf(p); ok {
			trees = appendNew(trees, t)
			continue
		}
		own = append(own, p) // Load takes the folder's .yaml rules
		hasSigma, hasYara := false, false
		filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				switch kindOfRuleFile(f) {
				case "yara":
					hasYara = true
				case "sigma":
					hasSigma = true
				}
			}
			return nil
		})
		if hasYara {
			yar = append(yar, p)
		}
		if hasSigma {
			sig = append(sig, p)
		}
	}
	cat, err := Load(own...)
	if err != nil {
		return nil, fmt.Errorf("rules are not valid:\n%w", err)
	}
	shippedSigma := len(cat.Sigma.Skipped)
	if err := cat.LoadSigma(sig...); err != nil {
		return nil, fmt.Errorf("rules are not valid:\n%w", err)
	}
	if err := cat.LoadYara(yar...); err != nil {
		return nil, fmt.Errorf("rules are not valid:\n%w", err)
	}
	// a YARA rule the user gave that does not compile stops here, as it
	// would otherwise be missing from the hunt without anyone noticing
	var bad []string
	for _, p := range cat.Files.Problems() {
		if isUnder(p.File, yar) {
			bad = append(bad, "  "+p.String())
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("rules are not valid:\n%s", strings.Join(bad, "\n"))
	}
	out := []Checked{{Source: "built-in rules", Catalog: cat, Skipped: skips(cat, shippedSigma)}}
	for _, t := range trees {
		tc, err := loadFS(os.DirFS(t), filepath.ToSlash(filepath.Clean(t))+"/")
		if err != nil {
			return nil, fmt.Errorf("rules in %s are not valid:\n%w", t, err)
		}
		out = append(out, Checked{Source: t, Catalog: tc, Skipped: skips(tc, len(tc.Sigma.Skipped))})
	}
	return out, nil
}

// skips lists the Sigma and YARA rules of c that the hunt skips; the
// Sigma rules from the shipped-th on were given.
func skips(c *Catalog, shipped int) []Skip {
	var out []Skip
	for i, s := range c.Sigma.Skipped {
		out = append(out, Skip{File: s.Path, Line: s.Line, Reason: s.Reason, Given: i >= shipped})
	}
	for _, p := range c.Files.Problems() {
		out = append(out, Skip{File: p.File, Line: p.Line, Rule: p.Rule, Reason: p.Reason})
	}
	return out
}

// isTree reports whether dir is laid out as the embedded rules: it holds
// each of their top-level folders.
func isTree(dir string) bool {
	top, err := fs.ReadDir(rules.FS, ".")
	if err != nil {
		return false
	}
	n := 0
	for _, e := range top {
		if !e.IsDir() {
			continue
		}
		n++
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err != nil || !st.IsDir() {
			return false
		}
	}
	return n > 0
}

// treeOf returns the rules tree dir belongs to: the nearest folder above
// it laid out as the embedded rules.
func treeOf(dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for d := filepath.Dir(abs); d != filepath.Dir(d); d = filepath.Dir(d) {
		if isTree(d) {
			// named as the user would name it from here
			if wd, err := os.Getwd(); err == nil {
				if rel, err := filepath.Rel(wd, d); err == nil {
					return rel, true
				}
			}
			return d, true
		}
	}
	return "", false
}

func appendNew(xs []string, x string) []string {
	ax, _ := filepath.Abs(x)
	for _, y := range xs {
		if ay, _ := filepath.Abs(y); ay == ax {
			return xs
		}
	}
	return append(xs, x)
}

// kindOfRuleFile tells a rule file's language from its name and, for
// .yaml, whether it has a Sigma logsource.
func kindOfRuleFile(p string) string {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yar", ".yara":
		return "yara"
	case ".yml":
		return "sigma"
	case ".yaml":
		if data, err := os.ReadFile(p); err == nil && sigmaDoc.Match(data) {
			return "sigma"
		}
		return "exhunt"
	}
	return ""
}

// sigmaDoc finds Sigma's top-level logsource key; exhunt rules have none.
var sigmaDoc = regexp.MustCompile(`(?m)^logsource:`)

func isUnder(file string, roots []string) bool {
	for _, r := range roots {
		if rel, err := filepath.Rel(r, file); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return true
		}
	}
	return false
}
