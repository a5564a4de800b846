package hunt

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/rule"
	"github.com/exhunt/exhunt/internal/winevent"
)

// A comsvcs.dll MiniDump command line gives the PID of the process it
// dumps, not its name, so its rule claims no victim. nameDumpTargets looks
// for the evidence that names the PID: a Sysmon 10 event of a dump opening
// it (found by the dump rules), else the process-creation event that gave
// the PID out (Sysmon 1 or Security 4688 in the server's event logs). A
// dump whose target is lsass.exe becomes an LSASS dump; any other target
// is named in the finding.
const (
	ruleProcDump  = "process-memory-dump-comsvcs"
	ruleLsassDump = "lsass-memory-dump"
)

var reMiniDumpPID = regexp.MustCompile(`(?i)(?:MiniDump|#\+?24|#-4294967272)[\s,]+(\d{1,10})(?:\s|$)`)

// dumpTarget is a process a PID belonged to, and the event saying so.
type dumpTarget struct {
	image string
	from  string
	t     time.Time
	// start: a process-creation event (the PID was the process's from
	// then on); else an access event at that time
	start bool
}

func (h *Hunter) nameDumpTargets(ctx context.Context, st *serverState) error {
	dumps := st.col.kept(ruleProcDump)
	if len(dumps) == 0 {
		return nil
	}
	targets := map[string][]dumpTarget{}
	for _, r := range []string{ruleProcDump, ruleLsassDump} {
		for _, f := range st.col.kept(r) {
			if img := f.Fields["TargetImage"]; img != "" {
				pid := f.Fields["TargetProcessId"]
				targets[pid] = append(targets[pid], dumpTarget{image: img, from: "Sysmon 10 at " + f.Source.String(), t: f.Time})
			}
		}
	}
	want := map[string]bool{}
	for _, f := range dumps {
		if m := reMiniDumpPID.FindStringSubmatch(f.Fields["CommandLine"]); m != nil && len(targets[m[1]]) == 0 {
			want[m[1]] = true
		}
	}
	if len(want) > 0 {
		if err := h.processStarts(ctx, st, want, targets); err != nil {
			return err
		}
	}
	var keep []finding.Finding
	for _, f := range dumps {
		if img := f.Fields["TargetImage"]; img != "" {
			f.Outcome = "comsvcs.dll opened " + baseName(img) + " (PID " + f.Fields["TargetProcessId"] + ", Sysmon 10)"
			keep = append(keep, f)
			continue
		}
		m := reMiniDumpPID.FindStringSubmatch(f.Fields["CommandLine"])
		if m == nil {
			keep = append(keep, f)
			continue
		}
		pid := m[1]
		tg, ok := targetAt(targets[pid], f.Time)
		switch {
		case !ok:
			f.Outcome = "comsvcs.dll MiniDump of PID " + pid + "; no event in the evidence names that process"
		case strings.EqualFold(baseName(tg.image), "lsass.exe"):
			if cr := h.ruleByID(ruleLsassDump); cr != nil {
				f.Rule, f.Title, f.Severity = ruleLsassDump, cr.Rule.Title, cr.Rule.Severity
			}
			f.Outcome = "comsvcs.dll MiniDump of PID " + pid + ", lsass.exe (" + tg.from + ")"
			f.Fields["TargetImage"] = tg.image
			st.col.sample(f) // moved, not new: tallied already
			continue
		default:
			f.Outcome = "comsvcs.dll MiniDump of PID " + pid + ", " + baseName(tg.image) + " (" + tg.from + ")"
			f.Fields["TargetImage"] = tg.image
		}
		keep = append(keep, f)
	}
	st.col.setKept(ruleProcDump, keep)
	return nil
}

// targetAt picks the process a PID named at time t: the access event
// nearest in time (within ten minutes), else the last process started
// with that PID before t.
func targetAt(ts []dumpTarget, t time.Time) (dumpTarget, bool) {
	var best dumpTarget
	found := false
	for _, x := range ts {
		if x.start {
			continue
		}
		d := x.t.Sub(t).Abs()
		if d <= 10*time.Minute && (!found || d < best.t.Sub(t).Abs()) {
			best, found = x, true
		}
	}
	if found {
		return best, true
	}
	for _, x := range ts {
		if x.start && !x.t.After(t) && (!found || x.t.After(best.t)) {
			best, found = x, true
		}
	}
	return best, found
}

// processStarts reads the server's event logs for the process-creation
// events of the wanted PIDs.
func (h *Hunter) processStarts(ctx context.Context, st *serverState, want map[string]bool, out map[string][]dumpTarget) error {
	for _, f := range st.ev.Files {
		if f.Kind != evidence.EVTX {
			continue
		}
		r, _, done, err := openEventLog(f, func(rd io.Reader) io.Reader { return rd }, func(int64) {})
		if err != nil {
			continue // reported as a gap in the first pass
		}
		_, err = r.Events(ctx, 1, func(e *evtx.Event) error {
			v := winevent.New(e).As(winevent.ProcessCreation)
			if v == nil {
				return nil
			}
			pidText, _ := v.Field("ProcessId")
			if id, _ := e.Field("EventID"); strings.TrimSpace(id) == "4688" {
				// 4688 writes the new process's id in hex as NewProcessId
				pidText, _ = e.Field("NewProcessId")
			}
			pid, ok := parsePID(pidText)
			if !ok || !want[pid] {
				return nil
			}
			img, _ := v.Field("Image")
			out[pid] = append(out[pid], dumpTarget{image: strings.Clone(img), t: e.Time, start: true,
				from: "process creation at " + f.Rel + ":" + strconv.FormatUint(e.RecordID, 10)})
			return nil
		})
		done()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// parsePID reads a decimal or 0x-hex process id as decimal text.
func parsePID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = h, 16
	}
	n, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

func (h *Hunter) ruleByID(id string) *rule.Compiled {
	for _, cr := range h.cat.Rules {
		if cr.Rule.ID == id {
			return cr
		}
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}
