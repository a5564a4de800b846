package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// SARIF 2.1.0 output, for code-scanning dashboards and importers such as
// DefectDojo. Those read ruleId, level, message, the first location,
// partialFingerprints and the rule's security-severity; everything else
// exhunt knows goes into property bags so nothing is lost. A result's level
// follows its own severity (a rule's outcomes change it), while the rule's
// security-severity and default level follow the rule's default severity;
// DefectDojo prefers the latter when present, GitHub uses only the latter.

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// sarifRootID is the uriBaseId of relative artifact locations: the
	// folder the hunted paths are relative to.
	sarifRootID = "EVIDENCEROOT"
	// sarifFingerprintKey names exhunt's partial fingerprint; bump the version if
	// what it hashes changes, so dashboards do not match old and new.
	sarifFingerprintKey = "exhuntFinding/v1"
)

// InformationURI is tool.driver.informationUri, the tool's home page. The
// schema requires an absolute URI, so the field is left out while this is
// empty; set it here or at link time (-X exhunt/internal/report.InformationURI=...).
var InformationURI = ""

// RuleInfo is the catalog metadata of one rule, as SARIF wants it.
type RuleInfo struct {
	ID          string
	Title       string
	Description string
	CVEs        []string
	Chain       string
	Stage       string
	Severity    string
	References  []string
}

// sarifSecuritySeverity is GitHub's numeric scale (critical >= 9.0, high >= 7.0,
// medium >= 4.0, low > 0), which importers map back to the same names.
var sarifSecuritySeverity = map[finding.Severity]string{
	finding.SeverityCritical: "9.5",
	finding.SeverityHigh:     "8.0",
	finding.SeverityMedium:   "5.5",
	finding.SeverityLow:      "3.0",
	finding.SeverityInfo:     "0.0",
}

// sarifLevel maps a severity to a SARIF level; unknown severities get
// "warning", SARIF's own default.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return "error"
	case finding.SeverityLow, finding.SeverityInfo:
		return "note"
	}
	return "warning"
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                        `json:"tool"`
	Invocations        []sarifInvocation                `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds"`
	// Results is always an array: an empty one says "nothing found", an
	// absent one "not analysed".
	Results    []sarifResult      `json:"results"`
	Properties sarifRunProperties `json:"properties"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name,omitempty"`
	ShortDescription     sarifText           `json:"shortDescription"`
	FullDescription      *sarifText          `json:"fullDescription,omitempty"`
	HelpURI              string              `json:"helpUri,omitempty"`
	DefaultConfiguration *sarifConfiguration `json:"defaultConfiguration,omitempty"`
	Properties           sarifRuleProperties `json:"properties"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	// Tags must be unique (the schema says so).
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Severity         string   `json:"severity,omitempty"`
	Stage            string   `json:"stage,omitempty"`
	Chain            string   `json:"chain,omitempty"`
	CVEs             []string `json:"cves,omitempty"`
	References       []string `json:"references,omitempty"`
}

type sarifResult struct {
	RuleID              string                `json:"ruleId"`
	RuleIndex           int                   `json:"ruleIndex"`
	Level               string                `json:"level"`
	Message             sarifText             `json:"message"`
	Locations           []sarifLocation       `json:"locations,omitempty"`
	PartialFingerprints map[string]string     `json:"partialFingerprints"`
	Properties          sarifResultProperties `json:"properties"`
}

type sarifResultProperties struct {
	Server        string          `json:"server"`
	ServerVerdict finding.Verdict `json:"server_verdict"`
	Inconclusive  bool            `json:"inconclusive"`
	Stage         finding.Stage   `json:"stage"`
	// ImpliedVerdict is the least verdict this finding alone gives its server.
	ImpliedVerdict   finding.Verdict   `json:"implied_verdict"`
	Outcome          string            `json:"outcome,omitempty"`
	Severity         finding.Severity  `json:"severity"`
	SecuritySeverity string            `json:"security-severity,omitempty"`
	CVEs             []string          `json:"cves,omitempty"`
	Chain            string            `json:"chain,omitempty"`
	LogSource        string            `json:"log_source,omitempty"`
	File             string            `json:"file,omitempty"`
	Time             string            `json:"time,omitempty"`
	ClientIP         string            `json:"client_ip,omitempty"`
	UserAgent        string            `json:"user_agent,omitempty"`
	Mailbox          string            `json:"mailbox,omitempty"`
	IOCs             []string          `json:"iocs,omitempty"`
	Fields           map[string]string `json:"fields,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI         string     `json:"uri,omitempty"`
	URIBaseID   string     `json:"uriBaseId,omitempty"`
	Description *sarifText `json:"description,omitempty"`
}

