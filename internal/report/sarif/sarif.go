// Package sarif writes a hunt result as a SARIF 2.1.0 log.
package sarif

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

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/visible"
)

// SARIF 2.1.0 output, for code-scanning dashboards and importers such as
// DefectDojo. Those read ruleId, level, message, the first location,
// partialFingerprints and the rule's security-severity; everything else
// exhunt knows goes into property bags so nothing is lost. A result's level
// follows its own severity (a rule's outcomes change it), while the rule's
// security-severity and default level follow the rule's default severity;
// DefectDojo prefers the latter when present, GitHub uses only the latter.

const (
	schemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
	version   = "2.1.0"
	// rootID is the uriBaseId of relative artifact locations: the
	// folder the hunted paths are relative to.
	rootID = "EVIDENCEROOT"
	// fingerprintKey names exhunt's partial fingerprint; bump the version if
	// what it hashes changes, so dashboards do not match old and new.
	fingerprintKey = "exhuntFinding/v1"
)

// InformationURI is tool.driver.informationUri, the tool's home page. The
// schema requires an absolute URI, so the field is left out while this is
// empty; set it here or at link time (-X github.com/exhunt/exhunt/internal/report/sarif.InformationURI=...).
var InformationURI = ""

// securitySeverity is GitHub's numeric scale (critical >= 9.0, high >= 7.0,
// medium >= 4.0, low > 0), which importers map back to the same names.
var securitySeverity = map[finding.Severity]string{
	finding.SeverityCritical: "9.5",
	finding.SeverityHigh:     "8.0",
	finding.SeverityMedium:   "5.5",
	finding.SeverityLow:      "3.0",
	finding.SeverityInfo:     "0.0",
}

// level maps a severity to a SARIF level; unknown severities get
// "warning", SARIF's own default.
func level(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return "error"
	case finding.SeverityLow, finding.SeverityInfo:
		return "note"
	}
	return "warning"
}

type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

type Run struct {
	Tool               Tool                        `json:"tool"`
	Invocations        []Invocation                `json:"invocations"`
	OriginalURIBaseIDs map[string]ArtifactLocation `json:"originalUriBaseIds"`
	// Results is always an array: an empty one says "nothing found", an
	// absent one "not analysed".
	Results    []Result      `json:"results"`
	Properties RunProperties `json:"properties"`
}

type Tool struct {
	Driver Driver `json:"driver"`
}

type Driver struct {
	Name           string `json:"name"`
	Version        string `json:"version,omitempty"`
	InformationURI string `json:"informationUri,omitempty"`
	Rules          []Rule `json:"rules"`
}

type Text struct {
	Text string `json:"text"`
}

type Rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     Text           `json:"shortDescription"`
	FullDescription      *Text          `json:"fullDescription,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	Properties           RuleProperties `json:"properties"`
}

type Configuration struct {
	Level string `json:"level"`
}

type RuleProperties struct {
	// Tags must be unique (the schema says so).
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
	Severity         string   `json:"severity,omitempty"`
	Stage            string   `json:"stage,omitempty"`
	Chain            string   `json:"chain,omitempty"`
	CVEs             []string `json:"cves,omitempty"`
	References       []string `json:"references,omitempty"`
}

type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Text              `json:"message"`
	Locations           []Location        `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          ResultProperties  `json:"properties"`
}

type ResultProperties struct {
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

type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
}

type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

type ArtifactLocation struct {
	URI         string `json:"uri,omitempty"`
	URIBaseID   string `json:"uriBaseId,omitempty"`
	Description *Text  `json:"description,omitempty"`
}

type Region struct {
	StartLine int64 `json:"startLine"`
}

type Invocation struct {
	ExecutionSuccessful        bool           `json:"executionSuccessful"`
	StartTimeUTC               string         `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string         `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []Notification `json:"toolExecutionNotifications,omitempty"`
}

type Notification struct {
	Level      string         `json:"level"`
	Message    Text           `json:"message"`
	Locations  []Location     `json:"locations,omitempty"`
	Properties *GapProperties `json:"properties,omitempty"`
}

type GapProperties struct {
	Server string `json:"server,omitempty"`
	File   string `json:"file,omitempty"`
}

type RunProperties struct {
	Roots   []string `json:"roots"`
	Servers []Server `json:"servers"`
}

