// Package rule defines exhunt's detection rules: their YAML schema, strict
// parsing and validation, and the compiled form that evaluates one log record.
//
// Detections use Sigma's vocabulary (named selections of field conditions with
// modifiers, combined by a condition expression), so rule authors who know
// Sigma can read and write them. Rules add what a verdict needs: the attack
// stage a hit shows, and ordered outcomes that refine the stage from the
// record itself (for example an HTTP status that shows the back end answered).
package rule

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"

	"go.yaml.in/yaml/v3"
)

// Rule is one detection, as written in a rules/hunt/<id>.yaml file.
type Rule struct {
	// ID equals the file name without .yaml: lowercase words joined by '-'.
	ID string `yaml:"id" json:"id"`
	// Title is one line shown with every finding.
	Title string `yaml:"title" json:"title"`
	// Description explains what the rule finds and what a hit means.
	Description string `yaml:"description" json:"description"`
	// CVEs the evidence relates to, e.g. [CVE-2021-26855].
	CVEs []string `yaml:"cves" json:"cves"`
	// Chain is the exploit chain: proxylogon, proxyshell, proxynotshell, owassrf, or empty.
	Chain string `yaml:"chain" json:"chain,omitempty"`
	// Stage is the attack stage a hit shows unless an outcome says otherwise.
	Stage finding.Stage `yaml:"stage" json:"stage"`
	// Severity of a hit unless an outcome says otherwise.
	Severity finding.Severity `yaml:"severity" json:"severity"`
	// Logsource lists the log kinds the rule reads: httpproxy, iis,
	// ecp-server, ecp-activity, oabgenerator, rps-http, rps-cmdlet, ews;
	// and Windows events: event-application, event-msexchange-management,
	// event-process-creation (Sysmon 1 and Security 4688 under Sysmon's
	// field names), event-process-access (Sysmon 10), event-security,
	// event-system.
	Logsource []string `yaml:"logsource" json:"logsource"`
	// Prefilter lists literals of which every matching raw log line contains
	// at least one (ASCII case-insensitive). Lines without any are never
	// parsed, which is what makes hunting fast. Leave empty to evaluate every
	// line of the log kinds (only for low-volume logs).
	Prefilter []string `yaml:"prefilter" json:"prefilter,omitempty"`
	// PrefilterLists adds every value of the named lists to Prefilter.
	PrefilterLists []string `yaml:"prefilter_lists" json:"prefilter_lists,omitempty"`
	// Detection holds named selections and the condition combining them, as
	// in Sigma. Selections may also be referenced only by outcomes.
	Detection map[string]yaml.Node `yaml:"detection" json:"-"`
	// Outcomes refine stage and severity; the first whose condition holds wins.
	Outcomes []Outcome `yaml:"outcomes" json:"outcomes,omitempty"`
	// Extract names values to lift out of the record, e.g. the targeted mailbox.
	Extract []Extract `yaml:"extract" json:"extract,omitempty"`
	// References are public sources for the logic.
	References []string `yaml:"references" json:"references"`
	// Fields lists the record fields copied into each finding as evidence.
	Fields []string `yaml:"fields" json:"fields"`
}

// Outcome is one classification of a hit.
type Outcome struct {
	// When is a condition over the rule's selections.
	When string `yaml:"when" json:"when"`
	// Label says in words what this outcome means, e.g. "scanner probe".
	Label    string           `yaml:"label" json:"label"`
	Stage    finding.Stage    `yaml:"stage" json:"stage"`
	Severity finding.Severity `yaml:"severity" json:"severity,omitempty"`
}

// Extract lifts a value out of a field with a regular expression whose first
// capture group is the value.
type Extract struct {
	// Name is what the value is: "mailbox" fills the finding's mailbox.
	Name  string `yaml:"name" json:"name"`
	Field string `yaml:"field" json:"field"`
	Regex string `yaml:"regex" json:"regex"`
}

var (
	idPattern  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	cvePattern = regexp.MustCompile(`^CVE-\d{4}-\d{4,7}$`)
	// KnownLogsources are the log kinds the hunter reads.
	KnownLogsources = []string{"httpproxy", "iis", "ecp-server", "ecp-activity", "oabgenerator", "rps-http", "rps-cmdlet", "ews",
		// Windows event logs, by Sigma logsource (internal/winevent)
		"event-application", "event-msexchange-management", "event-process-creation", "event-process-access", "event-security", "event-system"}
	knownChains   = []string{"", "proxylogon", "proxyshell", "proxynotshell", "owassrf"}
	knownExtracts = []string{"mailbox"}
)

// Parse decodes one rule strictly: unknown keys are errors, so a typo cannot
// silently disable part of a rule.
func Parse(data []byte) (*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Rule
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("parse rule: %w", err)
	}
	return &r, nil
}

// Validate checks the rule's fields; name is the file name it was read from.
// All problems are returned together.
func (r *Rule) Validate(name string) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !idPattern.MatchString(r.ID) {
		add("id %q: must be lowercase words joined by '-'", r.ID)
	}
	if name != "" {
		base := name[strings.LastIndexAny(name, `/\`)+1:]
		if want := strings.TrimSuffix(base, ".yaml"); want != r.ID {
			add("id %q must equal the file name %q", r.ID, want)
		}
	}
	if strings.TrimSpace(r.Title) == "" {
		add("title is empty")
	}
	if strings.TrimSpace(r.Description) == "" {
		add("description is empty")
	}
	for _, c := range r.CVEs {
		if !cvePattern.MatchString(c) {
			add("cve %q: want CVE-YYYY-NNNN", c)
		}
	}
	if !slices.Contains(knownChains, r.Chain) {
		add("chain %q: want one of %s", r.Chain, strings.Join(knownChains[1:], ", "))
	}
	if !r.Stage.Valid() {
		add("stage %q: unknown", r.Stage)
	}
	if !r.Severity.Valid() {
		add("severity %q: unknown", r.Severity)
	}
	if len(r.Logsource) == 0 {
		add("logsource is empty")
	}
	for _, l := range r.Logsource {
		if !slices.Contains(KnownLogsources, l) {
			add("logsource %q: want one of %s", l, strings.Join(KnownLogsources, ", "))
		}
	}
	for _, p := range r.Prefilter {
		if len(p) < 3 {
			add("prefilter %q: literals shorter than 3 bytes match nearly every line", p)
		}
	}
	if len(r.References) == 0 {
		add("references is empty: cite where the logic comes from")
	}
	for i, o := range r.Outcomes {
		if o.When == "" {
			add("outcome %d: when is empty", i+1)
		}
		if o.Label == "" {
			add("outcome %d: label is empty", i+1)
		}
		if !o.Stage.Valid() {
			add("outcome %d: stage %q unknown", i+1, o.Stage)
		}
		if o.Severity != "" && !o.Severity.Valid() {
			add("outcome %d: severity %q unknown", i+1, o.Severity)
		}
	}
	for i, e := range r.Extract {
		if !slices.Contains(knownExtracts, e.Name) {
			add("extract %d: name %q: want one of %s", i+1, e.Name, strings.Join(knownExtracts, ", "))
		}
		if e.Field == "" {
			add("extract %d: field is empty", i+1)
		}
		if re, err := regexp.Compile(e.Regex); err != nil {
			add("extract %d: regex: %v", i+1, err)
		} else if re.NumSubexp() < 1 {
			add("extract %d: regex needs a capture group", i+1)
		}
	}
	return errors.Join(errs...)
}
