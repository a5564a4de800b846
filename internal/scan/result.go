package scan

import (
	"github.com/exhunt/exhunt/internal/exchange"
	"github.com/exhunt/exhunt/internal/finding"
)

// Result is everything learnt about one target; the type lives in finding
// because every output and the result stream carry it.
type Result = finding.Target

// The parts of a result.
type (
	Exchange = finding.Exchange
	Chain    = finding.ChainVerdict
	Probe    = finding.Probe
	Webshell = finding.Webshell
	Evidence = finding.Answer
)

// Result statuses.
const (
	StatusExchange    = finding.StatusExchange
	StatusNotExchange = finding.StatusNotExchange
	StatusUnreachable = finding.StatusUnreachable
	StatusOutOfScope  = finding.StatusOutOfScope
	StatusInvalid     = finding.StatusInvalid
	StatusError       = finding.StatusError
)

// Chain verdicts.
const (
	VerdictVulnerable    = finding.ChainVulnerable
	VerdictPatched       = finding.ChainPatched
	VerdictIndeterminate = finding.ChainIndeterminate
	VerdictNotAffected   = finding.ChainNotAffected
	VerdictCVEOnly       = finding.ChainCVEOnly
)

// VerdictOf maps a build-table status to the chain verdict a scan reports.
func VerdictOf(status string) string {
	switch status {
	case exchange.StatusVulnerable, exchange.StatusPartial:
		return VerdictVulnerable
	case exchange.StatusPatched:
		return VerdictPatched
	case exchange.StatusNotAffected:
		return VerdictNotAffected
	case exchange.StatusCVEOnly:
		return VerdictCVEOnly
	}
	return VerdictIndeterminate
}

// Probe results.
const (
	ProbeVulnerable    = finding.ProbeVulnerable
	ProbeNotVulnerable = finding.ProbeNotVulnerable
	ProbeAborted       = finding.ProbeAborted
	ProbeUnknown       = finding.ProbeUnknown
	ProbeError         = finding.ProbeError
)

// Mitigations that can be seen from outside.
const (
	MitigationEOMT   = finding.MitigationEOMT
	MitigationEOMTv2 = finding.MitigationEOMTv2
)
