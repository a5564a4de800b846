package files

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/aspx"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/yara"
)

// Options tune reading. The zero value means the defaults.
type Options struct {
	// MaxScanBytes is the largest file whose content is read (hashed and
	// scanned); default 512 MiB. Larger files are checked by place and
	// name only and Scan reports ErrTooLarge.
	MaxScanBytes int64
	// MaxBuffer is the largest file read whole into memory; larger files
	// are scanned in overlapping windows of this size. Default 16 MiB.
	MaxBuffer int64
}

const (
	defaultMaxScan   = 512 << 20
	defaultMaxBuffer = 16 << 20
	// maxConfigBytes bounds an IIS configuration file read for parsing.
	maxConfigBytes = 16 << 20
	// maxMatchesShown bounds the string matches kept per YARA finding.
	maxMatchesShown = 16
	maxMatchData    = 64
)

func (o Options) withDefaults() Options {
	if o.MaxScanBytes <= 0 {
		o.MaxScanBytes = defaultMaxScan
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = defaultMaxBuffer
	}
	return o
}

// ErrTooLarge marks a file whose content was not read, or not read to the
// end, because it is larger than Options.MaxScanBytes.
var ErrTooLarge = errors.New("larger than the file hunt's size cap")

// Result is what the file hunt learned from one file.
type Result struct {
	Findings []finding.Finding
	Bytes    int64 // bytes of content read
	Lines    int64 // lines read, for logs (msert)
	// Gaps are problems inside the file (a line of an msert log or an
	// IIS configuration that could not be read): Line and Reason.
	Gaps []LineGap
	// Shell is set when a finding says the file is a web shell planted in
	// a web root: the hunt then looks for it answering in the IIS logs.
	Shell bool
}

// LineGap is part of a file that could not be read.
type LineGap struct {
	Line   int64
	Reason string
}

// Scanner checks files. One per goroutine: it keeps buffers between files.
type Scanner struct {
	r     *Rules
	opt   Options
	names nameMatcher
	head  [512]byte
	buf   []byte // read buffer, kept between files (see release)
	sha   hash.Hash
	sha1  hash.Hash
	md5   hash.Hash
}

// NewScanner returns a scanner for r.
func (r *Rules) NewScanner(opt Options) *Scanner {
	return &Scanner{r: r, opt: opt.withDefaults(), sha: sha256.New(), sha1: sha1.New(), md5: md5.New()}
}

// Cap returns the size cap in force.
func (s *Scanner) Cap() int64 { return s.opt.MaxScanBytes }

// Scan checks one host file or msert log. wrap, if not nil, wraps the
// reader (for progress). The findings of the layers that ran are returned
// with any error: a file that cannot be read is still checked by place and
// name.
func (s *Scanner) Scan(ctx context.Context, f *evidence.File, wrap func(io.Reader) io.Reader) (Result, error) {
	var res Result
	fi := &finding.FileInfo{Path: f.Path, Size: f.Size, Modified: sane(f.ModTime), Created: sane(f.Created)}
	c := &check{r: s.r, f: f, fi: fi}
	if f.Kind == evidence.Msert {
		err := s.scanMsert(ctx, f, c, &res, wrap)
		res.Findings = c.finish()
		return res, err
	}
	s.checkPlace(c)
	if f.Size > s.opt.MaxScanBytes {
		res.Findings = c.finish()
		res.Shell = c.shell
		return res, fmt.Errorf("%w of %d bytes (%d bytes): checked by place and name only", ErrTooLarge, s.opt.MaxScanBytes, f.Size)
	}
	err := s.readContent(ctx, f, c, &res, wrap)
	res.Findings = c.finish()
	res.Shell = c.shell
	return res, err
}

// check collects the findings about one file.
type check struct {
	r     *Rules
	f     *evidence.File
	fi    *finding.FileInfo
	out   []finding.Finding
	shell bool
}

// add records a finding about the file.
func (c *check) add(rule, title string, stage finding.Stage, sev finding.Severity, fields map[string]string) *finding.Finding {
	if fields == nil {
		fields = map[string]string{}
	}
	fields["path"] = c.fi.Path
	fd := finding.Finding{
		Rule: rule, Title: title, Stage: stage, Severity: sev, CVEs: []string{},
		Time:   fileTime(c.f),
		Source: finding.Source{File: c.f.Rel, Kind: string(c.f.Kind)},
		Fields: fields,
	}
	c.out = append(c.out, fd)
	return &c.out[len(c.out)-1]
}

