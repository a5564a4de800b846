package lab

import (
	"fmt"
	"strings"
	"time"
)

// This file exposes the generator's HttpProxy and IIS W3C formats to other
// writers of real-format logs (the decoy honeypot), so every producer shares
// one field list and one escaping of values.

// Log folders below a server's root, as Exchange and IIS lay them out.
const (
	// ExchangeLogs holds Exchange's logs; HttpProxy/<Protocol>/ is below it.
	ExchangeLogs = exchangeLogs
	// FrontEndIIS holds the Default Web Site's W3C logs.
	FrontEndIIS = "C/inetpub/logs/LogFiles/W3SVC1"
)

// ProxyRow is one HttpProxy log row.
type ProxyRow struct {
	Time      time.Time
	RequestID [16]byte
	// Build is the server's build; the row carries its four numbers.
	Major, Minor, Build, Rev int

	Protocol, Host, Stem, Query, Method string
	AuthType, User, Anchor              string
	UserAgent, ClientIP, ServerName     string
	Status, BackEndStatus               int
	ErrorCode                           string
	TargetServer, TargetVersion         string
	RoutingType, RoutingHint            string
	BackEndCookie                       string
	ReqBytes, RespBytes, TotalMS        int
	GenericErrors                       string
}

// ProxyFieldsFor is the #Fields list a build writes: 2016 CU22 and 2019
// CU11 appended five fields.
func ProxyFieldsFor(major, minor, number int) string {
	b := &build{major: major, minor: minor, number: number}
	if b.newProxyFields() {
		return proxyFields
	}
	return proxyFieldsOld
}

// LogVersion is the zero-padded build Exchange writes in #Version lines.
func LogVersion(major, minor, build, rev int) string {
	return fmt.Sprintf("%d.%02d.%04d.%03d", major, minor, build, rev)
}

// AppendProxyHeader appends the directive block that starts an HttpProxy
// log file.
func AppendProxyHeader(b []byte, version string, t time.Time, fields string) []byte {
	var c clock
	b = append(b, "#Software: Microsoft Exchange Server\r\n#Version: "...)
	b = append(b, version...)
	b = append(b, "\r\n#Log-type: HttpProxy Logs\r\n#Date: "...)
	b = c.iso(b, ms(t))
	b = append(b, "\r\n#Fields: "...)
	b = append(b, fields...)
	return append(b, crlf...)
}

// AppendProxyRow appends r in the field order of ProxyFieldsFor(r's build),
// values escaped the way Exchange writes them; fields the row does not set
// stay empty.
func AppendProxyRow(b []byte, r *ProxyRow) []byte {
	var c clock
	t := ms(r.Time)
	newFields := (&build{major: r.Major, minor: r.Minor, number: r.Build}).newProxyFields()
	n := len(proxyIndex)
	if !newFields {
		n = proxyOldCount
	}
	var vals [80][]byte
	var scratch []byte
	set := func(name string, v []byte) {
		if i, ok := proxyIndex[name]; ok && i < n {
			vals[i] = v
		}
	}
	str := func(name, v string) {
		if v != "" {
			set(name, appendHP(nil, v))
		}
	}
	num := func(name string, v int) { set(name, appendInt(nil, v)) }
	set("DateTime", c.iso(nil, t))
	set("RequestId", appendGUID(nil, r.RequestID))
	num("MajorVersion", r.Major)
	num("MinorVersion", r.Minor)
	num("BuildVersion", r.Build)
	num("RevisionVersion", r.Rev)
	str("Protocol", r.Protocol)
	str("UrlHost", r.Host)
	str("UrlStem", r.Stem)
	str("AuthenticationType", r.AuthType)
	if r.User != "" {
		str("IsAuthenticated", "true")
	} else {
		str("IsAuthenticated", "false")
	}
	str("AuthenticatedUser", r.User)
	str("AnchorMailbox", r.Anchor)
	str("UserAgent", r.UserAgent)
	str("ClientIpAddress", r.ClientIP)
	str("ServerHostName", r.ServerName)
	num("HttpStatus", r.Status)
	if r.BackEndStatus > 0 {
		num("BackEndStatus", r.BackEndStatus)
	}
	str("ErrorCode", r.ErrorCode)
	str("Method", r.Method)
	str("ProxyAction", "Proxy")
	str("TargetServer", r.TargetServer)
	str("TargetServerVersion", r.TargetVersion)
	str("RoutingType", r.RoutingType)
	str("RoutingHint", r.RoutingHint)
	str("BackEndCookie", r.BackEndCookie)
	num("RequestBytes", r.ReqBytes)
	num("ResponseBytes", r.RespBytes)
	num("TotalRequestTime", r.TotalMS)
	if r.Query != "" {
		set("UrlQuery", appendHP([]byte{'?'}, r.Query))
	}
	scratch = append(scratch, "BeginRequest="...)
	scratch = c.iso(scratch, t-int64(r.TotalMS))
	scratch = append(scratch, ";CorrelationID=<empty>;EndRequest="...)
	scratch = c.iso(scratch, t)
	scratch = append(scratch, ';')
	set("GenericInfo", scratch)
	str("GenericErrors", r.GenericErrors)
	if newFields {
		str("RoutingStatus", "CafeV1")
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, vals[i]...)
	}
	return append(b, crlf...)
}

