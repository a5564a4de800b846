package lab

import (
	"strings"

	"github.com/exhunt/exhunt/internal/logs"
)

// The lab states what each line says; internal/logs writes it in the
// format, shared with the decoy.

// header writes the header block of a new file.
func (g *gen) header(s *stream, t int64) {
	b := g.hbuf[:0]
	lines := 5
	tt := toTime(t)
	switch s.kind {
	case stFE, stBE:
		b, lines = logs.AppendW3CHeader(b, &g.clk, g.cur.iisVersion(), tt, s.alt), 4
	case stECP:
		b = logs.AppendExchangeHeader(b, &g.clk, "15.0.0.0", logs.LogTypeECP, tt, logs.ECPFields)
	case stOAB:
		lines = 0 // no header is known for this log
	case stRpsHTTP:
		b = logs.AppendExchangeHeader(b, &g.clk, g.cur.v.LogVersion(), logs.LogTypeRpsHTTP, tt, logs.RpsHTTPFields)
	case stRpsCmdlet:
		b = logs.AppendExchangeHeader(b, &g.clk, g.cur.v.LogVersion(), logs.LogTypeRpsCmdlet, tt, logs.RpsCmdletFields)
	case stEWS:
		b = logs.AppendExchangeHeader(b, &g.clk, g.cur.v.LogVersion(), logs.LogTypeEWS, tt, logs.EWSFields)
	default:
		fields := g.cur.v.ProxyFieldList()
		if g.bareHeader {
			// The bare column row Import-Csv based scripts rely on.
			b = append(b, fields...)
			b = append(b, "\r\n"...)
			lines++
		}
		b = logs.AppendExchangeHeader(b, &g.clk, g.cur.v.LogVersion(), logs.LogTypeProxy, tt, fields)
	}
	g.raw(s, b, lines)
	g.hbuf = b
}

// iisRestart writes the directive block IIS emits when the site starts
// again in the middle of a day's file; alt switches the field list.
func (g *gen) iisRestart(kind int, t int64, alt bool) {
	s := g.streams[kind]
	s.alt = alt
	if s.f == nil || t/s.period != s.cur {
		return // the next file starts with the new header anyway
	}
	g.raw(s, logs.AppendW3CHeader(g.hbuf[:0], &g.clk, g.cur.iisVersion(), toTime(t), s.alt), 4)
	s.last = max(s.last, t)
}

// w3cLine formats the front-end (be=false) or back-end IIS line of r.
func (g *gen) w3cLine(r *request, be, alt bool) []byte {
	row := logs.W3CRow{Time: toTime(r.t), ServerIP: g.ip, Method: r.method, UserAgent: r.ua.raw}
	if be {
		row.Stem, row.Query, row.Port = r.beStem, r.beQuery, 444
		row.User, row.ClientIP = r.beUser, r.beIP
		row.Status, row.TakenMS = r.beStatus, r.taken*2/3
	} else {
		row.Host, row.HostField = r.host, alt
		row.Stem, row.Query, row.Port = r.stem, r.query, 443
		row.User, row.ClientIP, row.Referer = r.user, r.ip, r.ref
		row.Status, row.Win32, row.TakenMS = r.status, r.win32, r.taken
		if r.cafe {
			// The front end appends its correlation ids to every query it
			// proxies; a request without a query gets a field starting with &.
			tail := append(g.tail[:0], "&CorrelationID=<empty>;&cafeReqId="...)
			tail = logs.AppendGUID(tail, r.id)
			tail = append(tail, ';')
			if r.proto == pOwa {
				tail = append(tail, "&encoding=;"...)
			}
			g.tail = tail
			row.QueryTail = string(tail)
		}
	}
	g.buf = logs.AppendW3CRow(g.buf[:0], &g.clk, &row)
	return g.buf
}

