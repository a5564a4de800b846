package hunt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"exhunt/internal/evidence"
	"exhunt/internal/evtx"
	"exhunt/internal/finding"
	"exhunt/internal/logs"
	"exhunt/internal/sigma"
)

// maxEvtxInMemory bounds an event log read from a zip or gzip, which has to
// be held in memory for the reader's random access.
const maxEvtxInMemory = 1 << 30

// evtxRecord presents an event to rules: its flat fields, and its values
// for keyword searches.
type evtxRecord struct {
	ev  *evtx.Event
	raw string
}

// Field looks a name up ASCII case-insensitively: rules compile field names
// to lower case, the event keeps Windows' spelling.
func (r *evtxRecord) Field(name string) (string, bool) {
	if v, ok := r.ev.Field(name); ok {
		return v, true
	}
	for _, f := range r.ev.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

func (r *evtxRecord) Values() []string {
	out := make([]string, len(r.ev.Fields))
	for i, f := range r.ev.Fields {
		out[i] = f.Value
	}
	return out
}

func (r *evtxRecord) Raw() string {
	if r.raw == "" {
		r.raw = strings.Join(r.Values(), "\n")
	}
	return r.raw
}

// readEVTX runs the Sigma rules over one event log.
func (w *worker) readEVTX(ctx context.Context, j fileResult) fileResult {
	rc, err := j.file.Open()
	if err != nil {
		j.err = err
		return j
	}
	defer rc.Close()
	var ra io.ReaderAt
	var size int64
	if f, ok := rc.(*os.File); ok {
		st, err := f.Stat()
		if err != nil {
			j.err = err
			return j
		}
		ra, size = f, st.Size()
	} else {
		data, err := io.ReadAll(io.LimitReader(w.h.opt.Progress.Reader(w.id, rc), maxEvtxInMemory+1))
		if err != nil {
			j.err = err
			return j
		}
		if len(data) > maxEvtxInMemory {
			j.err = fmt.Errorf("%s: event log larger than %d bytes inside an archive; extract it", j.file.Rel, maxEvtxInMemory)
			return j
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	j.stats.Bytes = size
	r, err := evtx.Open(ra, size, evtx.Options{Name: j.file.Rel})
	if err != nil {
		j.err = err
		return j
	}
	rules := w.h.cat.Sigma.Rules
	st, err := r.Events(ctx, 1, func(ev *evtx.Event) error {
		j.stats.Records++
		if !ev.Time.IsZero() {
			if j.stats.First.IsZero() || ev.Time.Before(j.stats.First) {
				j.stats.First = ev.Time
			}
			if ev.Time.After(j.stats.Last) {
				j.stats.Last = ev.Time
			}
		}
		if j.stats.Host == "" {
			j.stats.Host, _ = ev.Field("Computer")
		}
		rec := &evtxRecord{ev: ev}
		for _, sr := range rules {
			if sr.Match(rec) {
				j.findings = append(j.findings, sigmaFinding(sr, ev, j.file))
			}
		}
		return nil
	})
	for _, p := range st.Corrupt {
		j.stats.Gaps = append(j.stats.Gaps, lineGap(p))
	}
	if st.MoreProblems > 0 {
		j.stats.MoreGaps += int64(st.MoreProblems)
	}
	if err != nil {
		j.err = err
	}
	return j
}

func lineGap(p evtx.Problem) logs.LineGap {
	return logs.LineGap{Line: int64(p.Record), Reason: p.String()}
}

// sigmaFinding turns a Sigma hit into a finding. Sigma rules carry a level
// and ATT&CK tags, not a stage: the stage comes from the tactic tags.
func sigmaFinding(r *sigma.Rule, ev *evtx.Event, f *evidence.File) finding.Finding {
	fd := finding.Finding{
		Rule:     "sigma:" + r.ID,
		Title:    r.Title,
		Stage:    sigmaStage(r.Tags),
		Severity: sigmaSeverity(r.Level),
		CVEs:     []string{},
		Time:     ev.Time,
		// for event logs the "line" is the event record id
		Source: finding.Source{File: f.Rel, Line: int64(ev.RecordID), Kind: string(evidence.EVTX)},
		Fields: map[string]string{},
	}
	for _, t := range r.Tags {
		if c, ok := strings.CutPrefix(strings.ToLower(t), "cve."); ok {
			fd.CVEs = append(fd.CVEs, "CVE-"+c)
		}
	}
	for _, fl := range ev.Fields {
		if len(fd.Fields) >= 24 {
			break
		}
		v := fl.Value
		if len(v) > 2048 {
			v = v[:2048] + "…"
		}
		fd.Fields[fl.Name] = v
	}
	return fd
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

func sigmaStage(tags []string) finding.Stage {
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

func sigmaSeverity(level string) finding.Severity {
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
