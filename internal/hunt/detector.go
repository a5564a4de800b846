package hunt

import (
	"time"

	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/sigma"
)

// detector is one rule of either dialect as the hunt runs it: a compiled
// detection, and what a hit of it says. Log kinds and event sources hold
// lists of detectors, whatever the dialect, and every hit becomes a finding
// through newFinding.
type detector struct {
	id, title, chain string
	cves             []string
	stage            finding.Stage
	severity         finding.Severity
	det              *detect.Detection
	// rule refines a hit from the record (outcomes, extracts); nil for
	// Sigma rules, whose stage and severity are fixed.
	rule *rule.Compiled
	// fields are copied into a finding as evidence; nil takes every field
	// of an event.
	fields []string
	// n numbers the hunter's detectors, for what each spends on a file
	n int
}

// ruleDetector runs one of exhunt's rules.
func ruleDetector(cr *rule.Compiled) *detector {
	r := cr.Rule
	return &detector{
		id: r.ID, title: r.Title, chain: r.Chain, cves: r.CVEs,
		stage: r.Stage, severity: r.Severity,
		det: cr.Detection(), rule: cr, fields: r.Fields,
	}
}

// sigmaDetector runs a Sigma rule: stage from its ATT&CK tags, severity
// from its level. fields are the evidence kept of a hit.
func sigmaDetector(sr *sigma.Rule, fields []string) *detector {
	return &detector{
		id: "sigma:" + sr.ID, title: sr.Title, cves: sigma.CVEs(sr.Tags),
		stage: sigma.StageOf(sr.Tags), severity: sigma.SeverityOf(sr.Level),
		det: sr.Compiled(), fields: fields,
	}
}

// newFinding is the one place a hit becomes a finding: the rule, the stage
// and severity its outcomes give, the mailbox it extracts, where the hit
// was and the evidence. The server name is filled in when the server's
// results are merged, since it may come from the logs.
func newFinding(d *detector, rec detect.Record, at time.Time, src finding.Source, fields map[string]string) finding.Finding {
	fd := finding.Finding{
		Rule:     d.id,
		Title:    d.title,
		Stage:    d.stage,
		CVEs:     append([]string{}, d.cves...),
		Chain:    d.chain,
		Severity: d.severity,
		Time:     at,
		Source:   src,
		Fields:   fields,
	}
	if d.rule != nil {
		fd.Stage, fd.Severity, fd.Outcome = d.rule.Classify(rec)
		fd.Mailbox = d.rule.Extracted(rec, "mailbox")
	}
	return fd
}
