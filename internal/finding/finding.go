// Package finding is exhunt's vocabulary: findings, per-server results and the
// JSON document every output format renders.
//
// Field names are snake_case and stable: saved runs are re-rendered later and
// read by other tools.
package finding

import (
	"fmt"
	"time"
)

// SchemaVersion is bumped when a field changes meaning or is removed.
const SchemaVersion = 1

// Severity of a finding.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

var severityRank = map[Severity]int{
	SeverityInfo: 0, SeverityLow: 1, SeverityMedium: 2, SeverityHigh: 3, SeverityCritical: 4,
}

// Rank orders severities; unknown values rank below info.
func (s Severity) Rank() int {
	if r, ok := severityRank[s]; ok {
		return r
	}
	return -1
}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { _, ok := severityRank[s]; return ok }

// Stage is how far an attack got, as shown by one piece of evidence.
type Stage string

const (
	// StageReconnaissance: scanning, probing for vulnerabilities or web shells.
	StageReconnaissance Stage = "reconnaissance"
	// StageAttempt: an exploit request that failed or cannot be shown to have
	// reached the back end.
	StageAttempt Stage = "attempt"
	// StageExploitation: an exploit reached the back end (SSRF answered).
	StageExploitation Stage = "exploitation"
	// StagePersistence: a file written or planted, a virtual directory
	// rewritten, a role granted.
	StagePersistence Stage = "persistence"
	// StageCollection: mailbox data read or exported.
	StageCollection Stage = "collection"
	// StageExecution: the access was used: web-shell commands, follow-on
	// activity.
	StageExecution Stage = "execution"
)

var stageRank = map[Stage]int{
	StageReconnaissance: 0, StageAttempt: 1, StageExploitation: 2,
	StagePersistence: 3, StageCollection: 4, StageExecution: 5,
}

// Valid reports whether s is a known stage.
func (s Stage) Valid() bool { _, ok := stageRank[s]; return ok }

// Rank orders stages from reconnaissance to execution.
func (s Stage) Rank() int {
	if r, ok := stageRank[s]; ok {
		return r
	}
	return -1
}

// Verdict is the per-server answer.
type Verdict string

const (
	// VerdictClean: no indicator in the evidence read.
	VerdictClean Verdict = "clean"
	// VerdictProbed: only reconnaissance or failed attempts.
	VerdictProbed Verdict = "probed"
	// VerdictAttempted: an exploit reached the back end, but nothing shows a
	// write, data access or execution.
	VerdictAttempted Verdict = "attempted"
	// VerdictCompromised: a file written or planted, a virtual directory
	// rewritten, mailbox data read or exported.
	VerdictCompromised Verdict = "compromised"
	// VerdictExploited: the access was used (web-shell commands, follow-on
	// activity).
	VerdictExploited Verdict = "exploited"
)

var verdictRank = map[Verdict]int{
	VerdictClean: 0, VerdictProbed: 1, VerdictAttempted: 2, VerdictCompromised: 3, VerdictExploited: 4,
}

// Rank orders verdicts from clean to exploited.
func (v Verdict) Rank() int {
	if r, ok := verdictRank[v]; ok {
		return r
	}
	return -1
}

// Valid reports whether v is a known verdict.
func (v Verdict) Valid() bool { _, ok := verdictRank[v]; return ok }

// Verdict maps the stage of one finding to the least verdict it implies.
func (s Stage) Verdict() Verdict {
	switch s {
	case StageReconnaissance, StageAttempt:
		return VerdictProbed
	case StageExploitation:
		return VerdictAttempted
	case StagePersistence, StageCollection:
		return VerdictCompromised
	case StageExecution:
		return VerdictExploited
	}
	return VerdictClean
}

// Source points at the evidence: a file relative to the hunted root (with
// "archive.zip!inner/path" for files read from a zip) and a 1-based line.
type Source struct {
	File string `json:"file"`
	Line int64  `json:"line,omitempty"`
	// Kind is the log source, e.g. "httpproxy" or "iis".
	Kind string `json:"kind"`
}

func (s Source) String() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
	return s.File
}