// proxyLine formats the HttpProxy row of r, shaped like the rows Exchange
// 2016 writes: latencies that add up, GenericInfo with the proxy state
// machine's timestamps.
func (g *gen) proxyLine(r *request) []byte {
	row := logs.ProxyRow{Time: toTime(r.t), RequestID: r.id, Version: g.cur.v,
		ClientRequestID: r.clientReqID, Protocol: protocolNames[r.proto], Host: r.host, Stem: r.stem, Action: r.action,
		AuthType: r.authType, User: r.authUser, Anchor: r.anchor, UserAgent: r.ua.raw, ClientIP: r.ip, ServerName: g.name,
		Status: r.status, BackEndStatus: r.beStatus, ErrorCode: r.errCode, Method: r.method,
		TargetServer: r.target, TargetVer: r.targetVer, RoutingType: r.routingType, RoutingHint: r.routingHint,
		ReqBytes: r.reqBytes, RespBytes: r.respBytes, Query: r.query, GenericErrors: r.genericErr}
	if row.TargetServer == "" && r.be {
		row.TargetServer, row.TargetVer = g.fqdn, g.targetVer
	}
	if r.be {
		row.OutstandingRequests = 1
	}
	if r.authUser != "" {
		row.AuthPerf = "UAC=0;UAL=0;"
	}
	// The split mirrors real rows: backend processing dominates, the proxy
	// adds a few ms.
	total := r.taken
	core := 1 + total/20
	be := total - core
	if !r.be {
		be = 0
	}
	row.TotalMS = total
	row.Latency = &logs.ProxyLatency{CalculateTargetBackEnd: core / 2, AD: core / 3, ActivityContextLifeTime: total,
		BackendProcessing: be, BackendRespInit: be / 9, RequestHandler: total,
		ProxyTime: be, Core: core, Routing: core/2 + 1, Overhead: core}
	begin := r.t - int64(total)
	gi := append(g.info[:0], "BeginRequest="...)
	gi = g.clk.ISO(gi, toTime(begin))
	gi = append(gi, ";CorrelationID=<empty>;ProxyState-Run=None;FEAuth=BEVersion-"...)
	gi = appendInt(gi, r.feAuth)
	gi = append(gi, ';')
	gi = append(gi, r.genericExtra...)
	if r.be {
		gi = append(gi, "NewConnection="...)
		gi = append(gi, g.ip...)
		gi = append(gi, "&0;BeginGetResponse="...)
		gi = g.clk.ISO(gi, toTime(begin+int64(core)))
		gi = append(gi, ";OnResponseReady="...)
		gi = g.clk.ISO(gi, row.Time)
		gi = append(gi, ";EndGetResponse="...)
		gi = g.clk.ISO(gi, row.Time)
		gi = append(gi, ";ProxyState-Complete=ProxyResponseData;"...)
	}
	gi = append(gi, "SharedCacheGuard=0;EndRequest="...)
	gi = g.clk.ISO(gi, row.Time)
	gi = append(gi, ';')
	g.info = gi
	row.GenericInfo = gi
	g.buf = logs.AppendProxyRow(g.buf[:0], &g.clk, &row)
	return g.buf
}

// ewsLine formats the back end's EWS log row for r.
func (g *gen) ewsLine(r *request) []byte {
	gi := append(g.info[:0], "ActivityID="...)
	gi = logs.AppendGUID(gi, r.id2)
	gi = append(gi, ";BudgetType=Default;ADCount=2;ADLatency="...)
	gi = appendInt(gi, 1+r.taken/25)
	gi = append(gi, ";MailboxTypeCacheSize=412;S:WLM.Cl=InternalMaintenance;S:WLM.Type=Ews;S:ServiceTaskMetadata.ADCount=0;S:BudgetMetadata.MaxConn=27;TotalRequestTime="...)
	gi = appendInt(gi, r.taken*2/3)
	gi = append(gi, ';')
	g.info = gi
	row := logs.EWSRow{Time: toTime(r.t), RequestID: r.id, Version: g.cur.v, AuthType: r.authType, User: r.ews.user,
		UserAgent: r.ua.raw, VersionInfo: "Exchange2013_SP1", ClientIP: r.ip, ServerName: g.name, FrontEndServer: g.fqdn,
		SoapAction: r.ews.soap, Status: r.beStatus, ReqBytes: r.reqBytes, RespBytes: r.respBytes,
		CorrelationID: r.id2, PrimaryServer: g.fqdn, GenericInfo: gi}
	g.buf = logs.AppendEWSRow(g.buf[:0], &g.clk, &row)
	return g.buf
}