// finish attaches what is known about the file (size, times, hashes) to
// every finding, each with its own copy.
func (c *check) finish() []finding.Finding {
	for i := range c.out {
		fi := *c.fi
		if c.out[i].File != nil {
			fi.Matches = c.out[i].File.Matches
		}
		c.out[i].File = &fi
		fd := c.out[i].Fields
		fd["size"] = strconv.FormatInt(fi.Size, 10)
		if !fi.Modified.IsZero() {
			fd["modified"] = fi.Modified.UTC().Format(time.RFC3339)
		}
		if !fi.Created.IsZero() {
			fd["created"] = fi.Created.UTC().Format(time.RFC3339)
		}
		if fi.SHA256 != "" {
			fd["sha256"] = fi.SHA256
		}
	}
	return c.out
}

// fileTime places a file in time: its creation time when the evidence has
// it and it is the earlier (a copy keeps the modification time but gets a
// new creation time), else its modification time.
func fileTime(f *evidence.File) time.Time {
	t, created := sane(f.ModTime), sane(f.Created)
	if !created.IsZero() && (t.IsZero() || created.Before(t)) {
		t = created
	}
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// sane drops times JSON cannot carry (years past 9999 or before 1), which
// a file system or an archive from a hostile host may hold.
func sane(t time.Time) time.Time {
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}
	}
	return t
}

// webScriptExts are the extensions IIS runs as ASP.NET or classic ASP.
var webScriptExts = map[string]bool{".aspx": true, ".ashx": true, ".asmx": true, ".asp": true, ".asa": true, ".cshtml": true, ".svc": true}

// inWebRoot reports the locations IIS serves files from.
func inWebRoot(loc string) bool {
	return loc == evidence.LocFrontEnd || loc == evidence.LocClientAccess || loc == evidence.LocWWWRoot
}