type sarifRegion struct {
	StartLine int64 `json:"startLine"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	StartTimeUTC               string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string              `json:"level"`
	Message    sarifText           `json:"message"`
	Locations  []sarifLocation     `json:"locations,omitempty"`
	Properties *sarifGapProperties `json:"properties,omitempty"`
}

type sarifGapProperties struct {
	Server string `json:"server,omitempty"`
	File   string `json:"file,omitempty"`
}

type sarifRunProperties struct {
	Roots   []string      `json:"roots"`
	Servers []sarifServer `json:"servers"`
}

type sarifServer struct {
	Name         string          `json:"name"`
	Verdict      finding.Verdict `json:"verdict"`
	Inconclusive bool            `json:"inconclusive"`
	Reasons      []string        `json:"reasons"`
	// Remediation is the server's plan as the JSON result has it: a
	// SARIF fix is an edit of an artifact, which this is not.
	Remediation             []finding.Action `json:"remediation,omitempty"`
	UnusableClientAddresses int64            `json:"unusable_client_addresses,omitempty"`
}

// SARIF writes the result as a SARIF 2.1.0 log with one run. rules is the
// catalog's metadata; findings of rules it lacks (or all, when it is nil)
// get minimal rule entries derived from the findings. The output depends
// only on r and rules: rules, results and notifications are sorted.
func SARIF(w io.Writer, r *finding.Result, rules []RuleInfo) error {
	if r == nil {
		return errors.New("sarif: no result")
	}
	descs, index := sarifRules(r, rules)
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "exhunt", Version: r.Version, InformationURI: InformationURI, Rules: descs,
		}},
		Invocations:        []sarifInvocation{sarifInvocationOf(r)},
		OriginalURIBaseIDs: map[string]sarifArtifactLocation{sarifRootID: sarifEvidenceRoot(r.Roots)},
		Results:            []sarifResult{},
		Properties:         sarifRunProperties{Roots: append([]string{}, r.Roots...), Servers: []sarifServer{}},
	}
	for i := range r.Servers {
		s := &r.Servers[i]
		run.Properties.Servers = append(run.Properties.Servers, sarifServer{
			Name: s.Name, Verdict: s.Verdict, Inconclusive: s.Inconclusive, Reasons: append([]string{}, s.Reasons...),
			Remediation: s.Remediation, UnusableClientAddresses: s.UnusableClientAddresses,
		})
	}
	hits := serverFindings(r)
	slices.SortStableFunc(run.Properties.Servers, func(a, b sarifServer) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.s.Name, b.s.Name), cmp.Compare(a.f.Source.File, b.f.Source.File),
			cmp.Compare(a.f.Source.Line, b.f.Source.Line), cmp.Compare(a.f.Rule, b.f.Rule), a.f.Time.Compare(b.f.Time))
	})
	for _, h := range hits {
		run.Results = append(run.Results, sarifResultOf(h.s, h.f, index[h.f.Rule]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

// sarifRules returns the rule descriptors sorted by id and each id's index.
func sarifRules(r *finding.Result, rules []RuleInfo) ([]sarifRule, map[string]int) {
	byID := map[string]RuleInfo{}
	for _, ri := range rules {
		if _, dup := byID[ri.ID]; !dup && ri.ID != "" {
			byID[ri.ID] = ri
		}
	}
	// A finding's stage and severity are its outcome's, not the rule's
	// defaults, so a derived entry carries neither: importers then take the
	// severity from each result's level instead of a guessed default.
	for _, s := range r.Servers {
		for _, f := range s.Findings {
			if _, ok := byID[f.Rule]; !ok {
				byID[f.Rule] = RuleInfo{ID: f.Rule, Title: f.Title, CVEs: f.CVEs, Chain: f.Chain}
			}
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	descs := make([]sarifRule, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		descs[i] = sarifRuleOf(byID[id])
		index[id] = i
	}
	return descs, index
}

func sarifRuleOf(ri RuleInfo) sarifRule {
	sev := finding.Severity(ri.Severity)
	cves := slices.Compact(slices.Sorted(slices.Values(ri.CVEs)))
	// "security" is the tag GitHub code scanning looks for before it uses
	// security-severity.
	tags := append([]string{"security"}, cves...)
	tags = append(tags, ri.Chain, ri.Stage)
	tags = sarifUniq(slices.DeleteFunc(tags, func(t string) bool { return t == "" }))
	d := sarifRule{
		ID:               ri.ID,
		Name:             cmp.Or(ri.Title, ri.ID),
		ShortDescription: sarifText{Text: cmp.Or(ri.Title, ri.ID)},
		Properties: sarifRuleProperties{
			Tags: tags, SecuritySeverity: sarifSecuritySeverity[sev], Severity: ri.Severity,
			Stage: ri.Stage, Chain: ri.Chain, CVEs: cves, References: ri.References,
		},
	}
	if desc := strings.TrimSpace(ri.Description); desc != "" {
		d.FullDescription = &sarifText{Text: desc}
	}
	if len(ri.References) > 0 && sarifAbsHTTP(ri.References[0]) {
		d.HelpURI = ri.References[0]
	}
	if sev.Valid() {
		d.DefaultConfiguration = &sarifConfiguration{Level: sarifLevel(sev)}
	}
	return d
}

// sarifUniq drops repeated strings, keeping the first of each.
func sarifUniq(s []string) []string {
	seen := map[string]bool{}
	return slices.DeleteFunc(s, func(v string) bool {
		if seen[v] {
			return true
		}
		seen[v] = true
		return false
	})
}

// sarifAbsHTTP reports whether ref can be a helpUri: user rules may carry
// anything in references, and the schema wants an absolute URI.
func sarifAbsHTTP(ref string) bool {
	if strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`"<>\^{|}`+"`", r) }) {
		return false
	}
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func sarifResultOf(s *finding.Server, f *finding.Finding, ruleIndex int) sarifResult {
	server := cmp.Or(f.Server, s.Name)
	msg := cmp.Or(f.Title, f.Rule)
	if f.Outcome != "" {
		msg += ": " + f.Outcome
	}
	if server != "" {
		msg += " (server " + server + ")"
	}
	res := sarifResult{
		RuleID:    f.Rule,
		RuleIndex: ruleIndex,
		Level:     sarifLevel(f.Severity),
		// Viewers print the message; control characters must not reach a
		// terminal. The raw values stay in the properties.
		Message:             sarifText{Text: clean(msg)},
		PartialFingerprints: map[string]string{sarifFingerprintKey: sarifFingerprint(f.Rule, server, f.Source.File, f.Source.Line)},
		Properties: sarifResultProperties{
			Server: server, ServerVerdict: s.Verdict, Inconclusive: s.Inconclusive,
			Stage: f.Stage, ImpliedVerdict: f.Stage.Verdict(), Outcome: f.Outcome,
			Severity: f.Severity, SecuritySeverity: sarifSecuritySeverity[f.Severity],
			CVEs: f.CVEs, Chain: f.Chain, LogSource: f.Source.Kind, File: f.Source.File,
			Time: sarifTime(f.Time), ClientIP: f.ClientIP, UserAgent: f.UserAgent, Mailbox: f.Mailbox,
			IOCs: f.IOCs, Fields: f.Fields,
		},
	}
	if loc, ok := sarifLocationOf(f.Source.File, f.Source.Line); ok {
		res.Locations = []sarifLocation{loc}
	}
	return res
}

// sarifFingerprint hashes what identifies a finding across runs: the same rule
// on the same line of the same server's file. Fields are length-prefixed
// so that no two different tuples hash the same input.
func sarifFingerprint(rule, server, file string, line int64) string {
	h := sha256.New()
	for _, s := range []string{rule, server, file} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(line)))
	return hex.EncodeToString(h.Sum(nil))
}

func sarifTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func sarifInvocationOf(r *finding.Result) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: true}
	if !r.StartedAt.IsZero() {
		inv.StartTimeUTC = sarifTime(r.StartedAt)
		inv.EndTimeUTC = sarifTime(r.StartedAt.Add(time.Duration(r.DurationMS) * time.Millisecond))
	}
	var gaps []finding.Gap
	gaps = append(gaps, r.Gaps...)
	for _, s := range r.Servers {
		for _, g := range s.Gaps {
			g.Server = cmp.Or(g.Server, s.Name)
			gaps = append(gaps, g)
		}
	}
	slices.SortStableFunc(gaps, func(a, b finding.Gap) int {
		return cmp.Or(cmp.Compare(a.Server, b.Server), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Reason, b.Reason))
	})
	for _, g := range gaps {
		n := sarifNotification{
			Level:      "warning",
			Message:    sarifText{Text: clean(cmp.Or(g.Reason, "not read"))},
			Properties: &sarifGapProperties{Server: g.Server, File: g.File},
		}
		if loc, ok := sarifLocationOf(g.File, g.Line); ok {
			n.Locations = []sarifLocation{loc}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	return inv
}

func sarifLocationOf(file string, line int64) (sarifLocation, bool) {
	if file == "" {
		return sarifLocation{}, false
	}
	loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: sarifArtifact(file)}}
	if line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	}
	return loc, true
}

// sarifArtifact turns an evidence path into a SARIF artifact location:
// relative paths (the usual case, including "archive.zip!member/path")
// become relative references against EVIDENCEROOT; absolute paths (files
// found on a live server, gaps naming a root) become file: URIs.
func sarifArtifact(file string) sarifArtifactLocation {
	if u, ok := sarifFileURI(file); ok {
		return sarifArtifactLocation{URI: u}
	}
	return sarifArtifactLocation{URI: sarifEscapePath(file), URIBaseID: sarifRootID}
}

// sarifFileURI returns the file: URI of an absolute path, Unix ("/x"), Windows
// ("C:\x", "C:/x") or UNC ("\\host\share", "//host/share"), whichever OS
// renders the result: a run saved on Windows may be rendered elsewhere.
func sarifFileURI(p string) (string, bool) {
	switch {
	case sarifWindowsAbs(p) && p[0] != '\\' && p[0] != '/':
		// Backslashes are separators in a Windows path, not data.
		return "file:///" + p[:2] + sarifEscapePath(strings.ReplaceAll(p[2:], `\`, "/")), true
	case sarifWindowsAbs(p):
		// UNC: "//host/share/x" keeps its authority.
		return "file:" + sarifEscapePath(strings.ReplaceAll(p, `\`, "/")), true
	case strings.HasPrefix(p, "/"):
		return "file://" + sarifEscapePath(p), true
	}
	return "", false
}

// sarifWindowsAbs reports whether p is a drive ("C:\x", "C:/x") or UNC path.
func sarifWindowsAbs(p string) bool {
	drive := len(p) >= 3 && sarifIsLetter(p[0]) && p[1] == ':' && (p[2] == '/' || p[2] == '\\')
	return drive || strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

func sarifIsLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// sarifEscapePath percent-encodes every byte of p except RFC 3986 unreserved
// characters and '/'. Escaping all reserved characters (not only those a
// path forbids) keeps the reference unambiguous: a ':' cannot turn the first
// segment into a scheme, and '#', '?', '%' stay data. Bytes, not runes, are
// encoded, so names that are not valid UTF-8 round-trip too.
func sarifEscapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if sarifIsLetter(c) || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// sarifEvidenceRoot describes EVIDENCEROOT. Paths are relative to the hunted
// folder, or to the folder holding a hunted zip or log file; that folder has
// an absolute URI only when there was exactly one root and it was given as
// an absolute path. Otherwise the base is described but left unresolved, as
// SARIF allows.
func sarifEvidenceRoot(roots []string) sarifArtifactLocation {
	loc := sarifArtifactLocation{Description: &sarifText{Text: "The evidence root: paths are relative to the folder given to exhunt, or to the folder holding the zip or log file given to it."}}
	if len(roots) != 1 {
		return loc
	}
	root := roots[0]
	// Discovery tells files from folders by these names too.
	if lower := strings.ToLower(root); strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".log") || strings.HasSuffix(lower, ".log.gz") {
		seps := "/"
		if sarifWindowsAbs(root) {
			seps = `/\`
		}
		root = root[:strings.LastIndexAny(root, seps)+1]
	}
	if u, ok := sarifFileURI(root); ok {
		if !strings.HasSuffix(u, "/") {
			u += "/" // a base URI must end with '/' for references to resolve below it
		}
		loc.URI = u
	}
	return loc
}
