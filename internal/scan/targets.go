package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Target is one scheme, host and port to scan.
type Target struct {
	// Seq is the target's position in the input: lines and the addresses
	// of expanded ranges are numbered in order, from 0. Resuming skips the
	// sequence numbers already in the output.
	Seq    uint64
	Scheme string // https or http
	Host   string // a DNS name or an IP address, without brackets
	Port   int
	// Err is set for an input line that names no target; Input keeps it.
	Err   string
	Input string
}

// URL is the target's base URL, the key results are reported under.
func (t *Target) URL() string {
	if t.Err != "" {
		return ""
	}
	return t.Scheme + "://" + hostPort(t.Host, t.Port)
}

func hostPort(host string, port int) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// Spec is one parsed input line: a host or a range, and ports.
type Spec struct {
	Scheme string // "" when the port decides
	Host   string // DNS name or IP; empty for a range
	Prefix netip.Prefix
	Ports  []int
}

// Count is how many targets the spec expands to (saturating).
func (s *Spec) Count() uint64 {
	n := uint64(1)
	if s.Prefix.IsValid() {
		bits := s.Prefix.Addr().BitLen() - s.Prefix.Bits()
		if bits >= 63 {
			return 1 << 63
		}
		n = 1 << bits
	}
	return n * uint64(len(s.Ports))
}

// MaxLine bounds one input line; longer lines are reported and skipped.
const MaxLine = 4096

// ParseLine reads one target line: a host name, an IP address, host:port,
// [v6]:port, a URL (http:// or https://, no path), or a CIDR range. ports
// apply where the line names none. It returns ok false for blank lines and
// comments (from '#').
func ParseLine(line string, ports []int) (spec Spec, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return Spec{}, false, nil
	}
	if len(line) > MaxLine {
		return Spec{}, true, errors.New("line too long")
	}
	if f := strings.Fields(line); len(f) > 1 {
		return Spec{}, true, fmt.Errorf("one target per line, got %d fields", len(f))
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x21 || c > 0x7e {
			return Spec{}, true, errors.New("control or non-ASCII character")
		}
	}
	if strings.Contains(line, "://") {
		u, err := url.Parse(line)
		if err != nil {
			return Spec{}, true, errors.New("not a URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return Spec{}, true, fmt.Errorf("scheme %q: want http or https", u.Scheme)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			return Spec{}, true, errors.New("give the server's base URL, without path, query or credentials")
		}
		host := u.Hostname()
		port := 443
		if u.Scheme == "http" {
			port = 80
		}
		if p := u.Port(); p != "" {
			if port, err = parsePort(p); err != nil {
				return Spec{}, true, err
			}
		}
		if err := checkHost(host); err != nil {
			return Spec{}, true, err
		}
		return Spec{Scheme: u.Scheme, Host: canonHost(host), Ports: []int{port}}, true, nil
	}
	if strings.IndexByte(line, '/') >= 0 {
		p, err := netip.ParsePrefix(line)
		if err != nil {
			return Spec{}, true, errors.New("not a CIDR range")
		}
		return Spec{Prefix: p.Masked(), Ports: ports}, true, nil
	}
	if a, err := netip.ParseAddr(line); err == nil {
		if a.Zone() != "" {
			return Spec{}, true, errors.New("IPv6 zones are not supported")
		}
		return Spec{Host: a.Unmap().String(), Ports: ports}, true, nil
	}
	host, portStr := line, ""
	if strings.HasPrefix(line, "[") {
		i := strings.Index(line, "]")
		if i < 0 {
			return Spec{}, true, errors.New("unclosed [")
		}
		host, portStr = line[1:i], strings.TrimPrefix(line[i+1:], ":")
		if a, err := netip.ParseAddr(host); err != nil || a.Zone() != "" {
			return Spec{}, true, errors.New("not an IPv6 address in brackets")
		}
		if line[i+1:] != "" && !strings.HasPrefix(line[i+1:], ":") {
			return Spec{}, true, errors.New("junk after ]")
		}
	} else if i := strings.LastIndexByte(line, ':'); i >= 0 {
		host, portStr = line[:i], line[i+1:]
	}
	if err := checkHost(host); err != nil {
		return Spec{}, true, err
	}
	spec = Spec{Host: canonHost(host), Ports: ports}
	if portStr != "" || strings.HasSuffix(line, ":") {
		p, err := parsePort(portStr)
		if err != nil {
			return Spec{}, true, err
		}
		spec.Ports = []int{p}
	}
	return spec, true, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

func canonHost(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// checkHost accepts IP addresses and DNS names (letters, digits, '-', '_'
// and dots, labels up to 63 bytes, 253 in all).
func checkHost(h string) error {
	if h == "" {
		return errors.New("no host")
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return errors.New("IPv6 zones are not supported")
		}
		return nil
	}
	h = strings.TrimSuffix(h, ".")
	if len(h) > 253 {
		return errors.New("host name too long")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("bad host name %q", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("bad host name %q", h)
			}
		}
	}
	return nil
}

