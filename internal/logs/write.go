package logs

import (
	"strconv"
	"strings"
	"time"
)

// This file writes the formats this package reads, the way Exchange and IIS
// write them, quirks included: the lab generates evidence with it and the
// decoy logs what it serves, so both produce one field list and one
// escaping per format. Functions append to a caller's buffer so a writer of
// millions of rows allocates nothing per row.

// Folders below a server's root (a drive letter becomes a folder), as
// Exchange and IIS lay them out.
const (
	// ExchangeLogsDir holds Exchange's logs: HttpProxy/<Protocol>, Ews,
	// ECP/Server, CmdletInfra/..., OABGeneratorLog.
	ExchangeLogsDir = "C/Program Files/Microsoft/Exchange Server/V15/Logging"
	// FrontEndIISDir holds the Default Web Site's (the front end's) W3C logs.
	FrontEndIISDir = "C/inetpub/logs/LogFiles/W3SVC1"
	// BackEndIISDir holds the Exchange Back End site's W3C logs.
	BackEndIISDir = "C/inetpub/logs/LogFiles/W3SVC2"
)

// Field lists, as the files declare them.
const (
	ProxyFieldsOld = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors"
	// ProxyFields adds what 2016 CU22 / 2019 CU11 appended.
	ProxyFields     = ProxyFieldsOld + ",EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus"
	ECPFields       = "TimeStamp,ServerName,EventId,EventData"
	RpsHTTPFields   = "DateTime,StartTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,UrlHost,UrlStem,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,ManagedOrganization,ClientIpAddress,ServerHostName,FrontEndServer,HttpStatus,SubStatus,ErrorCode,Action,CommandId,CommandName,SessionId,ShellId,FailFast,ContributeToFailFast,RequestBytes,ClientInfo,CPU,Memory,ActivityContextLifeTime,TotalTime,UrlQuery,GenericLatency,GenericInfo,GenericErrors"
	RpsCmdletFields = "DateTime,StartTime,RequestId,ClientRequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ServerHostName,ProcessId,ProcessName,ThreadId,CultureInfo,Organization,AuthenticatedUser,ExecutingUserSid,EffectiveOrganization,UserServicePlan,IsAdmin,ClientApplication,Cmdlet,Parameters,CmdletUniqueId,UserBudgetOnStart,ContributeToFailFast,RunspaceSettingsCreationHint,ADViewEntireForest,ADRecipientViewRoot,ADConfigurationDomainControllers,ADRecipientDomainControllers,ADUserConfigurationDomainController,ADUserRecipientDomainController,ADRecipientAttemptedDC,ADConfigurationAttemptedDC,IsHybridOrg,Success,Error,GenericInfo,GenericErrors"
	EWSFields       = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,UserAgent,VersionInfo,ClientIpAddress,ServerHostName,FrontEndServer,SoapAction,HttpStatus,RequestSize,ResponseSize,ErrorCode,ImpersonatedUser,ProxyAsUser,ActAsUser,Cookie,CorrelationGuid,PrimaryOrProxyServer,TaskType,GenericInfo,AuthenticationErrors,GenericErrors"

	W3CFields = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
	// W3CFieldsHost adds cs-host after cs-method: what an admin ticking
	// "Host" in IIS Manager produces, so parsers must remap mid-file.
	W3CFieldsHost = "date time s-ip cs-method cs-host cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)

// Exchange log types, as the #Log-type directive names them.
const (
	LogTypeProxy     = "HttpProxy Logs"
	LogTypeECP       = "ECP Server Log"
	LogTypeRpsHTTP   = "Rps Http Logs"
	LogTypeRpsCmdlet = "Rps Cmdlet Logs"
	LogTypeEWS       = "EWS Logs"
)

const crlf = "\r\n"

// Version is an Exchange build as the log rows carry it.
type Version struct{ Major, Minor, Build, Rev int }

// NewProxyFields reports whether HttpProxy logs of this build carry the
// five trailing fields (EdgeTraceId … RoutingStatus) added in 2016 CU22
// and 2019 CU11.
func (v Version) NewProxyFields() bool {
	switch v.Minor {
	case 1:
		return v.Build >= 2375
	case 2:
		return v.Build >= 986
	}
	return false
}

// ProxyFieldList is the #Fields list of the build's HttpProxy logs.
func (v Version) ProxyFieldList() string {
	if v.NewProxyFields() {
		return ProxyFields
	}
	return ProxyFieldsOld
}

// LogVersion is the zero-padded form of #Version lines: 15.01.2176.002.
func (v Version) LogVersion() string {
	b := make([]byte, 0, 16)
	b = strconv.AppendInt(b, int64(v.Major), 10)
	b = appendPadded(append(b, '.'), v.Minor, 2)
	b = appendPadded(append(b, '.'), v.Build, 4)
	return string(appendPadded(append(b, '.'), v.Rev, 3))
}

// TargetVersion is the HttpProxy TargetServerVersion form, which carries no
// revision: 15.01.2176.000.
func (v Version) TargetVersion() string {
	return Version{v.Major, v.Minor, v.Build, 0}.LogVersion()
}

func appendPadded(b []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (v Version) appendCSV(b []byte) []byte {
	b = appendInt(b, v.Major)
	b = append(b, ',')
	b = appendInt(b, v.Minor)
	b = append(b, ',')
	b = appendInt(b, v.Build)
	b = append(b, ',')
	return appendInt(b, v.Rev)
}

// Clock formats log timestamps. It caches the date part, which consecutive
// lines nearly always share. The zero value is ready; one writer goroutine
// owns each Clock.
type Clock struct {
	day  int64
	date [10]byte // 2006-01-02
}

const msPerDay = 24 * 60 * 60 * 1000

func (c *Clock) setDay(ms int64) {
	d := ms / msPerDay
	if d == c.day && c.date[0] != 0 {
		return
	}
	c.day = d
	time.UnixMilli(d*msPerDay).UTC().AppendFormat(c.date[:0], "2006-01-02")
}

// ISO appends 2006-01-02T15:04:05.000Z, the Exchange log timestamp.
func (c *Clock) ISO(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	c.setDay(ms)
	b = append(b, c.date[:]...)
	b = append(b, 'T')
	b = appendClock(b, ms%msPerDay)
	b = append(b, '.')
	n := int(ms % 1000)
	b = append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
	return append(b, 'Z')
}

// W3C appends "2006-01-02 15:04:05", the IIS date and time fields.
func (c *Clock) W3C(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	c.setDay(ms)
	b = append(b, c.date[:]...)
	b = append(b, ' ')
	return appendClock(b, ms%msPerDay)
}

func appendClock(b []byte, tod int64) []byte {
	s := int(tod / 1000)
	b = append2(b, s/3600)
	b = append(b, ':')
	b = append2(b, s/60%60)
	b = append(b, ':')
	return append2(b, s%60)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// GUID is a request or activity id.
type GUID [16]byte

const hexDigits = "0123456789abcdef"

// AppendGUID appends g in the 8-4-4-4-12 lower-case form.
func AppendGUID(b []byte, g GUID) []byte {
	for i, v := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[v>>4], hexDigits[v&15])
	}
	return b
}

func (g GUID) String() string { return string(AppendGUID(nil, g)) }

// AppendHP appends one HttpProxy (and Rps, EWS) value the way Exchange
// writes it: a comma becomes a space, so rows split as plain CSV and
// "(KHTML, like Gecko)" reads "(KHTML  like Gecko)" with two spaces, as in
// real logs; a value is quoted, with inner quotes doubled, only when it
// holds a quote. Line breaks, which Exchange never writes inside a row,
// become spaces so a hostile value cannot forge a row.
func AppendHP(b []byte, s string) []byte {
	if strings.IndexAny(s, ",\"\r\n") < 0 {
		return append(b, s...)
	}
	quote := strings.IndexByte(s, '"') >= 0
	if quote {
		b = append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '\r', '\n':
			b = append(b, ' ')
		case '"':
			b = append(b, '"', '"')
		default:
			b = append(b, c)
		}
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

// AppendCSV appends an RFC 4180 value, quoted when it holds a comma, a
// quote or a line break. The ECP Server log writes EventData this way.
func AppendCSV(b []byte, s string) []byte {
	if strings.IndexAny(s, ",\"\r\n") < 0 {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			b = append(b, '"', '"')
		case '\r', '\n':
			b = append(b, ' ')
		default:
			b = append(b, s[i])
		}
	}
	return append(b, '"')
}

// AppendW3C appends one IIS W3C value: "-" when empty, spaces as "+"
// (and control characters too, so a value stays one field on one line).
func AppendW3C(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' {
			b = append(b, '+')
		} else {
			b = append(b, c)
		}
	}
	return b
}

