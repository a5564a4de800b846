package cli

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/rule"
)

const rulesHelp = `Usage:
  exhunt rules list                list the detection rules: log and event rules, then the file hunt's
  exhunt rules validate [PATH...]  load and check the built-in rules and the rule files or folders given
  exhunt rules literals            print every prefilter literal, one per line (what bench/ gives ripgrep)
`

func runRules(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stderr, rulesHelp)
		if len(args) == 0 {
			return usageError("rules: want list, validate or literals", "")
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub != "list" && sub != "validate" && sub != "literals" {
		fmt.Fprint(stderr, rulesHelp)
		return usageError(fmt.Sprintf("rules: unknown subcommand %q", sub), "want list, validate or literals")
	}
	fs := newFlags("rules "+sub, rulesHelp+"\n", stderr)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if sub != "validate" {
		if err := noArgs(fs); err != nil {
			return err
		}
	}
	switch sub {
	case "list":
		cat, err := catalog.Load()
		if err != nil {
			return err
		}
		for _, c := range cat.Rules {
			r := c.Rule
			fmt.Fprintf(stdout, "%-36s %-14s %-8s %-22s %s\n", r.ID, r.Stage, r.Severity, strings.Join(r.Logsource, ","), r.Title)
		}
		// the file hunt's rules, YARA's included, after the log rules
		for _, d := range cat.Files.Docs() {
			fmt.Fprintf(stdout, "%-36s %-14s %-8s %-22s %s\n", d.ID, d.Stage, d.Severity, "files", d.Title)
		}
		return nil
	case "literals":
		// the prefilter literals of every rule, one per line: what a
		// fixed-string search must look for to find the same candidate lines
		// (bench/ compares exhunt with ripgrep on exactly these)
		cat, err := catalog.Load()
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, k := range rule.KnownLogsources {
			lits, _ := cat.Prefilter(k)
			for _, l := range lits {
				if !seen[l] {
					seen[l] = true
					fmt.Fprintln(stdout, l)
				}
			}
		}
		return nil
	case "validate":
		return validateRules(fs.Args(), stdout)
	}
	return nil
}

// validateRules loads the shipped rules and those given, each with the
// compiler the hunt uses: exhunt rules (.yaml), Sigma rules (.yml, or .yaml
// with a logsource) and YARA rules (.yar, .yara); folders are searched for
// all three. A given rule that does not load fails the validation with its
// file, line and reason; shipped rules skipped for an unsupported feature
// are listed.
func validateRules(paths []string, stdout io.Writer) error {
	var own, sig, yar []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
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
		own = append(own, p) // catalog.Load takes the folder's .yaml rules
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
	cat, err := catalog.Load(own...)
	if err != nil {
		return fmt.Errorf("rules are not valid:\n%w", err)
	}
	skippedBefore := len(cat.Sigma.Skipped)
	if err := cat.LoadSigma(sig...); err != nil {
		return fmt.Errorf("rules are not valid:\n%w", err)
	}
	if err := cat.LoadYara(yar...); err != nil {
		return fmt.Errorf("rules are not valid:\n%w", err)
	}
	// a rule the user gave that does not compile stops here, as it would
	// otherwise be missing from the hunt without anyone noticing
	var bad []string
	for _, p := range cat.Files.Problems() {
		if isUnder(p.File, yar) {
			bad = append(bad, "  "+p.String())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("rules are not valid:\n%s", strings.Join(bad, "\n"))
	}
	fmt.Fprintf(stdout, "%d rules valid; %d Sigma rules loaded, %d skipped\n", len(cat.Rules), len(cat.Sigma.Rules), len(cat.Sigma.Skipped))
	for i, s := range cat.Sigma.Skipped {
		given := ""
		if i >= skippedBefore {
			given = " (given)"
		}
		fmt.Fprintf(stdout, "  skipped %s%s: %s\n", s.Path, given, s.Reason)
	}
	st := cat.Files.Stats()
	fmt.Fprintf(stdout, "file hunt: %d YARA rules from %d files, %d problems; %d hashes, %d path and %d name IOCs\n",
		st.YaraRules, st.YaraFiles, len(cat.Files.Problems()), st.Hashes, st.PathIOCs, st.NameIOCs)
	for _, p := range cat.Files.Problems() {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	return nil
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