// schemeFor picks the scheme when the line gives a port only.
func schemeFor(port int) string {
	switch port {
	case 80, 8080, 8000:
		return "http"
	}
	return "https"
}

// Input is where targets come from: command-line arguments, then files
// (or standard input for "-"), read line by line.
type Input struct {
	Args  []string
	Files []string
	Stdin io.Reader
	Ports []int
	// MaxExpand bounds what one range may expand to without Confirmed.
	MaxExpand uint64
	Confirmed bool
}

// Stream sends every target in input order to fn, numbered from 0. Lines
// that name no target are sent with Err set and use one number. Ranges
// expand lazily, so no list is held in memory. It stops when fn returns
// false or ctx ends.
func (in *Input) Stream(ctx context.Context, fn func(*Target) bool) error {
	var seq uint64
	emit := func(input string, spec Spec, ok bool, err error) bool {
		if !ok && err == nil {
			return true
		}
		if err == nil && spec.Count() > in.MaxExpand && !in.Confirmed {
			err = fmt.Errorf("range expands to %d targets, more than %d: confirm with --yes", spec.Count(), in.MaxExpand)
		}
		if err != nil {
			t := &Target{Seq: seq, Input: input, Err: err.Error()}
			seq++
			return fn(t)
		}
		return expand(ctx, spec, &seq, fn)
	}
	for _, a := range in.Args {
		spec, ok, err := ParseLine(a, in.Ports)
		if !emit(a, spec, ok, err) || ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, name := range in.Files {
		var r io.Reader
		if name == "-" {
			if in.Stdin == nil {
				return errors.New("no standard input")
			}
			r = in.Stdin
		} else {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := readLine(br)
			if line != "" || err == nil {
				spec, ok, perr := ParseLine(line, in.Ports)
				if len(line) > MaxLine {
					line = line[:64] + "..."
				}
				if !emit(line, spec, ok, perr) || ctx.Err() != nil {
					return ctx.Err()
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

// readLine returns the next line without its end; a line longer than
// MaxLine is returned cut to MaxLine+1 bytes (so it fails parsing) and the
// rest is skipped, keeping memory bounded.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf) <= MaxLine {
			buf = append(buf, frag[:min(len(frag), MaxLine+1-len(buf))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		s := strings.TrimRight(string(buf), "\r\n")
		return s, err
	}
}

func expand(ctx context.Context, spec Spec, seq *uint64, fn func(*Target) bool) bool {
	one := func(host string) bool {
		for _, p := range spec.Ports {
			scheme := spec.Scheme
			if scheme == "" {
				scheme = schemeFor(p)
			}
			t := &Target{Seq: *seq, Scheme: scheme, Host: host, Port: p}
			*seq++
			if !fn(t) {
				return false
			}
		}
		return true
	}
	if !spec.Prefix.IsValid() {
		return one(spec.Host)
	}
	// Next returns the invalid address past the end of the address space,
	// which no prefix contains.
	for a := spec.Prefix.Addr(); spec.Prefix.Contains(a); a = a.Next() {
		if ctx.Err() != nil || !one(a.Unmap().String()) {
			return false
		}
	}
	return true
}
