package hunt

import (
	"context"
	"io"
	"net/url"
	"strings"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/files"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/logs"
)

// ruleShellAnswered: a web shell found on disk answered a request in the
// IIS logs, so it was used, not merely planted.
const ruleShellAnswered = files.RuleShellAnswered

// readHostFile runs the file hunt over one file: place and name, then one
// read for hashes, YARA and the parsers.
func (w *worker) readHostFile(ctx context.Context, j fileResult) fileResult {
	if w.files == nil {
		w.files = w.h.cat.Files.NewScanner(w.h.opt.Files)
	}
	res, err := w.files.Scan(ctx, j.file, func(r io.Reader) io.Reader { return w.h.opt.Progress.Reader(w.id, r) })
	for _, f := range res.Findings {
		j.col.add(f)
	}
	j.shell = res.Shell
	j.stats.Bytes = res.Bytes
	j.stats.Records = res.Lines
	for _, g := range res.Gaps {
		j.stats.Gaps = append(j.stats.Gaps, logs.LineGap{Line: g.Line, Reason: g.Reason})
	}
	j.err = err
	return j
}

// finishFiles completes a server's file hunt once every file is read:
// web shells answering in the IIS logs, supporting evidence that another
// finding now backs, and the size cap on the coverage lines.
func (h *Hunter) finishFiles(ctx context.Context, st *serverState) error {
	if err := h.joinShells(ctx, st); err != nil {
		return err
	}
	t := &st.col.tally
	if t.stage.Rank() >= finding.StageExploitation.Rank() {
		// An archive in ProgramData is staging once an exploit is known to
		// have reached the server; alone it may be an antivirus's.
		st.col.each(func(f *finding.Finding) { f.Supporting = false })
		t.stage = higher(t.stage, t.supporting)
	}
	cap := h.opt.Files.MaxScanBytes
	if cap <= 0 {
		cap = h.cat.Files.NewScanner(h.opt.Files).Cap()
	}
	for k, c := range st.coverage {
		if strings.HasPrefix(k, string(evidence.HostFile)+":") {
			c.SizeCap = cap
		}
	}
	return nil
}

// shellURL maps a file under a web root to the URL path IIS serves it at:
// FrontEnd\HttpProxy and inetpub\wwwroot on the front-end site,
// ClientAccess on the back end's.
func shellURL(winPath string) string {
	low := strings.ToLower(winPath)
	for _, root := range []string{`\frontend\httpproxy\`, `\clientaccess\`, `\inetpub\wwwroot\`} {
		if i := strings.Index(low, root); i >= 0 {
			return "/" + strings.ToLower(strings.ReplaceAll(winPath[i+len(root):], `\`, "/"))
		}
	}
	return ""
}

// joinShells reads the server's IIS logs for requests to the web shells
// the file hunt found there, and reports each one answered (2xx): the
// shell ran, so the server was exploited, not only compromised.
func (h *Hunter) joinShells(ctx context.Context, st *serverState) error {
	shells := map[string]*evidence.File{}
	var lits []string
	for _, f := range st.shells {
		if u := shellURL(f.Path); u != "" && shells[u] == nil {
			shells[u] = f
			lits = append(lits, u)
		}
	}
	if len(shells) == 0 {
		return nil
	}
	kr := h.kind[string(evidence.IIS)]
	if kr == nil {
		return nil
	}
	sc := &logs.Scanner{Format: kr.format, Prefilter: logs.NewPrefilter(lits), Kind: string(evidence.IIS)}
	// a flood of requests to a shell must not grow memory: capped like
	// every rule's findings
	found := newCollector(h.opt.MaxFindingsPerRule)
	for _, f := range st.ev.Files {
		if f.Kind != evidence.IIS {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue // already reported as a gap in the first pass
		}
		_, err = sc.Scan(ctx, rc, func(rec *logs.Record) error {
			stem, _ := rec.Field("cs-uri-stem")
			if u, err := url.PathUnescape(stem); err == nil {
				stem = u
			}
			shell := shells[strings.ToLower(stem)]
			status, _ := rec.Field("sc-status")
			if shell == nil || len(status) != 3 || status[0] != '2' {
				return nil
			}
			found.add(h.shellAnswered(rec, f, shell, status))
			return nil
		})
		rc.Close()
		if err := ctx.Err(); err != nil {
			return err
		}
		_ = err // read errors were reported in the first pass
	}
	st.col.merge(found)
	if h.opt.OnFinding != nil {
		for _, fd := range found.findings() {
			h.opt.OnFinding(fd)
		}
	}
	return nil
}

func (h *Hunter) shellAnswered(rec *logs.Record, f, shell *evidence.File, status string) finding.Finding {
	fields := rec.Fields([]string{"cs-method", "cs-uri-stem", "cs-uri-query", "sc-status", "cs-user-agent"})
	fields["shell_file"] = shell.Rel
	fields["shell_path"] = shell.Path
	fd := finding.Finding{
		Rule:     ruleShellAnswered,
		Title:    "Web shell found on disk answered a request",
		Stage:    finding.StageExecution,
		Outcome:  "answered " + status,
		CVEs:     []string{},
		Severity: finding.SeverityCritical,
		Time:     rec.Time,
		Source:   finding.Source{File: f.Rel, Line: rec.Line, Kind: string(f.Kind)},
		Fields:   fields,
	}
	fd.ClientIP, _ = rec.Field("c-ip")
	if sip, ok := rec.Field("s-ip"); ok && sip != "" {
		fd.Fields["s-ip"] = sip
	}
	ua, _ := rec.Field("cs-user-agent")
	fd.UserAgent = strings.ReplaceAll(ua, "+", " ")
	if fd.ClientIP != "" && h.inList("attacker-ips", fd.ClientIP) {
		fd.IOCs = append(fd.IOCs, "attacker-ips (Volexity, CISA AA21-062A)")
	}
	return fd
}

// ruleGaps lists the file-hunt rules that did not load, as gaps of the
// run: a skipped rule is coverage lost, and the report must say so.
func (h *Hunter) ruleGaps() []finding.Gap {
	var out []finding.Gap
	for _, p := range h.cat.Files.Problems() {
		reason := p.Reason
		if p.Rule != "" {
			reason = "rule " + p.Rule + ": " + reason
		}
		if p.Skipped {
			reason += " (skipped)"
		}
		out = append(out, finding.Gap{File: p.File, Line: int64(p.Line), Reason: reason})
	}
	return out
}
