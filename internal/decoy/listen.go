package decoy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is one address to listen on.
type Endpoint struct {
	Scheme string // http or https
	Addr   string // host:port
}

// MaxEndpoints bounds what one listen spec may expand to.
const MaxEndpoints = 65536

// ExpandListen reads a listen spec: scheme://ADDR:PORT where ADDR may be a
// range of IPv4 addresses (127.0.1.1-127.0.1.100) and PORT a range of ports
// (9000-9099); every address is combined with every port. IPv6 addresses
// go in brackets and cannot be ranges.
func ExpandListen(spec string) ([]Endpoint, error) {
	scheme, rest, ok := strings.Cut(spec, "://")
	if !ok {
		scheme, rest = "https", spec
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("listen %q: scheme must be http or https", spec)
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return nil, fmt.Errorf("listen %q: want ADDR:PORT", spec)
	}
	hostPart, portPart := rest[:i], rest[i+1:]
	plo, phi, err := numRange(portPart)
	if err != nil || phi > 65535 {
		return nil, fmt.Errorf("listen %q: bad port or port range %q", spec, portPart)
	}
	var addrs []netip.Addr
	if strings.HasPrefix(hostPart, "[") && strings.HasSuffix(hostPart, "]") {
		a, err := netip.ParseAddr(hostPart[1 : len(hostPart)-1])
		if err != nil {
			return nil, fmt.Errorf("listen %q: %v", spec, err)
		}
		addrs = []netip.Addr{a}
	} else {
		lo, hi, _ := strings.Cut(hostPart, "-")
		a, err := netip.ParseAddr(lo)
		if err != nil {
			return nil, fmt.Errorf("listen %q: %v", spec, err)
		}
		b := a
		if hi != "" {
			if b, err = netip.ParseAddr(hi); err != nil || !a.Is4() || !b.Is4() || b.Less(a) {
				return nil, fmt.Errorf("listen %q: bad address range", spec)
			}
		}
		for x := a; ; x = x.Next() {
			addrs = append(addrs, x)
			if x == b || len(addrs) > MaxEndpoints {
				break
			}
		}
	}
	if len(addrs)*(phi-plo+1) > MaxEndpoints {
		return nil, fmt.Errorf("listen %q: more than %d listeners", spec, MaxEndpoints)
	}
	var out []Endpoint
	for _, a := range addrs {
		for p := plo; p <= phi; p++ {
			out = append(out, Endpoint{Scheme: scheme, Addr: netip.AddrPortFrom(a, uint16(p)).String()})
		}
	}
	return out, nil
}

func numRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil || lo < 0 {
		return 0, 0, fmt.Errorf("bad number %q", a)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("bad range %q", s)
		}
	}
	return lo, hi, nil
}
