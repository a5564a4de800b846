package rule

import (
	"fmt"
	"regexp"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/finding"
)

// Env is what rules may refer to besides the record: named value lists
// (known attacker addresses, web-shell paths), matched with the list modifier.
type Env struct {
	Lists map[string][]string
}

// Compiled is a rule ready to evaluate. It is safe for concurrent use.
type Compiled struct {
	Rule     *Rule
	det      *detect.Detection
	outcomes []detect.Cond
	extract  []compiledExtract
}

type compiledExtract struct {
	name, field string
	re          *regexp.Regexp
}

// Compile checks the detection and builds the evaluator: the detection
// section compiles in the engine's exhunt dialect, outcomes are conditions
// over its selections.
func (r *Rule) Compile(env *Env) (*Compiled, error) {
	denv := &detect.Env{Dialect: detect.Exhunt}
	if env != nil {
		denv.Lists = env.Lists
	}
	det, err := detect.Compile(r.Detection, denv)
	if err != nil {
		return nil, err
	}
	c := &Compiled{Rule: r, det: det}
	for i, o := range r.Outcomes {
		e, err := det.Condition(o.When)
		if err != nil {
			return nil, fmt.Errorf("outcome %d: %w", i+1, err)
		}
		c.outcomes = append(c.outcomes, e)
	}
	for _, e := range r.Extract {
		re, err := detect.Regexp(e.Regex)
		if err != nil {
			return nil, fmt.Errorf("extract %s: %w", e.Name, err)
		}
		c.extract = append(c.extract, compiledExtract{name: e.Name, field: e.Field, re: re})
	}
	return c, nil
}

// Detection is the rule's compiled detection section.
func (c *Compiled) Detection() *detect.Detection { return c.det }

// Match reports whether the record satisfies the rule's condition.
func (c *Compiled) Match(rec detect.Record) bool { return c.det.Match(rec) }

// Literals is the detection's prefilter; see detect.Detection.Literals.
func (c *Compiled) Literals() ([]string, bool) { return c.det.Literals() }

// Classify returns the stage, severity and outcome label for a matching
// record: the first outcome whose condition holds, else the rule's own.
func (c *Compiled) Classify(rec detect.Record) (finding.Stage, finding.Severity, string) {
	if i := c.det.First(rec, c.outcomes); i >= 0 {
		o := c.Rule.Outcomes[i]
		sev := o.Severity
		if sev == "" {
			sev = c.Rule.Severity
		}
		return o.Stage, sev, o.Label
	}
	return c.Rule.Stage, c.Rule.Severity, ""
}

// Extracted returns the named value lifted from the record, or "".
func (c *Compiled) Extracted(rec detect.Record, name string) string {
	for _, e := range c.extract {
		if e.name != name {
			continue
		}
		v, _ := rec.Field(e.field)
		if m := e.re.FindStringSubmatch(v); len(m) > 1 && m[1] != "" {
			return m[1]
		}
	}
	return ""
}

// Logsource lists the log kinds the rule reads.
func (c *Compiled) Logsource() []string { return c.Rule.Logsource }