// AppendExchangeHeader appends the directive block that starts an Exchange
// CSV log file (HttpProxy, ECP, Rps, EWS).
func AppendExchangeHeader(b []byte, c *Clock, version, logType string, t time.Time, fields string) []byte {
	b = append(b, "#Software: Microsoft Exchange Server\r\n#Version: "...)
	b = append(b, version...)
	b = append(b, "\r\n#Log-type: "...)
	b = append(b, logType...)
	b = append(b, "\r\n#Date: "...)
	b = c.ISO(b, t)
	b = append(b, "\r\n#Fields: "...)
	b = append(b, fields...)
	return append(b, crlf...)
}

// AppendW3CHeader appends the directive block that starts an IIS log file,
// and that IIS writes again when the site restarts. hostField selects
// W3CFieldsHost.
func AppendW3CHeader(b []byte, c *Clock, iisVersion string, t time.Time, hostField bool) []byte {
	b = append(b, "#Software: Microsoft Internet Information Services "...)
	b = append(b, iisVersion...)
	b = append(b, "\r\n#Version: 1.0\r\n#Date: "...)
	b = c.W3C(b, t)
	b = append(b, "\r\n#Fields: "...)
	if hostField {
		b = append(b, W3CFieldsHost...)
	} else {
		b = append(b, W3CFields...)
	}
	return append(b, crlf...)
}