// Finding is one rule hit on one piece of evidence.
type Finding struct {
	Server   string   `json:"server"`
	Rule     string   `json:"rule"`
	Title    string   `json:"title"`
	Stage    Stage    `json:"stage"`
	Outcome  string   `json:"outcome,omitempty"`
	CVEs     []string `json:"cves"`
	Chain    string   `json:"chain,omitempty"`
	Severity Severity `json:"severity"`
	// Time is the event time from the log line (UTC); zero when the line has none.
	Time      time.Time         `json:"time,omitzero"`
	Source    Source            `json:"source"`
	ClientIP  string            `json:"client_ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Mailbox   string            `json:"mailbox,omitempty"`
	Fields    map[string]string `json:"fields"`
	// IOCs names published indicator lists this evidence appears in.
	IOCs []string `json:"iocs,omitempty"`
	// File describes the file a finding of the file hunt is about: its
	// path on the server, times, hashes and the YARA matches behind it.
	File *FileInfo `json:"file,omitempty"`
	// Supporting findings are reported but do not raise the verdict on
	// their own (an archive in ProgramData, which antivirus products leave
	// too): they count once another finding shows an exploit reached the
	// server.
	Supporting bool `json:"supporting,omitempty"`
}

// FileInfo is the evidence about one file on the server.
type FileInfo struct {
	// Path is the file's Windows path on the server, rebuilt from the
	// evidence layout ("…\" where its start is not in the evidence).
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified,omitzero"`
	// Created is set where the evidence keeps creation times (NTFS, zips
	// written on Windows).
	Created time.Time `json:"created,omitzero"`
	SHA256  string    `json:"sha256,omitempty"`
	SHA1    string    `json:"sha1,omitempty"`
	MD5     string    `json:"md5,omitempty"`
	// Matches are the string matches of the YARA rule behind the finding.
	Matches []StringMatch `json:"matches,omitempty"`
}

// StringMatch is one match of a YARA string in a file.
type StringMatch struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	// Data is the start of the matched bytes, non-printable bytes as \xNN.
	Data string `json:"data"`
}

// Coverage says how far one log source of one server reaches.
type Coverage struct {
	Source  string    `json:"source"`
	Files   int       `json:"files"`
	Bytes   int64     `json:"bytes"`
	Lines   int64     `json:"lines"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	Skipped int       `json:"skipped_files"`
	// SizeCap is the largest file whose content the file hunt reads;
	// bigger files are checked by path and name only (and are skipped).
	SizeCap int64 `json:"size_cap,omitempty"`
}

// Gap is input that was not read, or not read fully.
type Gap struct {
	Server string `json:"server,omitempty"`
	File   string `json:"file"`
	Line   int64  `json:"line,omitempty"`
	Reason string `json:"reason"`
}

func (g Gap) String() string {
	loc := g.File
	if g.Line > 0 {
		loc = fmt.Sprintf("%s:%d", g.File, g.Line)
	}
	return loc + ": " + g.Reason
}

// Attacker summarises one client address that triggered findings.
type Attacker struct {
	IP         string    `json:"ip"`
	UserAgents []string  `json:"user_agents"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	Requests   int64     `json:"requests"`
	MaxStage   Stage     `json:"max_stage"`
	IOCs       []string  `json:"iocs,omitempty"`
}

// MailboxAccess is a mailbox an attacker targeted.
type MailboxAccess struct {
	Mailbox string `json:"mailbox"`
	// Answered is true when the back end answered with success at least once.
	Answered  bool      `json:"answered"`
	Requests  int64     `json:"requests"`
	Actions   []string  `json:"actions,omitempty"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Via       []string  `json:"via"`
}

// BuildSeen is one Exchange build observed in the logs.
type BuildSeen struct {
	Build   string    `json:"build"`
	Product string    `json:"product,omitempty"`
	Update  string    `json:"update,omitempty"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	Source  string    `json:"source"`
}