// rpsHTTPLine formats the remote PowerShell HTTP row of r (a /powershell
// request as the back end sees it).
func (g *gen) rpsHTTPLine(r *request) []byte {
	rp := r.rps
	row := logs.RpsHTTPRow{Time: toTime(r.t), Start: toTime(r.t - int64(r.taken)), RequestID: r.id, Version: g.cur.v,
		Host: g.fqdn, Stem: rp.stem, AuthType: r.authType, User: rp.user, ClientIP: r.ip, ServerName: g.name,
		FrontEndServer: g.fqdn, Status: r.beStatus, Action: rp.action, CommandName: rp.command, Session: rp.session,
		ReqBytes: r.reqBytes, ClientInfo: rp.clientInfo, CPU: r.taken / 7, Memory: 52428800 + r.respBytes*13,
		ContextLifeTime: r.taken, TotalMS: r.taken, Query: rp.query, GenericInfo: "RequestFlow=WSMan;CAT=False;"}
	if rp.action == "Command" || rp.action == "Receive" {
		row.CommandID = &r.id2
	}
	g.buf = logs.AppendRpsHTTPRow(g.buf[:0], &g.clk, &row)
	return g.buf
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
	row := logs.RpsCmdletRow{Time: toTime(t), Start: toTime(t - int64(took)), RequestID: g.newGUID(), Version: g.cur.v,
		ServerName: g.name, ProcessID: c.processID, ProcessName: "w3wp#MSExchangePowerShellAppPool",
		ThreadID: 20 + c.processID%97, Culture: "en-US", User: c.user, UserSID: c.sid, ClientApplication: c.app,
		Cmdlet: c.name, Params: c.params, CmdletID: g.newGUID(),
		Budget:       "Conn:1;MaxConn:18;MaxBurst:420000;Balance:420000;Cutoff:1000000;RechargeRate:1800000;Policy:DefaultThrottlingPolicy;IsServiceAccount:False",
		RunspaceHint: c.runspaceTag, DomainDNS: g.domainDNS, DC: g.dc, Success: c.success, Error: c.errText}
	gi := append(g.info[:0], "ActivityId="...)
	gi = logs.AppendGUID(gi, g.newGUID())
	gi = append(gi, ";TotalTime="...)
	gi = appendInt(gi, took)
	gi = append(gi, ';')
	g.info = gi
	row.GenericInfo = gi
	g.buf = logs.AppendRpsCmdletRow(g.buf[:0], &g.clk, &row)
	return g.buf
}

// ecpLine formats one ECP Server log row.
func (g *gen) ecpLine(t int64, data string) []byte {
	g.buf = logs.AppendECPRow(g.buf[:0], &g.clk, toTime(t), g.name, data)
	return g.buf
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
	sb.Write(logs.AppendGUID(nil, g.newGUID()))
	sb.WriteString(";S:RS=0;S:BLD=")
	sb.WriteString(g.cur.Version)
	sb.WriteString(";S:TNAME=<null>;S:TID=;S:USID=")
	sb.Write(logs.AppendGUID(nil, g.newGUID()))
	sb.WriteString(";S:EDOID=;S:ACID=")
	return sb.String()
}

// oabLine formats an OAB generator line: timestamp, level, message.
func (g *gen) oabLine(t int64, level, msg string) []byte {
	g.buf = logs.AppendOABLine(g.buf[:0], &g.clk, toTime(t), level, msg)
	return g.buf
}
