package files

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/yara"
)

// yaraFinding turns a YARA match into a finding: rule "yara:<name>", the
// stage from the rule's exhunt_stage meta value or stages.yaml, the
// severity from its score, and the string matches (offset, length, the
// first bytes) as evidence, with the author and reference the Detection
// Rule License asks to keep.
func (s *Scanner) yaraFinding(c *check, m yara.Match) {
	title := metaString(m.Meta, "description")
	if title == "" {
		title = "YARA rule " + m.Rule
	}
	fields := map[string]string{"yara_rule": m.Rule, "yara_file": m.Namespace}
	for _, k := range []string{"author", "reference"} {
		if v := metaString(m.Meta, k); v != "" {
			fields["yara_"+k] = v
		}
	}
	if len(m.Tags) > 0 {
		fields["yara_tags"] = strings.Join(m.Tags, " ")
	}
	stage, supporting := s.r.stageOf(m.Rule, m.Meta)
	fd := c.add("yara:"+m.Rule, title, stage, severityOf(m.Meta), fields)
	fd.Supporting = supporting
	fd.CVEs = cvesOf(m.Rule, m.Meta, m.Tags)
	fd.Chain = chainOf(fd.CVEs)
	var sm []finding.StringMatch
	var shown []string
	for _, x := range m.Strings {
		if len(sm) == maxMatchesShown {
			break
		}
		d := x.Data
		if len(d) > maxMatchData {
			d = d[:maxMatchData]
		}
		sm = append(sm, finding.StringMatch{ID: x.ID, Offset: x.Offset, Length: x.Length, Data: printable(d)})
		shown = append(shown, fmt.Sprintf("%s@0x%x", x.ID, x.Offset))
	}
	if len(m.Strings) > len(sm) {
		shown = append(shown, fmt.Sprintf("(%d more)", len(m.Strings)-len(sm)))
	}
	if len(shown) > 0 {
		fields["yara_strings"] = strings.Join(shown, " ")
	}
	fd.File = &finding.FileInfo{Matches: sm}
	if stage == finding.StagePersistence && !supporting && inWebRoot(c.f.Sub) {
		c.shell = true
	}
}

// stageOf is what a match shows: the rule's exhunt_stage, else the first
// stages.yaml glob matching its name, else persistence (a file planted);
// and whether it only supports other evidence.
func (r *Rules) stageOf(rule string, meta map[string]any) (finding.Stage, bool) {
	if st := finding.Stage(metaString(meta, "exhunt_stage")); st.Valid() {
		return st, false
	}
	for _, g := range r.stages {
		if ok, _ := path.Match(g.Rule, rule); ok {
			return g.Stage, g.Supporting
		}
	}
	return finding.StagePersistence, false
}

// severityOf maps signature-base's score (0-100) to a severity; rules
// without one are high, as a YARA hit on an Exchange server is.
func severityOf(meta map[string]any) finding.Severity {
	switch v := meta["score"].(type) {
	case int64:
		return scoreSeverity(int(v))
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return scoreSeverity(n)
		}
	}
	return finding.SeverityHigh
}

func metaString(meta map[string]any, k string) string {
	switch v := meta[k].(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

var cveRE = regexp.MustCompile(`(?i)CVE[_-](\d{4})[_-](\d{4,7})`)

// cvesOf collects the CVEs a rule names in its name, tags or cve meta.
func cvesOf(rule string, meta map[string]any, tags []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range append([]string{rule, metaString(meta, "cve")}, tags...) {
		for _, g := range cveRE.FindAllStringSubmatch(s, -1) {
			id := "CVE-" + g[1] + "-" + g[2]
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// chainOf names the exploit chain of a set of CVEs.
func chainOf(cves []string) string {
	for _, c := range cves {
		switch c {
		case "CVE-2021-26855", "CVE-2021-26857", "CVE-2021-26858", "CVE-2021-27065":
			return "proxylogon"
		case "CVE-2021-34473", "CVE-2021-34523", "CVE-2021-31207":
			return "proxyshell"
		case "CVE-2022-41040", "CVE-2022-41082":
			return "proxynotshell"
		}
	}
	return ""
}

// printable renders bytes for a report: printable ASCII as is, the rest
// as \xNN (as yara -s does).
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}