// proxyIndex maps each HttpProxy field to its column in proxyFields;
// the older list is a prefix of it.
var proxyIndex, proxyOldCount = func() (map[string]int, int) {
	m := map[string]int{}
	for i, f := range strings.Split(proxyFields, ",") {
		m[f] = i
	}
	return m, len(strings.Split(proxyFieldsOld, ","))
}()

// W3CRow is one IIS W3C line in the default field list.
type W3CRow struct {
	Time                     time.Time
	ServerIP                 string
	Method, Stem, Query      string
	Port                     int
	User, ClientIP           string
	UserAgent, Referer       string
	Status, SubStatus, Win32 int
	TakenMS                  int
}

// AppendW3CHeader appends the directive block that starts an IIS log file
// (or that IIS writes again when the site restarts).
func AppendW3CHeader(b []byte, iisVersion string, t time.Time) []byte {
	var c clock
	b = append(b, "#Software: Microsoft Internet Information Services "...)
	b = append(b, iisVersion...)
	b = append(b, "\r\n#Version: 1.0\r\n#Date: "...)
	b = c.w3c(b, ms(t))
	b = append(b, "\r\n#Fields: "...)
	b = append(b, w3cFields...)
	return append(b, crlf...)
}

// AppendW3CRow appends r: empty values as "-", spaces as "+".
func AppendW3CRow(b []byte, r *W3CRow) []byte {
	var c clock
	b = c.w3c(b, ms(r.Time))
	b = append(b, ' ')
	b = appendW3C(b, r.ServerIP)
	b = append(b, ' ')
	b = appendW3C(b, r.Method)
	b = append(b, ' ')
	b = appendW3C(b, r.Stem)
	b = append(b, ' ')
	b = appendW3C(b, r.Query)
	b = append(b, ' ')
	b = appendInt(b, r.Port)
	b = append(b, ' ')
	b = appendW3C(b, r.User)
	b = append(b, ' ')
	b = appendW3C(b, r.ClientIP)
	b = append(b, ' ')
	b = appendW3C(b, r.UserAgent)
	b = append(b, ' ')
	b = appendW3C(b, r.Referer)
	b = append(b, ' ')
	b = appendInt(b, r.Status)
	b = append(b, ' ')
	b = appendInt(b, r.SubStatus)
	b = append(b, ' ')
	b = appendInt(b, r.Win32)
	b = append(b, ' ')
	b = appendInt(b, r.TakenMS)
	return append(b, crlf...)
}
