package files

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/literal"
)

// MsertDetection is one "Threat Detected" entry of a Microsoft Safety
// Scanner log (Windows\debug\msert.log, which EOMT also searches for this
// string).
type MsertDetection struct {
	Line   int64  // 1-based line of "Threat Detected"
	Threat string // the detection name, e.g. Backdoor:ASP/Chopper.F!dha
	Status string // the rest of the line, e.g. "not removed."
	// Files are the resources listed under the detection (file://...,
	// containerfile://...), at most maxMsertFiles; More counts the rest.
	Files []string
	More  int
	// Scan is the "Started On" line of the scan the detection belongs to,
	// as written (local time of the server, zone unknown).
	Scan string
}

const (
	maxMsertLine  = 64 << 10
	maxMsertFiles = 20
	maxMsertGaps  = 20
)

// ParseMsert reads an msert log, ANSI or UTF-16 (with a byte-order mark),
// line by line, and calls fn for each detection once its resource lines
// are read. Lines longer than 64 KiB are cut and reported. It returns the
// number of lines read.
func ParseMsert(r io.Reader, fn func(MsertDetection)) (int64, []LineGap, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(2); err == nil && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		br.Discard(2)
		br = bufio.NewReaderSize(&utf16Reader{r: br, be: b[0] == 0xfe}, 64<<10)
	}
	var (
		line  int64
		gaps  []LineGap
		cur   *MsertDetection
		scan  string
		chunk []byte
	)
	flush := func() {
		if cur != nil {
			fn(*cur)
			cur = nil
		}
	}
	for {
		text, long, err := readLine(br, &chunk)
		if err != nil && len(text) == 0 && !long {
			flush()
			if errors.Is(err, io.EOF) {
				return line, gaps, nil
			}
			return line, gaps, err
		}
		line++
		if long && len(gaps) < maxMsertGaps {
			gaps = append(gaps, LineGap{Line: line, Reason: "line longer than 64 KiB, read in part"})
		}
		s := strings.TrimRight(string(text), "\r")
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		trimmed := strings.TrimSpace(s)
		indented := len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
		switch {
		case hasPrefixFold(trimmed, "started on "):
			flush()
			scan = strings.TrimSpace(trimmed[len("started on "):])
		case literal.IndexFold(trimmed, "threat detected") >= 0:
			flush()
			d := MsertDetection{Line: line, Scan: scan}
			rest := trimmed[literal.IndexFold(trimmed, "threat detected")+len("threat detected"):]
			rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
			d.Threat, d.Status, _ = strings.Cut(rest, ",")
			d.Threat, d.Status = strings.TrimSpace(d.Threat), strings.TrimSpace(d.Status)
			cur = &d
		case cur != nil && indented:
			if res, ok := msertResource(trimmed); ok {
				if len(cur.Files) < maxMsertFiles {
					cur.Files = append(cur.Files, res)
				} else {
					cur.More++
				}
			}
		case cur != nil && trimmed != "":
			flush()
		}
		if err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				return line, gaps, nil
			}
			return line, gaps, err
		}
	}
}

// msertResource extracts the resource of a detection line, e.g.
// "file://C:\inetpub\wwwroot\aspnet_client\x.aspx SigSeq: 0x..." or
// "containerfile://C:\x.zip->y.aspx".
func msertResource(s string) (string, bool) {
	for _, p := range []string{"containerfile://", "file://", "file:_", "file:"} {
		if i := literal.IndexFold(s, p); i >= 0 {
			res := s[i+len(p):]
			if j := literal.IndexFold(res, " sigseq"); j >= 0 {
				res = res[:j]
			}
			res = strings.TrimSpace(res)
			return res, res != ""
		}
	}
	return "", false
}

// readLine reads one line into *buf, at most maxMsertLine bytes; long is
// set when the rest of the line was skipped.
func readLine(br *bufio.Reader, buf *[]byte) (line []byte, long bool, err error) {
	*buf = (*buf)[:0]
	for {
		frag, err := br.ReadSlice('\n')
		room := maxMsertLine - len(*buf)
		if len(frag) > room {
			frag, long = frag[:room], true
		}
		*buf = append(*buf, frag...)
		switch {
		case err == nil:
			return trimNL(*buf), long, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return trimNL(*buf), long, err
		}
	}
}

func trimNL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

// utf16Reader turns UTF-16 into UTF-8 as it streams.
type utf16Reader struct {
	r    io.Reader
	be   bool
	in   [4096]byte
	odd  []byte // a byte left from the last read
	hi   uint16 // a pending high surrogate
	out  []byte
	err  error
	done bool
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.done {
			return 0, u.err
		}
		n, err := u.r.Read(u.in[len(u.odd):])
		copy(u.in[:], u.odd)
		n += len(u.odd)
		u.odd = u.odd[:0]
		b := u.in[:n]
		for len(b) >= 2 {
			var c uint16
			if u.be {
				c = uint16(b[0])<<8 | uint16(b[1])
			} else {
				c = uint16(b[1])<<8 | uint16(b[0])
			}
			b = b[2:]
			switch {
			case utf16.IsSurrogate(rune(c)) && c < 0xdc00:
				if u.hi != 0 {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
				}
				u.hi = c
				continue
			case utf16.IsSurrogate(rune(c)):
				if u.hi != 0 {
					u.out = utf8.AppendRune(u.out, utf16.DecodeRune(rune(u.hi), rune(c)))
				} else {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
				}
			default:
				if u.hi != 0 {
					u.out = utf8.AppendRune(u.out, utf8.RuneError)
				}
				u.out = utf8.AppendRune(u.out, rune(c))
			}
			u.hi = 0
		}
		u.odd = append(u.odd, b...)
		if err != nil {
			u.done, u.err = true, err
		}
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// scanMsert reports each detection of an msert log.
func (s *Scanner) scanMsert(ctx context.Context, f *evidence.File, c *check, res *Result, wrap func(io.Reader) io.Reader) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var rd io.Reader = rc
	if wrap != nil {
		rd = wrap(rd)
	}
	cr := &countReader{r: &capReader{r: rd, left: s.opt.MaxScanBytes}}
	lines, gaps, err := ParseMsert(cr, func(d MsertDetection) {
		fields := map[string]string{"threat": d.Threat, "status": d.Status}
		if len(d.Files) > 0 {
			fields["resources"] = strings.Join(d.Files, "; ")
			if d.More > 0 {
				fields["resources"] += "; (" + strconv.Itoa(d.More) + " more)"
			}
		}
		if d.Scan != "" {
			fields["scan_started"] = d.Scan + " (server local time)"
		}
		fd := c.add("msert-threat-detected", "Microsoft Safety Scanner detected a threat", finding.StagePersistence,
			finding.SeverityCritical, fields)
		fd.Outcome = d.Threat
		fd.Source.Line = d.Line
		// the log's own time is local and without a zone: no time is
		// better than a wrong one
		fd.Time = time.Time{}
	})
	res.Bytes, res.Lines, res.Gaps = cr.n, lines, gaps
	c.fi.Size = cr.n
	if err == nil {
		err = ctx.Err()
	}
	return readErr(err)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