// ChainStatus is whether a build was exposed to one exploit chain.
type ChainStatus struct {
	Chain string `json:"chain"`
	// Status is vulnerable, patched, partial, not-affected or unknown.
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// BuildHistory is the builds a server ran while its logs were written.
type BuildHistory struct {
	Current string        `json:"current,omitempty"`
	Seen    []BuildSeen   `json:"seen"`
	Chains  []ChainStatus `json:"chains"`
	// Changes lists "<time>: <old> -> <new>" build changes (patch installs).
	Changes []string `json:"changes,omitempty"`
}

// TimelineEntry is one finding placed in time.
type TimelineEntry struct {
	Time     time.Time `json:"time,omitzero"`
	Rule     string    `json:"rule"`
	Stage    Stage     `json:"stage"`
	Severity Severity  `json:"severity"`
	Summary  string    `json:"summary"`
	Source   Source    `json:"source"`
}

// RuleCount records findings dropped beyond the per-rule cap.
type RuleCount struct {
	Rule  string `json:"rule"`
	Count int64  `json:"count"`
}

// Server is the verdict and evidence for one Exchange server.
type Server struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	// Inconclusive is true when the logs do not reach back to the window in
	// which the server was exposed; Reasons says why.
	Inconclusive      bool            `json:"inconclusive"`
	Reasons           []string        `json:"inconclusive_reasons,omitempty"`
	Build             BuildHistory    `json:"build"`
	Coverage          []Coverage      `json:"coverage"`
	Gaps              []Gap           `json:"gaps,omitempty"`
	Attackers         []Attacker      `json:"attackers"`
	MailboxesAccessed []MailboxAccess `json:"mailboxes_accessed"`
	Findings          []Finding       `json:"findings"`
	Suppressed        []RuleCount     `json:"suppressed,omitempty"`
	Timeline          []TimelineEntry `json:"timeline"`
	// UnusableClientAddresses counts findings whose client-address field
	// held no address ("-", "[REDACTED]", garbage): they name no attacker.
	UnusableClientAddresses int64 `json:"unusable_client_addresses,omitempty"`
	// Remediation is what to do now, in order, drawn from this server's
	// evidence and build.
	Remediation []Action `json:"remediation"`
}

// Remediation steps, in the order a plan takes them.
const (
	StepContain     = "contain"
	StepMitigate    = "mitigate"
	StepPatch       = "patch"
	StepPreserve    = "preserve"
	StepCredentials = "credentials"
	StepPeople      = "people"
	StepRecheck     = "recheck"
)

// Action is one step of a server's remediation plan.
type Action struct {
	Step string `json:"step"`
	// Urgency is immediate, high or normal.
	Urgency string `json:"urgency"`
	Title   string `json:"title"`
	Detail  string `json:"detail,omitempty"`
	// Warning says what the action does not achieve (a bypassable
	// mitigation, logs that do not reach back far enough).
	Warning string `json:"warning,omitempty"`
	// Items are what the action is about: files with their hashes,
	// mailboxes, virtual directories, export requests, updates.
	Items []ActionItem `json:"items,omitempty"`
	// Reason is the evidence the action follows from; never empty.
	Reason Reason `json:"reason"`
	// Preserve is the evidence to copy before acting.
	Preserve []string `json:"preserve,omitempty"`
	// Guidance is the id of the remediation entry the action comes from;
	// Sources cite the documents behind it.
	Guidance string   `json:"guidance"`
	Sources  []string `json:"sources"`
}

// ActionItem is one thing an action names.
type ActionItem struct {
	// Kind is file, mailbox, vdir, export-request, role-assignment,
	// update or log.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"`
	// Value is the setting found (a rewritten ExternalUrl), the build an
	// update brings, or a command to run.
	Value string `json:"value,omitempty"`
	// Findings are the rules that found this item.
	Findings []string `json:"findings,omitempty"`
}

// Reason is why an action is in a plan: rule ids of the server's findings,
// and facts about its build, verdict or coverage.
type Reason struct {
	Findings []string `json:"findings,omitempty"`
	Facts    []string `json:"facts,omitempty"`
}

// Empty reports whether the reason names nothing.
func (r Reason) Empty() bool { return len(r.Findings) == 0 && len(r.Facts) == 0 }

// Result is one run of exhunt: the document --format json writes and
// `exhunt report` reads back.
type Result struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          string    `json:"tool"`
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
	Roots         []string  `json:"roots"`
	Rules         int       `json:"rules"`
	Servers       []Server  `json:"servers"`
	// Gaps lists input that belongs to no server (unreadable roots, bad zips).
	Gaps []Gap `json:"gaps,omitempty"`
}

// Worst returns the highest verdict among the servers.
func (r *Result) Worst() Verdict {
	w := VerdictClean
	for _, s := range r.Servers {
		if s.Verdict.Rank() > w.Rank() {
			w = s.Verdict
		}
	}
	return w
}
