package scan

import (
	"time"

	"github.com/exhunt/exhunt/internal/exchange"
)

// Result is everything learnt about one target: one JSON line of the scan
// output. Fields are stable; new ones may be added.
type Result struct {
	// Seq is the target's position in the input (see Target.Seq).
	Seq uint64 `json:"seq"`
	// Target is the base URL scanned; Input is the line for invalid ones.
	Target string `json:"target,omitempty"`
	Input  string `json:"input,omitempty"`
	// IP is the address connected to.
	IP string `json:"ip,omitempty"`
	// Status is one of the Status* values.
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`

	Exchange    *Exchange  `json:"exchange,omitempty"`
	Chains      []Chain    `json:"chains,omitempty"`
	Probes      []Probe    `json:"probes,omitempty"`
	Mitigations []string   `json:"mitigations,omitempty"`
	Webshells   []Webshell `json:"webshells,omitempty"`
	// Evidence lists the answers the result rests on.
	Evidence []Evidence `json:"evidence,omitempty"`

	Requests   int       `json:"requests"`
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
}

// Result statuses.
const (
	StatusExchange    = "exchange"     // an Exchange server answered
	StatusNotExchange = "not-exchange" // a web server answered, not Exchange
	StatusUnreachable = "unreachable"  // no connection, TLS or HTTP answer
	StatusOutOfScope  = "out-of-scope" // refused by --scope; nothing was sent
	StatusInvalid     = "invalid"      // the input line names no target
	StatusError       = "error"        // the error budget ran out mid-scan
)

// Exchange is what the server revealed about itself.
type Exchange struct {
	// Build is as precise as known: four parts, or three (the CU).
	Build string `json:"build,omitempty"`
	Exact bool   `json:"exact"`
	// Source says which answer gave the build: x-owa-version,
	// exporttool-manifest, versioned-ecp, logon-page.
	Source  string `json:"source,omitempty"`
	Product string `json:"product,omitempty"`
	// Update is the table's name for the build (CU19 Mar21SU), or for the
	// CU when only three parts are known.
	Update string `json:"update,omitempty"`
	// Server is the front end's name from X-FEServer.
	Server string `json:"server,omitempty"`
}

// Chain verdicts.
const (
	VerdictVulnerable    = "vulnerable"
	VerdictPatched       = "patched"
	VerdictIndeterminate = "indeterminate" // the security-update level is not known
	VerdictNotAffected   = "not-affected"  // Exchange 2010, for the chains that need HttpProxy
	// VerdictCVEOnly: open to one CVE of the chain that cannot be reached
	// without the others (Exchange 2010 before SP3 RU32 and CVE-2021-26857);
	// CVEs then lists that CVE alone.
	VerdictCVEOnly = "cve-only"
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

// Chain is the verdict for one exploit chain.
type Chain struct {
	Chain string `json:"chain"`
	// CVEs are the chain's CVEs that apply to the product.
	CVEs    []string `json:"cves"`
	Verdict string   `json:"verdict"`
	Reason  string   `json:"reason"`
	// Mitigated is true when a URL-rewrite mitigation for the chain was
	// seen: the exploit requests are blocked, the build is not fixed.
	Mitigated bool `json:"mitigated,omitempty"`
}

// Probe results.
const (
	ProbeVulnerable    = "vulnerable"
	ProbeNotVulnerable = "not-vulnerable"
	ProbeAborted       = "aborted" // the connection was dropped: a rewrite rule
	ProbeUnknown       = "unknown" // an answer the check does not know
	ProbeError         = "error"
)

// Probe is the outcome of one active check.
type Probe struct {
	Name   string `json:"name"`
	Result string `json:"result"`
}

// Mitigations that can be seen from outside.
const (
	MitigationEOMT   = "eomt-proxylogon"        // the ProxyLogon cookie rule aborts
	MitigationEOMTv2 = "eomtv2-autodiscover-ps" // autodiscover+powershell URLs abort
)

// Webshell is a known web-shell path that answered unlike the folder's
// missing files do.
type Webshell struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Length int    `json:"length"`
	// Baseline is how a random name in the same folder answered.
	Baseline string `json:"baseline"`
}

// Evidence is one answer and what it said.
type Evidence struct {
	Check   string `json:"check"`
	Request string `json:"request"`
	Status  int    `json:"status,omitempty"`
	Said    string `json:"said"`
}

// Vulnerable reports whether any chain is vulnerable or a web shell
// answered: what makes the scan exit with the findings code.
func (r *Result) Vulnerable() bool {
	if len(r.Webshells) > 0 {
		return true
	}
	for _, c := range r.Chains {
		if c.Verdict == VerdictVulnerable {
			return true
		}
	}
	return false
}
