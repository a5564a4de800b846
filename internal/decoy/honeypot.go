package decoy

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/exhunt/exhunt/internal/logs"
)

// Event classes.
const (
	classProbe   = "probe"   // a check or fingerprint request: no harm meant or possible
	classExploit = "exploit" // an exploit step: SSRF to a back-end path, POSTs through it
	classShell   = "webshell"
)

// Event is one classified request, streamed as a JSON line.
type Event struct {
	Time      time.Time `json:"time"`
	Listener  string    `json:"listener"`
	Server    string    `json:"server"`
	Client    string    `json:"client"`
	Method    string    `json:"method"`
	URI       string    `json:"uri"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Status is the answer's status code; 0 when the request was aborted.
	Status int    `json:"status"`
	Class  string `json:"class"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	// RequestBytes is the size of the request line and headers; URI is
	// cut to its first 4 KiB when longer, and URITruncated says so.
	RequestBytes int  `json:"request_bytes"`
	URITruncated bool `json:"uri_truncated,omitempty"`
}

// cut keeps the first max bytes of s, on a UTF-8 boundary.
func cut(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max], true
}

// eventSink writes events as JSON lines, one write per line.
type eventSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *eventSink) emit(e *Event) {
	if s == nil || s.w == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	b = append(b, '\n')
	s.mu.Lock()
	s.w.Write(b)
	s.mu.Unlock()
}

// record turns a finished request into its log lines and event.
func (s *Server) record(x *exchangeCtx, start time.Time) {
	if s.logs == nil && s.events == nil {
		return
	}
	r := x.r
	now := time.Now().UTC()
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	ua := r.UserAgent()
	uri, truncated := cut(r.RequestURI, maxLoggedURI)
	if x.class != "" && s.events != nil {
		s.events.emit(&Event{Time: now, Listener: x.t.URL, Server: x.p.ServerName, Client: client, Method: r.Method,
			URI: uri, UserAgent: ua, Status: x.status, Class: x.class, Kind: x.kind, Detail: x.detail,
			RequestBytes: x.size, URITruncated: truncated})
	}
	if s.logs == nil {
		return
	}
	took := int(now.Sub(start) / time.Millisecond)
	status, win32 := x.status, 0
	if x.aborted {
		// IIS logs a rewrite abort with the connection's reset status.
		status, win32 = 200, 64
	}
	stem, _ := cut(r.URL.EscapedPath(), maxLoggedURI)
	query, _ := cut(r.URL.RawQuery, maxLoggedURI)
	w3c := &logs.W3CRow{Time: now, ServerIP: x.t.ip, Method: r.Method, Stem: stem, Query: query,
		Port: x.t.port, ClientIP: client, UserAgent: ua, Referer: r.Referer(), Status: status, Win32: win32, TakenMS: took}
	if status == http.StatusNotFound {
		w3c.Win32 = 2
	}
	rec := logRec{server: x.p.ServerName, iis: x.p.iisVersion(), w3c: w3c, t: now}
	if x.proto != "" && x.p.frontEnd() && !x.aborted {
		b := x.p.Served.Build
		reqBytes := int(r.ContentLength)
		if reqBytes < 0 {
			reqBytes = 0
		}
		target := x.beTarget
		if target == "" && x.proto != "" {
			target = strings.ToLower(x.p.FQDN())
		}
		v := logs.Version{Major: b.Major, Minor: b.Minor, Build: b.Build, Rev: b.Rev}
		rec.proxy = &logs.ProxyRow{Time: now, RequestID: newGUID(), Version: v,
			Protocol: x.proto, Host: r.Host, Stem: stem, Query: query, Method: r.Method,
			Anchor: x.anchor, UserAgent: ua, ClientIP: client, ServerName: x.p.ServerName,
			Status: x.status, BackEndStatus: x.beStatus, ErrorCode: x.errCode, TargetServer: target,
			TargetVer:   v.TargetVersion(),
			RoutingType: "IntraForest", RoutingHint: x.hint, ReqBytes: reqBytes, RespBytes: x.written, TotalMS: took,
			GenericErrors: x.genericErr}
		rec.version = v.LogVersion()
	}
	s.logs.put(rec)
}

type logRec struct {
	t       time.Time
	server  string
	iis     string
	version string
	w3c     *logs.W3CRow
	proxy   *logs.ProxyRow
}

// logWriter appends log lines to files in an Exchange server's folder
// layout under dir/<server>/. Lines are buffered per file and appended
// by one goroutine that opens each file only to write, so thousands of
// emulated servers do not hold thousands of descriptors.
type logWriter struct {
	dir  string
	ch   chan logRec
	done chan struct{}
	err  error
}

func newLogWriter(dir string) (*logWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	w := &logWriter{dir: dir, ch: make(chan logRec, 4096), done: make(chan struct{})}
	go w.run()
	return w, nil
}

func (w *logWriter) put(r logRec) { w.ch <- r }

// close writes what is buffered and stops the writer.
func (w *logWriter) close() error {
	close(w.ch)
	<-w.done
	return w.err
}

type pending struct {
	header []byte
	lines  []byte
}

func (w *logWriter) run() {
	defer close(w.done)
	buf := map[string]*pending{}
	tick := time.NewTicker(250 * time.Millisecond)
	var clk logs.Clock // this goroutine formats every line
	defer tick.Stop()
	flush := func() {
		for name, p := range buf {
			if err := appendFile(name, p); err != nil && w.err == nil {
				w.err = err
			}
			delete(buf, name)
		}
	}
	add := func(name string, header func() []byte, line []byte) {
		p := buf[name]
		if p == nil {
			p = &pending{header: header()}
			buf[name] = p
		}
		p.lines = append(p.lines, line...)
		if len(p.lines) > 256<<10 {
			if err := appendFile(name, p); err != nil && w.err == nil {
				w.err = err
			}
			delete(buf, name)
		}
	}
	for {
		select {
		case r, ok := <-w.ch:
			if !ok {
				flush()
				return
			}
			root := filepath.Join(w.dir, r.server)
			iisName := filepath.Join(root, filepath.FromSlash(logs.FrontEndIISDir), "u_ex"+r.t.Format("060102")+".log")
			add(iisName, func() []byte { return logs.AppendW3CHeader(nil, &clk, r.iis, r.t, false) }, logs.AppendW3CRow(nil, &clk, r.w3c))
			if r.proxy != nil {
				fields := r.proxy.Version.ProxyFieldList()
				name := filepath.Join(root, filepath.FromSlash(logs.ExchangeLogsDir), "HttpProxy", r.proxy.Protocol, "HttpProxy_"+r.t.Format("2006010215")+"-1.LOG")
				add(name, func() []byte {
					return logs.AppendExchangeHeader(nil, &clk, r.version, logs.LogTypeProxy, r.t, fields)
				}, logs.AppendProxyRow(nil, &clk, r.proxy))
			}
		case <-tick.C:
			flush()
		}
	}
}

// appendFile appends p's lines to name, writing the header first when the
// file is new.
func appendFile(name string, p *pending) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() == 0 {
		_, err = f.Write(p.header)
	}
	if err == nil {
		_, err = f.Write(p.lines)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