type Server struct {
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
func Write(w io.Writer, r *finding.Result, rules []catalog.RuleDoc) error {
	if r == nil {
		return errors.New("sarif: no result")
	}
	descs, index := rulesOf(r, rules)
	run := Run{
		Tool: Tool{Driver: Driver{
			Name: "exhunt", Version: r.Version, InformationURI: InformationURI, Rules: descs,
		}},
		Invocations:        []Invocation{invocationOf(r)},
		OriginalURIBaseIDs: map[string]ArtifactLocation{rootID: evidenceRoot(r.Roots)},
		Results:            []Result{},
		Properties:         RunProperties{Roots: append([]string{}, r.Roots...), Servers: []Server{}},
	}
	for i := range r.Servers {
		s := &r.Servers[i]
		run.Properties.Servers = append(run.Properties.Servers, Server{
			Name: s.Name, Verdict: s.Verdict, Inconclusive: s.Inconclusive, Reasons: append([]string{}, s.Reasons...),
			Remediation: s.Remediation, UnusableClientAddresses: s.UnusableClientAddresses,
		})
	}
	hits := r.Hits()
	slices.SortStableFunc(run.Properties.Servers, func(a, b Server) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(hits, func(a, b finding.Hit) int {
		return cmp.Or(cmp.Compare(a.Server.Name, b.Server.Name), cmp.Compare(a.Finding.Source.File, b.Finding.Source.File),
			cmp.Compare(a.Finding.Source.Line, b.Finding.Source.Line), cmp.Compare(a.Finding.Rule, b.Finding.Rule), a.Finding.Time.Compare(b.Finding.Time))
	})
	for _, h := range hits {
		run.Results = append(run.Results, resultOf(h.Server, h.Finding, index[h.Finding.Rule]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Log{Schema: schemaURI, Version: version, Runs: []Run{run}})
}

// rulesOf returns the rule descriptors sorted by id and each id's index.
func rulesOf(r *finding.Result, rules []catalog.RuleDoc) ([]Rule, map[string]int) {
	byID := map[string]catalog.RuleDoc{}
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
				byID[f.Rule] = catalog.RuleDoc{ID: f.Rule, Title: f.Title, CVEs: f.CVEs, Chain: f.Chain}
			}
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	descs := make([]Rule, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		descs[i] = ruleOf(byID[id])
		index[id] = i
	}
	return descs, index
}

func ruleOf(ri catalog.RuleDoc) Rule {
	sev := finding.Severity(ri.Severity)
	cves := slices.Compact(slices.Sorted(slices.Values(ri.CVEs)))
	// "security" is the tag GitHub code scanning looks for before it uses
	// security-severity.
	tags := append([]string{"security"}, cves...)
	tags = append(tags, ri.Chain, ri.Stage)
	tags = uniq(slices.DeleteFunc(tags, func(t string) bool { return t == "" }))
	d := Rule{
		ID:               ri.ID,
		Name:             cmp.Or(ri.Title, ri.ID),
		ShortDescription: Text{Text: cmp.Or(ri.Title, ri.ID)},
		Properties: RuleProperties{
			Tags: tags, SecuritySeverity: securitySeverity[sev], Severity: ri.Severity,
			Stage: ri.Stage, Chain: ri.Chain, CVEs: cves, References: ri.References,
		},
	}
	if desc := strings.TrimSpace(ri.Description); desc != "" {
		d.FullDescription = &Text{Text: desc}
	}
	if len(ri.References) > 0 && absHTTP(ri.References[0]) {
		d.HelpURI = ri.References[0]
	}
	if sev.Valid() {
		d.DefaultConfiguration = &Configuration{Level: level(sev)}
	}
	return d
}

// uniq drops repeated strings, keeping the first of each.
func uniq(s []string) []string {
	seen := map[string]bool{}
	return slices.DeleteFunc(s, func(v string) bool {
		if seen[v] {
			return true
		}
		seen[v] = true
		return false
	})
}

// absHTTP reports whether ref can be a helpUri: user rules may carry
// anything in references, and the schema wants an absolute URI.
func absHTTP(ref string) bool {
	if strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`"<>\^{|}`+"`", r) }) {
		return false
	}
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func resultOf(s *finding.Server, f *finding.Finding, ruleIndex int) Result {
	server := cmp.Or(f.Server, s.Name)
	msg := cmp.Or(f.Title, f.Rule)
	if f.Outcome != "" {
		msg += ": " + f.Outcome
	}
	if server != "" {
		msg += " (server " + server + ")"
	}
	res := Result{
		RuleID:    f.Rule,
		RuleIndex: ruleIndex,
		Level:     level(f.Severity),
		// Viewers print the message; control characters must not reach a
		// terminal. The raw values stay in the properties.
		Message:             Text{Text: visible.String(msg)},
		PartialFingerprints: map[string]string{fingerprintKey: fingerprint(f.Rule, server, f.Source.File, f.Source.Line)},
		Properties: ResultProperties{
			Server: server, ServerVerdict: s.Verdict, Inconclusive: s.Inconclusive,
			Stage: f.Stage, ImpliedVerdict: f.Stage.Verdict(), Outcome: f.Outcome,
			Severity: f.Severity, SecuritySeverity: securitySeverity[f.Severity],
			CVEs: f.CVEs, Chain: f.Chain, LogSource: f.Source.Kind, File: f.Source.File,
			Time: fmtTime(f.Time), ClientIP: f.ClientIP, UserAgent: f.UserAgent, Mailbox: f.Mailbox,
			IOCs: f.IOCs, Fields: f.Fields,
		},
	}
	if loc, ok := locationOf(f.Source.File, f.Source.Line); ok {
		res.Locations = []Location{loc}
	}
	return res
}

// fingerprint hashes what identifies a finding across runs: the same rule
// on the same line of the same server's file. Fields are length-prefixed
// so that no two different tuples hash the same input.
func fingerprint(rule, server, file string, line int64) string {
	h := sha256.New()
	for _, s := range []string{rule, server, file} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(line)))
	return hex.EncodeToString(h.Sum(nil))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func invocationOf(r *finding.Result) Invocation {
	inv := Invocation{ExecutionSuccessful: true}
	if !r.StartedAt.IsZero() {
		inv.StartTimeUTC = fmtTime(r.StartedAt)
		inv.EndTimeUTC = fmtTime(r.StartedAt.Add(time.Duration(r.DurationMS) * time.Millisecond))
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
		n := Notification{
			Level:      "warning",
			Message:    Text{Text: visible.String(cmp.Or(g.Reason, "not read"))},
			Properties: &GapProperties{Server: g.Server, File: g.File},
		}
		if loc, ok := locationOf(g.File, g.Line); ok {
			n.Locations = []Location{loc}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	return inv
}

func locationOf(file string, line int64) (Location, bool) {
	if file == "" {
		return Location{}, false
	}
	loc := Location{PhysicalLocation: PhysicalLocation{ArtifactLocation: artifact(file)}}
	if line > 0 {
		loc.PhysicalLocation.Region = &Region{StartLine: line}
	}
	return loc, true
}

// artifact turns an evidence path into a SARIF artifact location:
// relative paths (the usual case, including "archive.zip!member/path")
// become relative references against EVIDENCEROOT; absolute paths (files
// found on a live server, gaps naming a root) become file: URIs.
func artifact(file string) ArtifactLocation {
	if u, ok := fileURI(file); ok {
		return ArtifactLocation{URI: u}
	}
	return ArtifactLocation{URI: escapePath(file), URIBaseID: rootID}
}

// fileURI returns the file: URI of an absolute path, Unix ("/x"), Windows
// ("C:\x", "C:/x") or UNC ("\\host\share", "//host/share"), whichever OS
// renders the result: a run saved on Windows may be rendered elsewhere.
func fileURI(p string) (string, bool) {
	switch {
	case windowsAbs(p) && p[0] != '\\' && p[0] != '/':
		// Backslashes are separators in a Windows path, not data.
		return "file:///" + p[:2] + escapePath(strings.ReplaceAll(p[2:], `\`, "/")), true
	case windowsAbs(p):
		// UNC: "//host/share/x" keeps its authority.
		return "file:" + escapePath(strings.ReplaceAll(p, `\`, "/")), true
	case strings.HasPrefix(p, "/"):
		return "file://" + escapePath(p), true
	}
	return "", false
}

// windowsAbs reports whether p is a drive ("C:\x", "C:/x") or UNC path.
func windowsAbs(p string) bool {
	drive := len(p) >= 3 && isLetter(p[0]) && p[1] == ':' && (p[2] == '/' || p[2] == '\\')
	return drive || strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// escapePath percent-encodes every byte of p except RFC 3986 unreserved
// characters and '/'. Escaping all reserved characters (not only those a
// path forbids) keeps the reference unambiguous: a ':' cannot turn the first
// segment into a scheme, and '#', '?', '%' stay data. Bytes, not runes, are
// encoded, so names that are not valid UTF-8 round-trip too.
func escapePath(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isLetter(c) || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// evidenceRoot describes EVIDENCEROOT. Paths are relative to the hunted
// folder, or to the folder holding a hunted zip or log file; that folder has
// an absolute URI only when there was exactly one root and it was given as
// an absolute path. Otherwise the base is described but left unresolved, as
// SARIF allows.
func evidenceRoot(roots []string) ArtifactLocation {
	loc := ArtifactLocation{Description: &Text{Text: "The evidence root: paths are relative to the folder given to exhunt, or to the folder holding the zip or log file given to it."}}
	if len(roots) != 1 {
		return loc
	}
	root := roots[0]
	// Discovery tells files from folders by these names too.
	if lower := strings.ToLower(root); strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".log") || strings.HasSuffix(lower, ".log.gz") {
		seps := "/"
		if windowsAbs(root) {
			seps = `/\`
		}
		root = root[:strings.LastIndexAny(root, seps)+1]
	}
	if u, ok := fileURI(root); ok {
		if !strings.HasSuffix(u, "/") {
			u += "/" // a base URI must end with '/' for references to resolve below it
		}
		loc.URI = u
	}
	return loc
}
