package lab

import (
	"strings"
)

// Field lists, as the files declare them.
const (
	proxyFieldsOld = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors"
	// proxyFields adds what 2016 CU22 / 2019 CU11 appended.
	proxyFields     = proxyFieldsOld + ",EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus"
	ecpFields       = "TimeStamp,ServerName,EventId,EventData"
	rpsHTTPFields   = "DateTime,StartTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,UrlHost,UrlStem,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,ManagedOrganization,ClientIpAddress,ServerHostName,FrontEndServer,HttpStatus,SubStatus,ErrorCode,Action,CommandId,CommandName,SessionId,ShellId,FailFast,ContributeToFailFast,RequestBytes,ClientInfo,CPU,Memory,ActivityContextLifeTime,TotalTime,UrlQuery,GenericLatency,GenericInfo,GenericErrors"
	rpsCmdletFields = "DateTime,StartTime,RequestId,ClientRequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ServerHostName,ProcessId,ProcessName,ThreadId,CultureInfo,Organization,AuthenticatedUser,ExecutingUserSid,EffectiveOrganization,UserServicePlan,IsAdmin,ClientApplication,Cmdlet,Parameters,CmdletUniqueId,UserBudgetOnStart,ContributeToFailFast,RunspaceSettingsCreationHint,ADViewEntireForest,ADRecipientViewRoot,ADConfigurationDomainControllers,ADRecipientDomainControllers,ADUserConfigurationDomainController,ADUserRecipientDomainController,ADRecipientAttemptedDC,ADConfigurationAttemptedDC,IsHybridOrg,Success,Error,GenericInfo,GenericErrors"
	ewsFields       = "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,UserAgent,VersionInfo,ClientIpAddress,ServerHostName,FrontEndServer,SoapAction,HttpStatus,RequestSize,ResponseSize,ErrorCode,ImpersonatedUser,ProxyAsUser,ActAsUser,Cookie,CorrelationGuid,PrimaryOrProxyServer,TaskType,GenericInfo,AuthenticationErrors,GenericErrors"

	w3cFields = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
	// w3cFieldsAlt adds cs-host after cs-method: what an admin ticking
	// "Host" in IIS Manager produces, so parsers must remap mid-file.
	w3cFieldsAlt = "date time s-ip cs-method cs-host cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)

const crlf = "\r\n"

// header writes the header block of a new file.
func (g *gen) header(s *stream, t int64) {
	b := g.hbuf[:0]
	lines := 5
	exchange := func(version, logType, fields string) {
		b = append(b, "#Software: Microsoft Exchange Server\r\n#Version: "...)
		b = append(b, version...)
		b = append(b, "\r\n#Log-type: "...)
		b = append(b, logType...)
		b = append(b, "\r\n#Date: "...)
		b = g.clk.iso(b, t)
		b = append(b, "\r\n#Fields: "...)
		b = append(b, fields...)
		b = append(b, crlf...)
	}
	switch s.kind {
	case stFE, stBE:
		b, lines = g.w3cHeader(b, s, t), 4
	case stECP:
		exchange("15.0.0.0", "ECP Server Log", ecpFields)
	case stOAB:
		lines = 0 // no header is known for this log
	case stRpsHTTP:
		exchange(g.cur.logVersion(), "Rps Http Logs", rpsHTTPFields)
	case stRpsCmdlet:
		exchange(g.cur.logVersion(), "Rps Cmdlet Logs", rpsCmdletFields)
	case stEWS:
		exchange(g.cur.logVersion(), "EWS Logs", ewsFields)
	default:
		fields := g.proxyFields()
		if g.bareHeader {
			// The bare column row Import-Csv based scripts rely on.
			b = append(b, fields...)
			b = append(b, crlf...)
			lines++
		}
		exchange(g.cur.logVersion(), "HttpProxy Logs", fields)
	}
	g.raw(s, b, lines)
	g.hbuf = b
}

func (g *gen) proxyFields() string {
	if g.cur.newProxyFields() {
		return proxyFields
	}
	return proxyFieldsOld
}

func (g *gen) w3cHeader(b []byte, s *stream, t int64) []byte {
	b = append(b, "#Software: Microsoft Internet Information Services "...)
	b = append(b, g.cur.iisVersion()...)
	b = append(b, "\r\n#Version: 1.0\r\n#Date: "...)
	b = g.clk.w3c(b, t)
	b = append(b, "\r\n#Fields: "...)
	if s.alt {
		b = append(b, w3cFieldsAlt...)
	} else {
		b = append(b, w3cFields...)
	}
	return append(b, crlf...)
}

// iisRestart writes the directive block IIS emits when the site starts
// again in the middle of a day's file; alt switches the field list.
func (g *gen) iisRestart(kind int, t int64, alt bool) {
	s := g.streams[kind]
	s.alt = alt
	if s.f == nil || t/s.period != s.cur {
		return // the next file starts with the new header anyway
	}
	g.raw(s, g.w3cHeader(g.hbuf[:0], s, t), 4)
	s.last = max(s.last, t)
}

// w3cLine formats the front-end (be=false) or back-end IIS line of r.
func (g *gen) w3cLine(r *request, be, alt bool) []byte {
	b := g.clk.w3c(g.buf[:0], r.t)
	b = append(b, ' ')
	b = append(b, g.ip...)
	b = append(b, ' ')
	b = append(b, r.method...)
	b = append(b, ' ')
	if alt {
		b = appendW3C(b, r.host)
		b = append(b, ' ')
	}
	if be {
		b = appendW3C(b, r.beStem)
		b = append(b, ' ')
		b = appendW3C(b, r.beQuery)
		b = append(b, " 444 "...)
		b = appendW3C(b, r.beUser)
		b = append(b, ' ')
		b = append(b, r.beIP...)
		b = append(b, ' ')
		b = append(b, r.ua.w3c...)
		b = append(b, " - "...)
		b = appendInt(b, r.beStatus)
		b = append(b, " 0 0 "...)
		b = appendInt(b, r.taken*2/3)
		b = append(b, crlf...)
		g.buf = b
		return b
	}
	b = appendW3C(b, r.stem)
	b = append(b, ' ')
	switch {
	case r.cafe:
		// The front end appends its correlation ids to every query it
		// proxies; a request without a query gets a field starting with &.
		if r.query != "" {
			b = appendW3C(b, r.query)
		}
		b = append(b, "&CorrelationID=<empty>;&cafeReqId="...)
		b = appendGUID(b, r.id)
		b = append(b, ';')
		if r.proto == pOwa {
			b = append(b, "&encoding=;"...)
		}
	default:
		b = appendW3C(b, r.query)
	}
	b = append(b, " 443 "...)
	b = appendW3C(b, r.user)
	b = append(b, ' ')
	b = append(b, r.ip...)
	b = append(b, ' ')
	b = append(b, r.ua.w3c...)
	b = append(b, ' ')
	b = appendW3C(b, r.ref)
	b = append(b, ' ')
	b = appendInt(b, r.status)
	b = append(b, " 0 "...)
	b = appendInt(b, r.win32)
	b = append(b, ' ')
	b = appendInt(b, r.taken)
	b = append(b, crlf...)
	g.buf = b
	return b
}

// proxyLine formats the HttpProxy row of r, shaped like the rows Exchange
// 2016 writes: latencies that add up, GenericInfo with the proxy state
// machine's timestamps.
func (g *gen) proxyLine(r *request) []byte {
	bl := g.cur
	b := g.clk.iso(g.buf[:0], r.t)
	b = append(b, ',')
	b = appendGUID(b, r.id)
	b = append(b, ',')
	b = appendInt(b, bl.major)
	b = append(b, ',')
	b = appendInt(b, bl.minor)
	b = append(b, ',')
	b = appendInt(b, bl.number)
	b = append(b, ',')
	b = appendInt(b, bl.rev)
	b = append(b, ',')
	b = append(b, r.clientReqID...)
	b = append(b, ',')
	b = append(b, protocolNames[r.proto]...)
	b = append(b, ',')
	b = appendHP(b, r.host)
	b = append(b, ',')
	b = appendHP(b, r.stem)
	b = append(b, ',')
	b = appendHP(b, r.action)
	b = append(b, ',')
	b = append(b, r.authType...)
	b = append(b, ',')
	if r.authUser != "" {
		b = append(b, "true,"...)
	} else {
		b = append(b, "false,"...)
	}
	b = appendHP(b, r.authUser)
	b = append(b, ',', ',') // Organization
	b = appendHP(b, r.anchor)
	b = append(b, ',')
	b = append(b, r.ua.hp...)
	b = append(b, ',')
	b = append(b, r.ip...)
	b = append(b, ',')
	b = append(b, g.name...)
	b = append(b, ',')
	b = appendInt(b, r.status)
	b = append(b, ',')
	if r.beStatus > 0 {
		b = appendInt(b, r.beStatus)
	}
	b = append(b, ',')
	b = append(b, r.errCode...)
	b = append(b, ',')
	b = append(b, r.method...)
	b = append(b, ",Proxy,"...)
	target, tver := r.target, r.targetVer
	if target == "" && r.be {
		target, tver = g.fqdn, g.targetVer
	}
	b = appendHP(b, target)
	b = append(b, ',')
	b = append(b, tver...)
	b = append(b, ',')
	b = append(b, r.routingType...)
	b = append(b, ',')
	b = appendHP(b, r.routingHint)
	b = append(b, ",,,,"...) // BackEndCookie, ServerLocatorHost, ServerLocatorLatency
	b = appendInt(b, r.reqBytes)
	b = append(b, ',')
	b = appendInt(b, r.respBytes)
	b = append(b, ',')
	if r.be {
		b = append(b, '1')
	}
	b = append(b, ',')
	// AuthModulePerfContext … TotalRequestTime. The split mirrors real
	// rows: backend processing dominates, the proxy adds a few ms.
	total := r.taken
	core := 1 + total/20
	be := total - core
	if !r.be {
		be = 0
	}
	if r.authUser != "" {
		b = append(b, "UAC=0;UAL=0;"...)
	}
	b = append(b, ",0,"...) // HttpPipelineLatency
	b = appendInt(b, core/2)
	b = append(b, ",,0,,0,,0,"...) // Gls, AccountForest, ResourceForest
	b = appendInt(b, core/3)       // ADLatency
	b = append(b, ",,0,"...)       // SharedCache
	b = appendInt(b, total)        // ActivityContextLifeTime
	b = append(b, ",0,,,,"...)     // ModuleToHandler…BackendReqStream
	b = appendInt(b, be)           // BackendProcessingLatency
	b = append(b, ',')
	b = appendInt(b, be/9)
	b = append(b, ",0,0,,0,"...)
	b = appendInt(b, total) // RequestHandlerLatency
	b = append(b, ",0,"...)
	b = appendInt(b, be) // ProxyTime
	b = append(b, ',')
	b = appendInt(b, core)
	b = append(b, ',')
	b = appendInt(b, core/2+1)
	b = append(b, ',')
	b = appendInt(b, core)
	b = append(b, ',')
	b = appendInt(b, total)
	b = append(b, ",,"...) // RouteRefresherLatency
	if r.query != "" {
		b = append(b, '?')
		b = appendHP(b, r.query)
	}
	b = append(b, ",,"...) // BackEndGenericInfo
	begin := r.t - int64(total)
	b = append(b, "BeginRequest="...)
	b = g.clk.iso(b, begin)
	b = append(b, ";CorrelationID=<empty>;ProxyState-Run=None;FEAuth=BEVersion-"...)
	b = appendInt(b, r.feAuth)
	b = append(b, ';')
	b = append(b, r.genericExtra...)
	if r.be {
		b = append(b, "NewConnection="...)
		b = append(b, g.ip...)
		b = append(b, "&0;BeginGetResponse="...)
		b = g.clk.iso(b, begin+int64(core))
		b = append(b, ";OnResponseReady="...)
		b = g.clk.iso(b, r.t)
		b = append(b, ";EndGetResponse="...)
		b = g.clk.iso(b, r.t)
		b = append(b, ";ProxyState-Complete=ProxyResponseData;"...)
	}
	b = append(b, "SharedCacheGuard=0;EndRequest="...)
	b = g.clk.iso(b, r.t)
	b = append(b, ';', ',')
	b = appendHP(b, r.genericErr)
	if bl.newProxyFields() {
		b = append(b, ",,,,,CafeV1"...)
	}
	b = append(b, crlf...)
	g.buf = b
	return b
}

// ewsLine formats the back end's EWS log row for r.
func (g *gen) ewsLine(r *request) []byte {
	b := g.clk.iso(g.buf[:0], r.t)
	b = append(b, ',')
	b = appendGUID(b, r.id)
	b = g.appendBuild(b)
	b = append(b, ',') // ClientRequestId
	b = append(b, ',')
	b = append(b, r.authType...)
	b = append(b, ",true,"...)
	b = appendHP(b, r.ews.user)
	b = append(b, ',', ',')
	b = append(b, r.ua.hp...)
	b = append(b, ",Exchange2013_SP1,"...)
	b = append(b, r.ip...)
	b = append(b, ',')
	b = append(b, g.name...)
	b = append(b, ',')
	b = append(b, g.fqdn...)
	b = append(b, ',')
	b = append(b, r.ews.soap...)
	b = append(b, ',')
	b = appendInt(b, r.beStatus)
	b = append(b, ',')
	b = appendInt(b, r.reqBytes)
	b = append(b, ',')
	b = appendInt(b, r.respBytes)
	b = append(b, ",,,,,,"...) // ErrorCode … Cookie
	b = appendGUID(b, r.id2)
	b = append(b, ',')
	b = append(b, g.fqdn...)
	b = append(b, ",,ActivityID="...)
	b = appendGUID(b, r.id2)
	b = append(b, ";BudgetType=Default;ADCount=2;ADLatency="...)
	b = appendInt(b, 1+r.taken/25)
	b = append(b, ";MailboxTypeCacheSize=412;S:WLM.Cl=InternalMaintenance;S:WLM.Type=Ews;S:ServiceTaskMetadata.ADCount=0;S:BudgetMetadata.MaxConn=27;TotalRequestTime="...)
	b = appendInt(b, r.taken*2/3)
	b = append(b, ";,,"...)
	b = append(b, crlf...)
	g.buf = b
	return b
}

func (g *gen) appendBuild(b []byte) []byte {
	bl := g.cur
	b = append(b, ',')
	b = appendInt(b, bl.major)
	b = append(b, ',')
	b = appendInt(b, bl.minor)
	b = append(b, ',')
	b = appendInt(b, bl.number)
	b = append(b, ',')
	return appendInt(b, bl.rev)
}

// rpsHTTPLine formats the remote PowerShell HTTP row of r (a /powershell
// request as the back end sees it).
func (g *gen) rpsHTTPLine(r *request) []byte {
	rp := r.rps
	b := g.clk.iso(g.buf[:0], r.t)
	b = append(b, ',')
	b = g.clk.iso(b, r.t-int64(r.taken))
	b = append(b, ',')
	b = appendGUID(b, r.id)
	b = g.appendBuild(b)
	b = append(b, ',', ',')
	b = appendHP(b, g.fqdn)
	b = append(b, ',')
	b = appendHP(b, rp.stem)
	b = append(b, ',')
	b = append(b, r.authType...)
	b = append(b, ",true,"...)
	b = appendHP(b, rp.user)
	b = append(b, ",,,"...)
	b = append(b, r.ip...)
	b = append(b, ',')
	b = append(b, g.name...)
	b = append(b, ',')
	b = append(b, g.fqdn...)
	b = append(b, ',')
	b = appendInt(b, r.beStatus)
	b = append(b, ",0,,"...)
	b = append(b, rp.action...)
	b = append(b, ',')
	if rp.action == "Command" || rp.action == "Receive" {
		b = appendGUID(b, r.id2)
	}
	b = append(b, ',')
	b = appendHP(b, rp.command)
	b = append(b, ',')
	b = appendGUID(b, rp.session)
	b = append(b, ',')
	b = appendGUID(b, rp.session)
	b = append(b, ",False,False,"...)
	b = appendInt(b, r.reqBytes)
	b = append(b, ',')
	b = appendHP(b, rp.clientInfo)
	b = append(b, ',')
	b = appendInt(b, r.taken/7)
	b = append(b, ',')
	b = appendInt(b, 52428800+r.respBytes*13)
	b = append(b, ',')
	b = appendInt(b, r.taken)
	b = append(b, ',')
	b = appendInt(b, r.taken)
	b = append(b, ',')
	if rp.query != "" {
		b = append(b, '?')
		b = appendHP(b, rp.query)
	}
	b = append(b, ",,"...)
	b = append(b, "RequestFlow=WSMan;CAT=False;"...)
	b = append(b, ',')
	b = append(b, crlf...)
	g.buf = b
	return b
}

// cmdlet is one Rps_Cmdlet row.
type cmdlet struct {
	user, sid   string // AuthenticatedUser, ExecutingUserSid
	app         string // ClientApplication
	name        string
	params      string
	success     bool
	errText     string
	processID   int
	runspaceTag string
}

func (g *gen) cmdletLine(t int64, c *cmdlet, took int) []byte {
	b := g.clk.iso(g.buf[:0], t)
	b = append(b, ',')
	b = g.clk.iso(b, t-int64(took))
	b = append(b, ',')
	b = appendGUID(b, g.newGUID())
	b = append(b, ',') // ClientRequestId
	b = g.appendBuild(b)
	b = append(b, ',')
	b = append(b, g.name...)
	b = append(b, ',')
	b = appendInt(b, c.processID)
	b = append(b, ",w3wp#MSExchangePowerShellAppPool,"...)
	b = appendInt(b, 20+c.processID%97)
	b = append(b, ",en-US,,"...)
	b = appendHP(b, c.user)
	b = append(b, ',')
	b = append(b, c.sid...)
	b = append(b, ",,,True,"...)
	b = appendHP(b, c.app)
	b = append(b, ',')
	b = append(b, c.name...)
	b = append(b, ',')
	b = appendHP(b, c.params)
	b = append(b, ',')
	b = appendGUID(b, g.newGUID())
	b = append(b, ",Conn:1;MaxConn:18;MaxBurst:420000;Balance:420000;Cutoff:1000000;RechargeRate:1800000;Policy:DefaultThrottlingPolicy;IsServiceAccount:False,False,"...)
	b = append(b, c.runspaceTag...)
	b = append(b, ",False,"...)
	b = append(b, g.domainDNS...)
	for range 4 {
		b = append(b, ',')
		b = append(b, g.dc...)
	}
	b = append(b, ",,,False,"...)
	if c.success {
		b = append(b, "True,"...)
	} else {
		b = append(b, "False,"...)
	}
	b = appendHP(b, c.errText)
	b = append(b, ",ActivityId="...)
	b = appendGUID(b, g.newGUID())
	b = append(b, ";TotalTime="...)
	b = appendInt(b, took)
	b = append(b, ";,"...)
	b = append(b, crlf...)
	g.buf = b
	return b
}

// ecpLine formats one ECP Server log row; EventData is CSV-quoted when it
// holds quotes or commas, as a script tag in a vdir URL does.
func (g *gen) ecpLine(t int64, data string) []byte {
	b := g.clk.iso(g.buf[:0], t)
	b = append(b, ',')
	b = append(b, g.name...)
	b = append(b, ",ECP.Request,"...)
	b = appendCSV(b, data)
	b = append(b, crlf...)
	g.buf = b
	return b
}

// ecpEventData builds the S:KEY=value list of an ECP.Request event.
func (g *gen) ecpEventData(took int, sid, cmd, url string) string {
	var sb strings.Builder
	sb.WriteString("S:TIME=")
	sb.Write(appendInt(nil, took))
	sb.WriteString(";S:SID=")
	sb.WriteString(sid)
	sb.WriteString(";S:CMD=")
	sb.WriteString(cmd)
	sb.WriteString(";S:REQID=;S:URL=")
	sb.WriteString(url)
	sb.WriteString(";S:REFERRER=;S:EX=;S:ACTID=")
	sb.Write(appendGUID(nil, g.newGUID()))
	sb.WriteString(";S:RS=0;S:BLD=")
	sb.WriteString(g.cur.Version)
	sb.WriteString(";S:TNAME=<null>;S:TID=;S:USID=")
	sb.Write(appendGUID(nil, g.newGUID()))
	sb.WriteString(";S:EDOID=;S:ACID=")
	return sb.String()
}

// oabLine formats an OAB generator line: timestamp, level, message.
func (g *gen) oabLine(t int64, level, msg string) []byte {
	b := g.clk.iso(g.buf[:0], t)
	b = append(b, ' ')
	b = append(b, level...)
	b = append(b, ' ')
	b = append(b, msg...)
	b = append(b, crlf...)
	g.buf = b
	return b
}