// checkPlace runs the place and name layers, which need no read.
func (s *Scanner) checkPlace(c *check) {
	f := c.f
	winPath := f.Path
	low := strings.ToLower(strings.ReplaceAll(winPath, "/", `\`))
	name := low[strings.LastIndexByte(low, '\\')+1:]
	ext := path.Ext(name)
	script := webScriptExts[ext]

	if src, ok := s.r.paths[anchorPath(winPath)]; ok {
		fd := c.add("file-ioc-path", "File at a web-shell path from Microsoft's IOC feed", finding.StagePersistence,
			finding.SeverityCritical, map[string]string{"ioc_source": src})
		fd.IOCs = []string{src}
		fd.CVEs = []string{"CVE-2021-27065"}
		fd.Chain = "proxylogon"
		c.shell = c.shell || inWebRoot(f.Sub)
	}
	if f.Sub == evidence.LocFrontEnd && script {
		if folder, sub, ok := authFolder(low); ok && (sub || !s.r.authStd[name]) {
			outcome := "not one of Exchange's pages in " + folder
			if sub {
				outcome = "in a sub-folder of " + folder + ", where Exchange keeps only static files"
			}
			fd := c.add("file-nonstandard-script", scriptTitle, finding.StagePersistence, finding.SeverityHigh,
				map[string]string{"folder": folder})
			fd.Outcome = outcome
			c.shell = true
		}
	}
	if f.Sub == evidence.LocWWWRoot && script && strings.Contains(low, `\inetpub\wwwroot\aspnet_client\`) {
		fd := c.add("file-nonstandard-script", scriptTitle, finding.StagePersistence,
			finding.SeverityHigh, map[string]string{"folder": `inetpub\wwwroot\aspnet_client`})
		fd.Outcome = `in inetpub\wwwroot\aspnet_client, which holds no pages`
		c.shell = true
	}
	if hits := s.r.names.match(&s.names, winPath); len(hits) > 0 {
		// One finding per file, however many expressions match: the
		// highest score speaks for it, every line is listed.
		best := &s.r.names.iocs[hits[0]]
		var lines, comments []string
		for _, i := range hits {
			ioc := &s.r.names.iocs[i]
			if ioc.score > best.score {
				best = ioc
			}
			lines = append(lines, strconv.Itoa(ioc.line))
			if !slices.Contains(comments, ioc.comment) {
				comments = append(comments, ioc.comment)
			}
		}
		fd := c.add("file-ioc-name", "File name matches a signature-base indicator", finding.StagePersistence,
			scoreSeverity(best.score), map[string]string{
				"ioc_regex": best.re.String(), "ioc_score": strconv.Itoa(best.score), "ioc_comment": best.comment,
				"ioc_lines": sbNameFile + ":" + strings.Join(lines, ","),
			})
		for _, cm := range comments {
			fd.IOCs = append(fd.IOCs, "signature-base filename-iocs: "+cm)
		}
		// signature-base's scores: 75 and above are alerts; lower ones
		// are kept as supporting evidence.
		fd.Supporting = best.score < 75
		if !fd.Supporting && script && inWebRoot(f.Sub) {
			c.shell = true
		}
	}
	if strings.HasPrefix(name, "lsass") && ext == ".dmp" {
		c.add("file-lsass-dump", "Dump file named lsass*.dmp, as credential dumps are (the name, not the content)", finding.StageExecution,
			finding.SeverityCritical, nil)
	}
	if f.Sub == evidence.LocProgramData && (ext == ".zip" || ext == ".7z" || ext == ".rar") {
		fd := c.add("file-staging-archive", "Archive in ProgramData, where the attackers staged data for exfiltration",
			finding.StageCollection, finding.SeverityMedium, nil)
		// Antivirus products leave archives here too (Test-ProxyLogon's
		// false positives), so on its own this does not set the verdict.
		fd.Supporting = true
	}
}

const scriptTitle = "Script where Exchange keeps no such page"

// authFolder reports whether a lower-case Windows path lies in
// FrontEnd\HttpProxy\owa\auth or ecp\auth, which folder, and whether it is
// in a sub-folder of it.
func authFolder(low string) (folder string, sub, ok bool) {
	for _, a := range []string{`\frontend\httpproxy\owa\auth\`, `\frontend\httpproxy\ecp\auth\`} {
		if i := strings.Index(low, a); i >= 0 {
			rest := low[i+len(a):]
			return `FrontEnd\HttpProxy\` + a[len(`\frontend\httpproxy\`):len(a)-1], strings.Contains(rest, `\`), true
		}
	}
	return "", false, false
}

func scoreSeverity(score int) finding.Severity {
	switch {
	case score >= 90:
		return finding.SeverityCritical
	case score >= 75:
		return finding.SeverityHigh
	case score >= 50:
		return finding.SeverityMedium
	}
	return finding.SeverityLow
}

// hashWriter feeds the digests a file is checked against.
type hashWriter struct {
	s *Scanner
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	// a piece at a time, so that the digests after the first read it from
	// the cache
	for b := p; len(b) > 0; {
		c := b[:min(len(b), 32<<10)]
		b = b[len(c):]
		h.s.sha.Write(c)
		if h.s.r.needSHA1 {
			h.s.sha1.Write(c)
		}
		if h.s.r.needMD5 {
			h.s.md5.Write(c)
		}
	}
	h.n += int64(len(p))
	return len(p), nil
}

// readContent reads the file once: hashes, YARA and, for IIS
// configuration and server pages, the parsers all see the same bytes. A
// file up to Options.MaxBuffer is read whole into the scanner's buffer,
// with one read for a file on disk; a larger one is streamed to YARA in
// windows while it is hashed.
func (s *Scanner) readContent(ctx context.Context, f *evidence.File, c *check, res *Result, wrap func(io.Reader) io.Reader) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var rd io.Reader = rc
	if wrap != nil {
		rd = wrap(rd)
	}
	// A zip member's stored size is compressed: cap what comes out.
	rd = &capReader{r: rd, left: s.opt.MaxScanBytes}
	s.sha.Reset()
	s.sha1.Reset()
	s.md5.Reset()
	hw := &hashWriter{s: s}
	low := strings.ToLower(f.Path)
	name := low[strings.LastIndexByte(low, '\\')+1:]
	ext := path.Ext(name)
	isConfig := f.Sub == evidence.LocIISConfig || name == "web.config"
	limit := s.opt.MaxBuffer
	if isConfig {
		limit = min(limit, maxConfigBytes)
	}

	var matches []yara.Match
	var info yara.ScanInfo
	var page []byte // a server page read whole
	var data []byte
	whole := false
	if f.Size <= limit || isConfig {
		data, whole, err = s.readWhole(rd, f.Size, limit)
		defer s.release(data)
		hw.Write(data)
		if err != nil {
			return readErr(err)
		}
	} else {
		// larger than a window as stored: only the head first
		n, err := io.ReadFull(rd, s.head[:])
		data = s.head[:n]
		hw.Write(data)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return readErr(err)
		}
	}
	switch {
	case isConfig && !whole:
		return fmt.Errorf("configuration file larger than %d bytes, not read", maxConfigBytes)
	case whole:
		if matches, err = s.r.yara.ScanWithOptions(data, s.externals(f.Path, name, ext, data), yara.ScanOptions{Info: &info}); err != nil {
			return err
		}
		if isConfig {
			issues, gaps := parseIISConfig(data)
			for _, is := range issues {
				s.configFinding(c, is)
			}
			res.Gaps = append(res.Gaps, gaps...)
		} else if pageExts[ext] && len(data) <= maxPageBytes {
			page = data
		}
	default:
		// what was read goes first, the rest is hashed as YARA reads it
		rest := io.MultiReader(bytes.NewReader(data), io.TeeReader(rd, hw))
		matches, err = s.r.yara.ScanReader(rest, -1, s.externals(f.Path, name, ext, data), yara.ScanOptions{MaxBuffer: s.opt.MaxBuffer, Info: &info})
		if err != nil {
			return readErr(err)
		}
		// whatever the scan did not consume still has to be hashed
		if _, err := io.Copy(io.Discard, io.TeeReader(rd, hw)); err != nil {
			return readErr(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res.Gaps = append(res.Gaps, scanGaps(info)...)
	res.Bytes = hw.n
	c.fi.Size = hw.n
	c.fi.SHA256 = hex.EncodeToString(s.sha.Sum(nil))
	if s.r.needSHA1 {
		c.fi.SHA1 = hex.EncodeToString(s.sha1.Sum(nil))
	}
	if s.r.needMD5 {
		c.fi.MD5 = hex.EncodeToString(s.md5.Sum(nil))
	}
	for _, h := range []string{c.fi.SHA256, c.fi.SHA1, c.fi.MD5} {
		if srcs, ok := s.r.hashes[h]; ok && h != "" {
			fd := c.add("file-ioc-hash", "File hash on a published indicator list", finding.StagePersistence, finding.SeverityCritical,
				map[string]string{"ioc_hash": h, "ioc_source": strings.Join(srcs, "; ")})
			fd.IOCs = append([]string(nil), srcs...)
			c.shell = c.shell || inWebRoot(f.Sub) && webScriptExts[ext]
		}
	}
	for _, m := range matches {
		s.yaraFinding(c, m)
	}
	if page != nil {
		s.pageFindings(c, page, ext)
	}
	return nil
}

// keepBuffer is the largest read buffer a scanner keeps between files;
// larger files get one of their own.
const keepBuffer = 4 << 20

// readWhole reads rd to its end into the scanner's buffer if it holds at
// most limit bytes (whole is then true); else it stops after limit+1
// bytes. size is the size as stored, a hint: a file on disk is read with
// one read.
func (s *Scanner) readWhole(rd io.Reader, size, limit int64) (data []byte, whole bool, err error) {
	want := int(min(max(size, 0), limit)) + 1
	b := s.buf[:0]
	if cap(b) < want {
		b = make([]byte, 0, max(want, 4<<10))
	}
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return b, false, nil
			}
			// grown past the stored size (a compressed member)
			nb := make([]byte, len(b), min(int64(2*cap(b)), limit+1))
			copy(nb, b)
			b = nb
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, true, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}

// release keeps a read buffer for the next file, unless it is large.
func (s *Scanner) release(b []byte) {
	if cap(b) <= keepBuffer && cap(b) > cap(s.buf) {
		s.buf = b[:0]
	}
}

// pageExts are the server pages whose code the page reading follows
// (internal/aspx): ASP.NET pages, handlers, services, controls, master
// pages, and classic ASP.
var pageExts = map[string]bool{".aspx": true, ".ashx": true, ".asmx": true, ".ascx": true, ".master": true,
	".svc": true, ".asp": true, ".asa": true}

// maxPageBytes bounds a server page read whole for the page reading;
// larger ones are streamed to YARA only.
const maxPageBytes = 4 << 20

// pageFindings reports what the server code of a page does with request
// input: one finding per kind of use, each with the reasons (and lines)
// it fired on. A page that runs what the request says is a web shell:
// persistence, the server is compromised.
func (s *Scanner) pageFindings(c *check, data []byte, ext string) {
	p := aspx.Parse(data, ext)
	for _, d := range s.r.pages.Analyze(p) {
		reasons := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			reasons[i] = r.String()
		}
		fd := c.add(d.Rule, d.Title, finding.StagePersistence, finding.Severity(d.Severity), map[string]string{
			"page_language": p.Lang.String(), "page_directive": p.Directive, "reasons": strings.Join(reasons, "; "),
		})
		fd.Outcome = reasons[0]
		if inWebRoot(c.f.Sub) {
			c.shell = true
		}
	}
}

// scanGaps reports the limits a YARA scan hit: a string whose matching
// ran out of its time budget (a pathological pattern) or reached the match
// cap, a loop that was cut. The rules involved may have missed this file.
func scanGaps(info yara.ScanInfo) []LineGap {
	var out []LineGap
	if len(info.SlowStrings) > 0 {
		out = append(out, LineGap{Reason: "YARA strings stopped at their time budget, their rules may miss this file: " + strings.Join(info.SlowStrings, ", ")})
	}
	// a string dropped for a budget is also marked truncated: say it once
	capped := slices.DeleteFunc(slices.Clone(info.TruncatedStrings), func(s string) bool {
		return slices.Contains(info.SlowStrings, s) || slices.Contains(info.MemoryStrings, s) || slices.Contains(info.TimeoutStrings, s)
	})
	if len(capped) > 0 {
		out = append(out, LineGap{Reason: "YARA strings reached the match cap, counts and offsets are partial: " + strings.Join(capped, ", ")})
	}
	if info.LoopBudgetExceeded {
		out = append(out, LineGap{Reason: "a YARA loop was cut at its budget and counted as not matching"})
	}
	if len(info.MemoryStrings) > 0 {
		out = append(out, LineGap{Reason: "YARA strings stopped at the scan's memory budget, their rules may miss this file: " + strings.Join(info.MemoryStrings, ", ")})
	}
	if info.TimedOut {
		out = append(out, LineGap{Reason: "YARA matching stopped at the time budget for this file, every rule was evaluated on the matches found until then; being matched: " + strings.Join(info.TimeoutStrings, ", ")})
	}
	return out
}

func readErr(err error) error {
	if errors.Is(err, errCapped) {
		return fmt.Errorf("%w: content read up to the cap only", ErrTooLarge)
	}
	return err
}

var errCapped = errors.New("capped")

// capReader fails once more than left bytes are read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errCapped
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), errCapped
	}
	return n, err
}

// externals are the YARA external variables for a file (see Externals).
func (s *Scanner) externals(winPath, lowName, ext string, head []byte) map[string]string {
	base := winPath[strings.LastIndexAny(winPath, `\/`)+1:]
	return map[string]string{"filename": base, "filepath": winPath, "extension": ext, "filetype": fileType(head)}
}

// fileType labels a file by its first bytes, as LOKI's filetype external.
func fileType(head []byte) string {
	for _, m := range magics {
		if len(head) >= len(m.magic) && string(head[:len(m.magic)]) == m.magic {
			return m.label
		}
	}
	return "UNKNOWN"
}

var magics = []struct{ magic, label string }{
	{"MZ", "EXE"},
	{"PK\x03\x04", "ZIP"},
	{"Rar!", "RAR"},
	{"7z\xbc\xaf\x27\x1c", "7ZIP"},
	{"\x1f\x8b", "GZIP"},
	{"MSCF", "CAB"},
	{"!BDN", "PST"},
	{"MDMP", "DMP"},
	{"%PDF", "PDF"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE"},
	{"\x7fELF", "ELF"},
}
