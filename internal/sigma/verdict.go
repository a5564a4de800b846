package sigma

import (
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// Sigma rules carry a level and ATT&CK tags, not a stage: these map them
// onto exhunt's verdict vocabulary.

// CVEs reads cve.2021-26855 style tags.
func CVEs(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		if c, ok := strings.CutPrefix(strings.ToLower(t), "cve."); ok {
			out = append(out, "CVE-"+strings.ToUpper(c))
		}
	}
	return out
}

// tacticStage maps ATT&CK tactics to how far an attack got. Checked in this
// order, so a rule tagged with several takes the furthest.
var tacticStage = []struct {
	tag   string
	stage finding.Stage
}{
	{"attack.execution", finding.StageExecution},
	{"attack.credential-access", finding.StageExecution},
	{"attack.lateral-movement", finding.StageExecution},
	{"attack.command-and-control", finding.StageExecution},
	{"attack.privilege-escalation", finding.StageExecution},
	{"attack.defense-evasion", finding.StageExecution},
	{"attack.discovery", finding.StageExecution},
	{"attack.impact", finding.StageExecution},
	{"attack.collection", finding.StageCollection},
	{"attack.exfiltration", finding.StageCollection},
	{"attack.persistence", finding.StagePersistence},
	{"attack.initial-access", finding.StageAttempt},
	{"attack.reconnaissance", finding.StageReconnaissance},
}

// StageOf is the stage a hit of a rule with these tags shows.
func StageOf(tags []string) finding.Stage {
	for _, ts := range tacticStage {
		for _, t := range tags {
			if strings.EqualFold(t, ts.tag) {
				return ts.stage
			}
		}
	}
	// An event a Sigma rule flags on the server itself is activity, not a
	// probe from outside.
	return finding.StageExecution
}

// SeverityOf maps a Sigma level to a severity.
func SeverityOf(level string) finding.Severity {
	switch strings.ToLower(level) {
	case "critical":
		return finding.SeverityCritical
	case "high":
		return finding.SeverityHigh
	case "medium":
		return finding.SeverityMedium
	case "low":
		return finding.SeverityLow
	}
	return finding.SeverityInfo
}