// W3CRow is one IIS W3C line.
type W3CRow struct {
	Time               time.Time
	ServerIP           string
	Method, Host       string // Host is written only in the W3CFieldsHost layout
	Stem, Query        string
	QueryTail          string // appended raw after the query: what the Exchange front end adds to queries it proxies
	Port               int
	User, ClientIP     string
	UserAgent, Referer string
	Status, SubStatus  int
	Win32, TakenMS     int
	HostField          bool // the file's layout is W3CFieldsHost
}

// AppendW3CRow appends r: empty values as "-", spaces as "+".
func AppendW3CRow(b []byte, c *Clock, r *W3CRow) []byte {
	b = c.W3C(b, r.Time)
	b = append(b, ' ')
	b = AppendW3C(b, r.ServerIP)
	b = append(b, ' ')
	b = AppendW3C(b, r.Method)
	b = append(b, ' ')
	if r.HostField {
		b = AppendW3C(b, r.Host)
		b = append(b, ' ')
	}
	b = AppendW3C(b, r.Stem)
	b = append(b, ' ')
	switch {
	case r.QueryTail == "":
		b = AppendW3C(b, r.Query)
	case r.Query != "":
		b = AppendW3C(b, r.Query)
		b = append(b, r.QueryTail...)
	default:
		b = append(b, r.QueryTail...)
	}
	b = append(b, ' ')
	b = appendInt(b, r.Port)
	b = append(b, ' ')
	b = AppendW3C(b, r.User)
	b = append(b, ' ')
	b = AppendW3C(b, r.ClientIP)
	b = append(b, ' ')
	b = AppendW3C(b, r.UserAgent)
	b = append(b, ' ')
	b = AppendW3C(b, r.Referer)
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

// ProxyRow is one HttpProxy log row. String values are escaped as Exchange
// escapes them; fields left zero are written empty.
type ProxyRow struct {
	Time      time.Time
	RequestID GUID
	Version   Version

	ClientRequestID          string
	Protocol, Host, Stem     string
	Action                   string // ProtocolAction
	AuthType, User, Anchor   string
	UserAgent, ClientIP      string
	ServerName               string
	Status, BackEndStatus    int // BackEndStatus is written when > 0
	ErrorCode, Method        string
	TargetServer, TargetVer  string
	RoutingType, RoutingHint string
	BackEndCookie            string
	ReqBytes, RespBytes      int
	OutstandingRequests      int    // TargetOutstandingRequests, written when > 0
	AuthPerf                 string // AuthModulePerfContext, written raw
	Latency                  *ProxyLatency
	TotalMS                  int
	Query                    string // without '?'
	GenericInfo              []byte // written raw; nil: BeginRequest and EndRequest only
	GenericErrors            string
}

// ProxyLatency holds the latency columns between HttpPipelineLatency and
// HttpProxyOverhead; the columns it has no field for are those real rows
// write as 0 or leave empty. A row without it leaves them all empty.
type ProxyLatency struct {
	CalculateTargetBackEnd, AD, ActivityContextLifeTime int
	BackendProcessing, BackendRespInit, RequestHandler  int
	ProxyTime, Core, Routing, Overhead                  int
}

// noLatency leaves the 28 columns ProxyLatency covers empty.
var noLatency = strings.Repeat(",", 28)

// AppendProxyRow appends r in the field order of r.Version's field list.
func AppendProxyRow(b []byte, c *Clock, r *ProxyRow) []byte {
	b = c.ISO(b, r.Time)
	b = append(b, ',')
	b = AppendGUID(b, r.RequestID)
	b = append(b, ',')
	b = r.Version.appendCSV(b)
	for _, s := range [...]string{r.ClientRequestID, r.Protocol, r.Host, r.Stem, r.Action, r.AuthType} {
		b = append(b, ',')
		b = AppendHP(b, s)
	}
	if r.User != "" {
		b = append(b, ",true,"...)
	} else {
		b = append(b, ",false,"...)
	}
	b = AppendHP(b, r.User)
	b = append(b, ',', ',') // Organization
	for _, s := range [...]string{r.Anchor, r.UserAgent, r.ClientIP, r.ServerName} {
		b = AppendHP(b, s)
		b = append(b, ',')
	}
	b = appendInt(b, r.Status)
	b = append(b, ',')
	if r.BackEndStatus > 0 {
		b = appendInt(b, r.BackEndStatus)
	}
	b = append(b, ',')
	b = AppendHP(b, r.ErrorCode)
	b = append(b, ',')
	b = AppendHP(b, r.Method)
	b = append(b, ",Proxy"...)
	for _, s := range [...]string{r.TargetServer, r.TargetVer, r.RoutingType, r.RoutingHint, r.BackEndCookie} {
		b = append(b, ',')
		b = AppendHP(b, s)
	}
	b = append(b, ",,,"...) // ServerLocatorHost, ServerLocatorLatency
	b = appendInt(b, r.ReqBytes)
	b = append(b, ',')
	b = appendInt(b, r.RespBytes)
	b = append(b, ',')
	if r.OutstandingRequests > 0 {
		b = appendInt(b, r.OutstandingRequests)
	}
	b = append(b, ',')
	b = append(b, r.AuthPerf...)
	b = append(b, ',')
	if l := r.Latency; l != nil {
		b = append(b, "0,"...) // HttpPipelineLatency
		b = appendInt(b, l.CalculateTargetBackEnd)
		b = append(b, ",,0,,0,,0,"...) // Gls, AccountForest, ResourceForest
		b = appendInt(b, l.AD)
		b = append(b, ",,0,"...) // SharedCache
		b = appendInt(b, l.ActivityContextLifeTime)
		b = append(b, ",0,,,,"...) // ModuleToHandler … BackendReqStream
		b = appendInt(b, l.BackendProcessing)
		b = append(b, ',')
		b = appendInt(b, l.BackendRespInit)
		b = append(b, ",0,0,,0,"...) // BackendRespStream … HandlerCompletion
		b = appendInt(b, l.RequestHandler)
		b = append(b, ",0,"...) // HandlerToModuleSwitching
		b = appendInt(b, l.ProxyTime)
		b = append(b, ',')
		b = appendInt(b, l.Core)
		b = append(b, ',')
		b = appendInt(b, l.Routing)
		b = append(b, ',')
		b = appendInt(b, l.Overhead)
		b = append(b, ',')
	} else {
		b = append(b, noLatency...)
	}
	b = appendInt(b, r.TotalMS)
	b = append(b, ",,"...) // RouteRefresherLatency
	if r.Query != "" {
		b = append(b, '?')
		b = AppendHP(b, r.Query)
	}
	b = append(b, ",,"...) // BackEndGenericInfo
	if r.GenericInfo != nil {
		b = append(b, r.GenericInfo...)
	} else {
		b = append(b, "BeginRequest="...)
		b = c.ISO(b, r.Time.Add(-time.Duration(r.TotalMS)*time.Millisecond))
		b = append(b, ";CorrelationID=<empty>;EndRequest="...)
		b = c.ISO(b, r.Time)
		b = append(b, ';')
	}
	b = append(b, ',')
	b = AppendHP(b, r.GenericErrors)
	if r.Version.NewProxyFields() {
		b = append(b, ",,,,,CafeV1"...) // EdgeTraceId … RoutingStatus
	}
	return append(b, crlf...)
}

// EWSRow is one EWS log row.
type EWSRow struct {
	Time                 time.Time
	RequestID            GUID
	Version              Version
	AuthType, User       string
	UserAgent            string
	VersionInfo          string
	ClientIP, ServerName string
	FrontEndServer       string
	SoapAction           string
	Status               int
	ReqBytes, RespBytes  int
	CorrelationID        GUID
	PrimaryServer        string
	GenericInfo          []byte // written raw
}

// AppendEWSRow appends r.
func AppendEWSRow(b []byte, c *Clock, r *EWSRow) []byte {
	b = c.ISO(b, r.Time)
	b = append(b, ',')
	b = AppendGUID(b, r.RequestID)
	b = append(b, ',')
	b = r.Version.appendCSV(b)
	b = append(b, ",,"...) // ClientRequestId
	b = AppendHP(b, r.AuthType)
	b = append(b, ",true,"...)
	b = AppendHP(b, r.User)
	b = append(b, ",,"...) // Organization
	for _, s := range [...]string{r.UserAgent, r.VersionInfo, r.ClientIP, r.ServerName, r.FrontEndServer, r.SoapAction} {
		b = AppendHP(b, s)
		b = append(b, ',')
	}
	b = appendInt(b, r.Status)
	b = append(b, ',')
	b = appendInt(b, r.ReqBytes)
	b = append(b, ',')
	b = appendInt(b, r.RespBytes)
	b = append(b, ",,,,,,"...) // ErrorCode … Cookie
	b = AppendGUID(b, r.CorrelationID)
	b = append(b, ',')
	b = AppendHP(b, r.PrimaryServer)
	b = append(b, ",,"...) // TaskType
	b = append(b, r.GenericInfo...)
	b = append(b, ",,"...) // AuthenticationErrors, GenericErrors
	return append(b, crlf...)
}

// RpsHTTPRow is one remote PowerShell HTTP log row.
type RpsHTTPRow struct {
	Time, Start          time.Time
	RequestID            GUID
	Version              Version
	Host, Stem           string
	AuthType, User       string
	ClientIP, ServerName string
	FrontEndServer       string
	Status               int
	Action               string
	CommandID            *GUID // written when set
	CommandName          string
	Session              GUID // SessionId and ShellId
	ReqBytes             int
	ClientInfo           string
	CPU, Memory          int
	ContextLifeTime      int
	TotalMS              int
	Query                string // without '?'
	GenericInfo          string // written raw
}

// AppendRpsHTTPRow appends r.
func AppendRpsHTTPRow(b []byte, c *Clock, r *RpsHTTPRow) []byte {
	b = c.ISO(b, r.Time)
	b = append(b, ',')
	b = c.ISO(b, r.Start)
	b = append(b, ',')
	b = AppendGUID(b, r.RequestID)
	b = append(b, ',')
	b = r.Version.appendCSV(b)
	b = append(b, ",,"...) // ClientRequestId
	for _, s := range [...]string{r.Host, r.Stem, r.AuthType} {
		b = AppendHP(b, s)
		b = append(b, ',')
	}
	b = append(b, "true,"...)
	b = AppendHP(b, r.User)
	b = append(b, ",,,"...) // Organization, ManagedOrganization
	for _, s := range [...]string{r.ClientIP, r.ServerName, r.FrontEndServer} {
		b = AppendHP(b, s)
		b = append(b, ',')
	}
	b = appendInt(b, r.Status)
	b = append(b, ",0,,"...) // SubStatus, ErrorCode
	b = AppendHP(b, r.Action)
	b = append(b, ',')
	if r.CommandID != nil {
		b = AppendGUID(b, *r.CommandID)
	}
	b = append(b, ',')
	b = AppendHP(b, r.CommandName)
	b = append(b, ',')
	b = AppendGUID(b, r.Session)
	b = append(b, ',')
	b = AppendGUID(b, r.Session)
	b = append(b, ",False,False,"...)
	b = appendInt(b, r.ReqBytes)
	b = append(b, ',')
	b = AppendHP(b, r.ClientInfo)
	b = append(b, ',')
	b = appendInt(b, r.CPU)
	b = append(b, ',')
	b = appendInt(b, r.Memory)
	b = append(b, ',')
	b = appendInt(b, r.ContextLifeTime)
	b = append(b, ',')
	b = appendInt(b, r.TotalMS)
	b = append(b, ',')
	if r.Query != "" {
		b = append(b, '?')
		b = AppendHP(b, r.Query)
	}
	b = append(b, ",,"...) // GenericLatency
	b = append(b, r.GenericInfo...)
	b = append(b, ',') // GenericErrors
	return append(b, crlf...)
}

// RpsCmdletRow is one remote PowerShell cmdlet log row.
type RpsCmdletRow struct {
	Time, Start       time.Time
	RequestID         GUID
	Version           Version
	ServerName        string
	ProcessID         int
	ProcessName       string
	ThreadID          int
	Culture           string
	User, UserSID     string
	ClientApplication string
	Cmdlet, Params    string
	CmdletID          GUID
	Budget            string // UserBudgetOnStart
	RunspaceHint      string // RunspaceSettingsCreationHint
	DomainDNS         string // ADRecipientViewRoot
	DC                string // the four domain-controller columns
	Success           bool
	Error             string
	GenericInfo       []byte // written raw
}

// AppendRpsCmdletRow appends r.
func AppendRpsCmdletRow(b []byte, c *Clock, r *RpsCmdletRow) []byte {
	b = c.ISO(b, r.Time)
	b = append(b, ',')
	b = c.ISO(b, r.Start)
	b = append(b, ',')
	b = AppendGUID(b, r.RequestID)
	b = append(b, ",,"...) // ClientRequestId
	b = r.Version.appendCSV(b)
	b = append(b, ',')
	b = AppendHP(b, r.ServerName)
	b = append(b, ',')
	b = appendInt(b, r.ProcessID)
	b = append(b, ',')
	b = AppendHP(b, r.ProcessName)
	b = append(b, ',')
	b = appendInt(b, r.ThreadID)
	b = append(b, ',')
	b = AppendHP(b, r.Culture)
	b = append(b, ",,"...) // Organization
	b = AppendHP(b, r.User)
	b = append(b, ',')
	b = AppendHP(b, r.UserSID)
	b = append(b, ",,,True,"...) // EffectiveOrganization, UserServicePlan, IsAdmin
	b = AppendHP(b, r.ClientApplication)
	b = append(b, ',')
	b = AppendHP(b, r.Cmdlet)
	b = append(b, ',')
	b = AppendHP(b, r.Params)
	b = append(b, ',')
	b = AppendGUID(b, r.CmdletID)
	b = append(b, ',')
	b = AppendHP(b, r.Budget)
	b = append(b, ",False,"...) // ContributeToFailFast
	b = AppendHP(b, r.RunspaceHint)
	b = append(b, ",False,"...) // ADViewEntireForest
	b = AppendHP(b, r.DomainDNS)
	for range 4 {
		b = append(b, ',')
		b = AppendHP(b, r.DC)
	}
	b = append(b, ",,,False,"...) // attempted DCs, IsHybridOrg
	if r.Success {
		b = append(b, "True,"...)
	} else {
		b = append(b, "False,"...)
	}
	b = AppendHP(b, r.Error)
	b = append(b, ',')
	b = append(b, r.GenericInfo...)
	b = append(b, ',') // GenericErrors
	return append(b, crlf...)
}

// AppendECPRow appends one ECP Server log row of event ECP.Request;
// EventData is CSV-quoted when it holds quotes or commas, as a script tag
// in a virtual-directory URL does.
func AppendECPRow(b []byte, c *Clock, t time.Time, server, data string) []byte {
	b = c.ISO(b, t)
	b = append(b, ',')
	b = AppendHP(b, server)
	b = append(b, ",ECP.Request,"...)
	b = AppendCSV(b, data)
	return append(b, crlf...)
}

// AppendOABLine appends one OAB generator log line: timestamp, level,
// message. The log has no field syntax; line breaks in msg become spaces.
func AppendOABLine(b []byte, c *Clock, t time.Time, level, msg string) []byte {
	b = c.ISO(b, t)
	b = append(b, ' ')
	b = append(b, level...)
	b = append(b, ' ')
	for i := 0; i < len(msg); i++ {
		if ch := msg[i]; ch == '\r' || ch == '\n' {
			b = append(b, ' ')
		} else {
			b = append(b, ch)
		}
	}
	return append(b, crlf...)
}
