package lab

import (
	"bufio"
	"compress/gzip"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Log streams of one server. Each writes one file per period (hour or day)
// and keeps only its current file open.
const (
	stFE        = iota // IIS W3SVC1, Default Web Site (front end, 443)
	stBE               // IIS W3SVC2, Exchange Back End (444)
	stECP              // ECP Server log
	stOAB              // OAB generator log
	stRpsHTTP          // CmdletInfra/Powershell-Proxy/Http
	stRpsCmdlet        // CmdletInfra/Powershell-Proxy/Cmdlet
	stEWS              // EWS log
	stProxy            // first HttpProxy protocol; one stream per protocol follows
	nStreams    = stProxy + nProtocols
)

// HttpProxy protocols, in folder order.
const (
	pAutodiscover = iota
	pEcp
	pEws
	pMapi
	pOab
	pOwa
	pPowerShell
	pEas
	pRpcHTTP
	nProtocols
	pNone = -1 // served by the front end itself: no HttpProxy row
)

var protocolNames = [nProtocols]string{"Autodiscover", "Ecp", "Ews", "Mapi", "Oab", "Owa", "PowerShell", "Eas", "RpcHttp"}

const exchangeLogs = "C/Program Files/Microsoft/Exchange Server/V15/Logging"

type stream struct {
	kind   int
	relDir string // relative to Options.Out, '/'-separated
	period int64  // hour or day
	size   int    // bufio size

	cur   int64 // period index of the open file; -1 when none
	f     *os.File
	w     *bufio.Writer
	rel   string
	lines int64
	last  int64      // last line time of the open file
	files []*logFile // every file written, oldest first

	// IIS: the open file uses the alternative field list (cs-host added).
	alt bool
}

// logFile is a finished log file; rel changes when it is gzipped.
type logFile struct {
	rel  string
	last int64
}

func (g *gen) newStreams() {
	srv := g.name
	mk := func(kind int, dir string, period int64, size int) {
		g.streams[kind] = &stream{kind: kind, relDir: srv + "/" + dir, period: period, size: size, cur: -1}
	}
	mk(stFE, "C/inetpub/logs/LogFiles/W3SVC1", day, 1<<20)
	mk(stBE, "C/inetpub/logs/LogFiles/W3SVC2", day, 1<<20)
	mk(stECP, exchangeLogs+"/ECP/Server", day, 64<<10)
	mk(stOAB, exchangeLogs+"/OABGeneratorLog", day, 16<<10)
	mk(stRpsHTTP, exchangeLogs+"/CmdletInfra/Powershell-Proxy/Http", hour, 256<<10)
	mk(stRpsCmdlet, exchangeLogs+"/CmdletInfra/Powershell-Proxy/Cmdlet", hour, 256<<10)
	mk(stEWS, exchangeLogs+"/Ews", hour, 1<<20)
	for p := range nProtocols {
		mk(stProxy+p, exchangeLogs+"/HttpProxy/"+protocolNames[p], hour, 1<<20)
	}
}

// fileName names the file holding time t. Only the date is formatted: in
// a Go layout the "1" of "-1.LOG" would read as the month.
func (s *stream) fileName(t int64) string {
	tt := toTime(t)
	hourly := tt.Format("2006010215") + "-1.LOG"
	daily := tt.Format("20060102") + "-1.LOG"
	switch s.kind {
	case stFE, stBE:
		return "u_ex" + tt.Format("060102") + ".log"
	case stECP:
		return "ECPServer" + daily
	case stOAB:
		return "OABGeneratorLog_" + daily
	case stRpsHTTP:
		return "Rps_Http_" + hourly
	case stRpsCmdlet:
		return "Rps_Cmdlet_" + hourly
	case stEWS:
		return "Ews_" + hourly
	}
	return "HttpProxy_" + hourly
}

// open makes sure the file for time t is open, rotating when t is in a new
// period, and writes the header of a new file.
func (g *gen) open(s *stream, t int64) {
	p := t / s.period
	if p == s.cur && s.f != nil {
		return
	}
	g.closeStream(s)
	if g.err != nil {
		return
	}
	dir := filepath.Join(g.out, filepath.FromSlash(s.relDir))
	if len(s.files) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			g.fail(err)
			return
		}
	}
	name := s.fileName(t)
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		g.fail(err)
		return
	}
	s.f, s.cur, s.rel, s.lines, s.last = f, p, path.Join(s.relDir, name), 0, t
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, s.size)
	} else {
		s.w.Reset(f)
	}
	g.header(s, t)
}

// closeStream finishes the open file and sets its modification time to its
// last line, as on a real server.
func (g *gen) closeStream(s *stream) {
	if s.f == nil {
		return
	}
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		mt := toTime(s.last)
		err = os.Chtimes(s.f.Name(), mt, mt)
	}
	if err != nil {
		g.fail(err)
	}
	s.files = append(s.files, &logFile{rel: s.rel, last: s.last})
	s.f = nil
	s.cur = -1
}

// put writes one line (ending in CRLF) at time t and returns the file it
// went to and its 1-based line number.
func (g *gen) put(s *stream, t int64, line []byte) (string, int64) {
	g.open(s, t)
	if s.f == nil {
		return "", 0
	}
	s.w.Write(line) // errors are sticky and reported by Flush
	s.lines++
	s.last = max(s.last, t)
	g.written += int64(len(line))
	if g.first == 0 || t < g.first {
		g.first = t
	}
	g.last = max(g.last, t)
	return s.rel, s.lines
}

// raw writes header lines into the open file.
func (g *gen) raw(s *stream, b []byte, lines int) {
	s.w.Write(b)
	s.lines += int64(lines)
	g.written += int64(len(b))
}

// gzipOldest compresses a few of the oldest files, as log rotation tools
// do, and returns old → new relative names.
func (g *gen) gzipOldest() map[string]string {
	renamed := map[string]string{}
	pick := func(s *stream, n int) {
		for _, f := range s.files[:min(n, len(s.files))] {
			abs := filepath.Join(g.out, filepath.FromSlash(f.rel))
			if err := gzipFile(abs, toTime(f.last)); err != nil {
				g.fail(err)
				return
			}
			renamed[f.rel] = f.rel + ".gz"
			f.rel += ".gz"
		}
	}
	pick(g.streams[stFE], 1)
	pick(g.streams[stBE], 1)
	pick(g.streams[stECP], 1)
	for p := range nProtocols {
		pick(g.streams[stProxy+p], 2)
	}
	return renamed
}

func gzipFile(abs string, mtime time.Time) error {
	data, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	f, err := os.Create(abs + ".gz")
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	zw.Name = filepath.Base(abs)
	zw.ModTime = mtime
	_, err = zw.Write(data)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Remove(abs)
	}
	if err == nil {
		err = os.Chtimes(abs+".gz", mtime, mtime)
	}
	return err
}
