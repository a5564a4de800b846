package cli

import (
	"flag"
	"fmt"
	"io"
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

// validateRules checks the built-in rules and the rule files, folders
// and rules trees given (catalog.Validate) and lists what the hunt skips.
func validateRules(paths []string, stdout io.Writer) error {
	checked, err := catalog.Validate(paths)
	if err != nil {
		return err
	}
	for _, c := range checked {
		cat := c.Catalog
		st := cat.Files.Stats()
		fmt.Fprintf(stdout, "%s: %d rules valid; %d Sigma rules loaded, %d skipped; file hunt: %d YARA rules from %d files, %d skipped; %d hashes, %d path and %d name IOCs\n",
			c.Source, len(cat.Rules), len(cat.Sigma.Rules), len(cat.Sigma.Skipped), st.YaraRules, st.YaraFiles, len(cat.Files.Problems()), st.Hashes, st.PathIOCs, st.NameIOCs)
		for _, s := range c.Skipped {
			fmt.Fprintf(stdout, "  skipped %s\n", s)
		}
	}
	return nil
}
