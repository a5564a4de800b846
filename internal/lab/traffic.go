package lab

import (
	"strconv"
	"strings"
)

// agent is a User-Agent in the three spellings the logs use.
type agent struct{ raw string }

func newAgent(raw string) *agent { return &agent{raw: raw} }

func agents(raws ...string) []*agent {
	out := make([]*agent, len(raws))
	for i, r := range raws {
		out[i] = newAgent(r)
	}
	return out
}

// Benign User-Agents. None is on the Volexity list; ExchangeServicesClient
// with a real version is the EWS Managed API many line-of-business tools
// use, a near miss for ExchangeServicesClient/0.0.0.0.
var (
	browserAgents = agents(
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.190 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.182 Safari/537.36 Edg/88.0.705.81",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:86.0) Gecko/20100101 Firefox/86.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.3 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
	)
	outlookAgents = agents(
		"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13801; Pro)",
		"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.13628; Pro)",
		"Microsoft Office/15.0 (Windows NT 6.1; Microsoft Outlook 15.0.5319; Pro)",
	)
	ewsAgents = agents(
		"Mac OS X/10.15.7 (19H15); ExchangeWebServices/11.0 (3654.120.0.1.13); Mail/13.4 (3608.120.23.2.4)",
		"MacOutlook/16.46.21021202 (Intelx64 Mac OS X 10.15.7 (Build 19H512))",
		"ExchangeServicesClient/15.00.0913.015",
	)
	mobileAgents = agents(
		"Apple-iPhone12C1/1802.67",
		"Apple-iPhone13C2/1804.61",
		"Android-Mail/2021.01.10.351404437.release",
		"Outlook-iOS-Android/1.0",
		"SAMSUNG-SM-G991B/101.303",
	)
	outlookMobile = newAgent("Outlook-iOS/709.2189947.prod.iphone (4.2106.0)")
	probeAgent    = newAgent("AMProbe/Local/ClientAccess")
	winRMAgent    = newAgent("Microsoft WinRM Client")
	beProbeAgent  = newAgent("Exchange BackEnd Probes")
	rpcAgent      = newAgent("MSRPC")
)

// Internet scanners that are not attacks: they fire no rule.
var scanners = []struct {
	net string
	ua  *agent
}{
	{"162.142.125.", newAgent("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)")},
	{"167.94.138.", newAgent("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)")},
	{"45.79.163.", newAgent("Mozilla/5.0 zgrab/0.x")},
	{"64.62.197.", newAgent("Mozilla/5.0 zgrab/0.x")},
	{"34.96.130.", newAgent("Expanse, a Palo Alto Networks company, searches across the global IPv4 space multiple times per day to identify customers' presences on the Internet. If you would like to be excluded from our scans, please send IP addresses/domains to: scaninfo@paloaltonetworks.com")},
	{"71.6.199.", newAgent(`"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"`)},
	{"89.248.165.", newAgent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.85 Safari/537.36")},
}

// Public prefixes for users' home and mobile addresses: none overlaps the
// documentation ranges attackers use here or the Volexity/CISA list.
var publicNets = []string{
	"24.6.", "31.14.", "46.101.", "62.210.", "71.192.", "73.158.", "77.68.", "81.2.",
	"82.132.", "86.52.", "88.150.", "89.204.", "90.113.", "92.40.", "94.134.", "95.91.",
	"98.207.", "109.190.", "151.80.", "176.31.", "178.62.", "188.165.", "212.58.", "217.72.",
}

var firstNames = []string{
	"james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william", "elizabeth",
	"david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
	"daniel", "nancy", "matthew", "lisa", "anthony", "betty", "mark", "sandra", "paul", "ashley",
}

var lastNames = []string{
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
	"hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin",
	"lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "doe",
}

const (
	domainSID = "S-1-5-21-3623811015-3361044348-30300820-"
	mailHost  = "mail.contoso.com"
)

type user struct {
	sam, upn, dom, sid string
	mbx                string // mailbox GUID, as MAPI URLs carry it
	ip, mobileIP       string
	browser, outlook   *agent
	ews, mobile        *agent
	device, devType    string
	canary             string
}

func (g *gen) population() {
	g.domainDNS, g.dc = "contoso.local", "DC01.contoso.local"
	g.fqdn = g.name + "." + g.domainDNS
	g.host = mailHost
	g.ip = "10.0." + strconv.Itoa(1+g.idx/200) + "." + strconv.Itoa(10+g.idx%200)
	g.pubIP = "52.169." + strconv.Itoa(10+g.idx%200) + "." + strconv.Itoa(20+g.rng.IntN(200))
	n := 40 + g.rng.IntN(40)
	taken := map[string]bool{}
	for i := range n {
		sam := firstNames[g.rng.IntN(len(firstNames))][:1] + lastNames[g.rng.IntN(len(lastNames))]
		for taken[sam] {
			sam += strconv.Itoa(g.rng.IntN(10))
		}
		taken[sam] = true
		g.users = append(g.users, g.newUser(sam, 1105+i*7))
	}
	g.admins = []*user{g.newUser("administrator", 500), g.newUser("exadmin", 1104)}
	for _, a := range g.admins {
		a.ip = g.internalIP()
	}
	hm := make([]byte, 0, 32)
	for range 16 {
		v := g.rng.IntN(256)
		hm = append(hm, hexDigits[v>>4], hexDigits[v&15])
	}
	g.health = g.newUser("HealthMailbox"+string(hm), 1103)
	g.health.ip = "127.0.0.1"
	g.oabID = g.newGUID().String()
	g.oabFile = g.newGUID().String() + "-data-" + strconv.Itoa(1+g.rng.IntN(400)) + ".lzx"
}

func (g *gen) newUser(sam string, rid int) *user {
	u := &user{
		sam: sam, upn: sam + "@contoso.com", dom: "contoso\\" + sam,
		sid:     domainSID + strconv.Itoa(rid),
		mbx:     g.newGUID().String(),
		browser: pick(g, browserAgents), outlook: pick(g, outlookAgents),
		ews: pick(g, ewsAgents), mobile: pick(g, mobileAgents),
		device: strings.ToUpper(g.newGUID().String()[:8] + g.newGUID().String()[24:]),
		canary: g.canary(),
	}
	u.devType = "iPhone"
	if strings.Contains(u.mobile.raw, "Android") || strings.Contains(u.mobile.raw, "SAMSUNG") {
		u.devType = "Android"
	}
	if g.rng.IntN(3) == 0 {
		u.ip = g.publicIP()
	} else {
		u.ip = g.internalIP()
	}
	u.mobileIP = g.publicIP()
	return u
}

func pick[T any](g *gen, list []T) T { return list[g.rng.IntN(len(list))] }

func (g *gen) internalIP() string {
	return "10." + strconv.Itoa(1+g.rng.IntN(3)) + "." + strconv.Itoa(g.rng.IntN(256)) + "." + strconv.Itoa(2+g.rng.IntN(253))
}

func (g *gen) publicIP() string {
	return pick(g, publicNets) + strconv.Itoa(g.rng.IntN(256)) + "." + strconv.Itoa(1+g.rng.IntN(254))
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *gen) randString(n int, chars string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[g.rng.IntN(len(chars))]
	}
	return string(b)
}

// canary is an msExchEcpCanary value: base64url text ending in a dot.
func (g *gen) canary() string {
	return g.randString(75, alnum+"-_") + "."
}

// jitter returns a duration in [lo, hi) ms.
func (g *gen) jitter(lo, hi int64) int64 { return lo + g.rng.Int64N(hi-lo) }

// Activity mix of user traffic, by relative weight.
var activities = []struct {
	w  int
	fn func(g *gen, t int64)
}{
	{18, (*gen).owaSession},
	{13, (*gen).ewsClient},
	{16, (*gen).activeSync},
	{18, (*gen).mapiClient},
	{8, (*gen).autodiscover},
	{3, (*gen).oabDownload},
	{3, (*gen).rpcClient},
	{2, (*gen).ecpAdmin},
	{2, (*gen).psAdmin},
	{4, (*gen).scan},
}

var activityTotal = func() int {
	n := 0
	for _, a := range activities {
		n += a.w
	}
	return n
}()

func (g *gen) userActivity(t int64) {
	x := g.rng.IntN(activityTotal)
	for _, a := range activities {
		if x < a.w {
			a.fn(g, t)
			return
		}
		x -= a.w
	}
}

// authed fills in an authenticated client of a proxied request.
func (g *gen) authed(r *request, u *user, ua *agent, ip, authType string) *request {
	r.user, r.authUser, r.authType = u.dom, u.upn, authType
	r.beUser = u.dom
	r.ua, r.ip = ua, ip
	r.anchor = "Sid~" + u.sid
	r.routingHint = "UserAuth-Sid"
	r.genericExtra = "Krb=UA;CT=Au;"
	r.reqBytes = 300 + g.rng.IntN(3000)
	return r
}

var owaStatic = []string{
	"themes/resources/logon.css", "themes/resources/favicon.ico", "themes/resources/owafont_ja.css",
	"themes/resources/segoeui-regular.ttf", "themes/resources/segoeui-semilight.ttf",
	"themes/resources/sharepointlogo.png", "scripts/premium/flogon.js",
}

var owaScripts = []string{"boot.worker.common.js", "microsoft.owa.boot.js", "owa.common.js", "owa.mail.js", "owa.calendar.js"}

var owaActions = []string{"GetFolder", "FindItem", "FindConversation", "GetConversationItems", "GetItem", "GetOwaUserConfiguration", "UpdateItem", "GetCalendarView", "GetPeopleFilters", "SubscribeToNotification"}

func (g *gen) owaSession(t int64) {
	u := pick(g, g.users)
	ua, ip := u.browser, u.ip
	owaRef := "https://" + mailHost + "/owa/"
	// Unauthenticated: the front end redirects to the forms logon page.
	r := g.newReq(t, "GET", "/owa/", "", pOwa)
	r.be, r.beStatus, r.status, r.ua, r.ip = false, 0, 302, ua, ip
	r.routingType, r.respBytes = "", 0
	g.send(r)
	t += g.jitter(100, 900)
	r = g.newReq(t, "GET", "/owa/auth/logon.aspx", "url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0", pNone)
	r.ua, r.ip = ua, ip
	g.send(r)
	folder := "/owa/auth/" + g.cur.owaFolder() + "/"
	for range 2 + g.rng.IntN(5) {
		t += g.jitter(20, 400)
		r = g.newReq(t, "GET", folder+pick(g, owaStatic), "", pNone)
		r.ua, r.ip, r.ref = ua, ip, "https://"+mailHost+"/owa/auth/logon.aspx?url=https%3a%2f%2fmail.contoso.com%2fowa%2f&reason=0"
		if g.rng.IntN(3) == 0 {
			r.status = 304
		}
		g.send(r)
	}
	// Forms logon: the front end authenticates and redirects.
	t += g.jitter(3000, 20000)
	r = g.newReq(t, "POST", "/owa/auth.owa", "", pOwa)
	g.authed(r, u, ua, ip, "FBA")
	r.be, r.beStatus, r.status, r.ref = false, 0, 302, owaRef+"auth/logon.aspx"
	g.send(r)
	t += g.jitter(200, 900)
	r = g.newReq(t, "GET", "/owa/", "", pOwa)
	g.authed(r, u, ua, ip, "FBA")
	r.ref = owaRef + "auth/logon.aspx"
	g.send(r)
	prem := "/owa/prem/" + g.cur.Version + "/scripts/"
	for range 1 + g.rng.IntN(4) {
		t += g.jitter(30, 500)
		r = g.newReq(t, "GET", prem+pick(g, owaScripts), "", pOwa)
		g.authed(r, u, ua, ip, "FBA")
		r.ref, r.respBytes = owaRef, 20000+g.rng.IntN(400000)
		g.send(r)
	}
	for i := range 2 + g.rng.IntN(10) {
		t += g.jitter(500, 120000)
		act := pick(g, owaActions)
		r = g.newReq(t, "POST", "/owa/service.svc", "action="+act+"&EP=1&ID=-"+strconv.Itoa(10+i)+"&AC=1", pOwa)
		g.authed(r, u, ua, ip, "FBA")
		r.action, r.ref = act, owaRef
		r.clientReqID = g.newGUID().String() + "_" + strconv.Itoa(10+i)
		g.send(r)
	}
	if g.rng.IntN(4) == 0 {
		t += g.jitter(5000, 600000)
		r = g.newReq(t, "GET", "/owa/auth/logoff.aspx", "Cmd=logoff&src=exch", pNone)
		r.ua, r.ip, r.user, r.ref = ua, ip, u.dom, owaRef
		g.send(r)
	}
}

var ewsActions = []string{"GetFolder", "FindItem", "FindItem", "GetItem", "GetItem", "SyncFolderItems", "SyncFolderHierarchy", "GetUserAvailability", "GetUserOofSettings", "Subscribe"}

func (g *gen) ewsClient(t int64) {
	u := pick(g, g.users)
	auth := "NTLM"
	if strings.HasPrefix(u.ews.raw, "Mac OS X") {
		auth = "Basic"
	}
	for range 1 + g.rng.IntN(6) {
		r := g.newReq(t, "POST", "/EWS/Exchange.asmx", "", pEws)
		g.authed(r, u, u.ews, u.ip, auth)
		r.anchor, r.routingHint = "Smtp~"+u.upn, "UserAuth-Smtp"
		r.ews = &ewsRow{user: u.upn, soap: pick(g, ewsActions)}
		r.action = r.ews.soap
		r.id2 = g.newGUID()
		g.send(r)
		t += g.jitter(300, 30000)
	}
}

var easCommands = []string{"Sync", "Sync", "Ping", "FolderSync", "GetItemEstimate", "ItemOperations", "Sync", "Ping", "SendMail"}

func (g *gen) activeSync(t int64) {
	u := pick(g, g.users)
	for range 1 + g.rng.IntN(4) {
		cmd := pick(g, easCommands)
		q := "Cmd=" + cmd + "&User=" + u.sam + "&DeviceId=" + u.device + "&DeviceType=" + u.devType
		r := g.newReq(t, "POST", "/Microsoft-Server-ActiveSync/default.eas", q, pEas)
		g.authed(r, u, u.mobile, u.mobileIP, "Basic")
		r.user = u.upn
		r.beStem = "/Microsoft-Server-ActiveSync/Proxy/default.eas"
		r.anchor, r.routingHint, r.action = "Smtp~"+u.upn, "ActiveSync-User", cmd
		if cmd == "Ping" {
			r.taken = 120000 + g.rng.IntN(780000)
		}
		g.send(r)
		t += int64(r.taken) + g.jitter(200, 5000)
	}
}

func (g *gen) mapiClient(t int64) {
	u := pick(g, g.users)
	q := "MailboxId=" + u.mbx + "@contoso.com"
	for i := range 2 + g.rng.IntN(7) {
		stem, action := "/mapi/emsmdb/", "Execute"
		switch {
		case i == 0:
			action = "Connect"
		case g.rng.IntN(5) == 0:
			stem, action = "/mapi/nspi/", "Bind"
		case g.rng.IntN(4) == 0:
			action = "NotificationWait"
		}
		r := g.newReq(t, "POST", stem, q, pMapi)
		g.authed(r, u, u.outlook, u.ip, "Negotiate")
		r.anchor, r.routingHint, r.action = "MailboxGuidWithDomain~"+u.mbx+"@contoso.com", "Url-MailboxGuid", action
		if action == "NotificationWait" {
			r.taken = 30000 + g.rng.IntN(600000)
		}
		g.send(r)
		t += int64(r.taken) + g.jitter(50, 20000)
	}
}

// autodiscover covers the classic POX endpoint and both Autodiscover v2
// shapes. The v2 ones carry an address in the path or in Email=, and are
// the benign twins of the ProxyShell SSRF URL.
func (g *gen) autodiscover(t int64) {
	u := pick(g, g.users)
	var r *request
	switch g.rng.IntN(3) {
	case 0:
		r = g.newReq(t, "POST", "/autodiscover/autodiscover.xml", "", pAutodiscover)
		g.authed(r, u, u.outlook, u.ip, "Negotiate")
		r.anchor, r.routingHint = "Smtp~"+u.upn, "AutoDiscover-Email"
	case 1:
		r = g.newReq(t, "GET", "/autodiscover/autodiscover.json/v1.0/"+u.upn, "Protocol=AutoDiscoverV1", pAutodiscover)
		r.ua, r.ip = u.outlook, u.ip
		r.anchor, r.routingHint = "Smtp~"+u.upn, "Url-Email"
	default:
		r = g.newReq(t, "GET", "/autodiscover/autodiscover.json", "Email="+u.sam+"%40contoso.com&Protocol=ActiveSync&RedirectCount=1", pAutodiscover)
		r.ua, r.ip = outlookMobile, u.mobileIP
		r.anchor, r.routingHint = "Smtp~"+u.upn, "Url-Email"
	}
	g.send(r)
}

func (g *gen) oabDownload(t int64) {
	u := pick(g, g.users)
	oab := "/OAB/" + g.oabID + "/"
	r := g.newReq(t, "GET", oab+"oab.xml", "", pOab)
	g.authed(r, u, u.outlook, u.ip, "Negotiate")
	r.status = 200
	if g.rng.IntN(2) == 0 {
		r.status, r.beStatus = 304, 304
	}
	g.send(r)
	if g.rng.IntN(3) == 0 {
		r = g.newReq(t+g.jitter(100, 2000), "GET", oab+g.oabFile, "", pOab)
		g.authed(r, u, u.outlook, u.ip, "Negotiate")
		r.respBytes = 100000 + g.rng.IntN(900000)
		g.send(r)
	}
}

func (g *gen) rpcClient(t int64) {
	u := pick(g, g.users)
	q := g.fqdn + ":6001"
	for _, m := range []string{"RPC_IN_DATA", "RPC_OUT_DATA"} {
		r := g.newReq(t, m, "/rpc/rpcproxy.dll", q, pRpcHTTP)
		g.authed(r, u, rpcAgent, u.ip, "NTLM")
		r.taken = 1000 + g.rng.IntN(900000)
		r.anchor, r.routingHint = "MailboxGuidWithDomain~"+u.mbx+"@contoso.com", "RpcHttp-Mailbox"
		g.send(r)
		t += g.jitter(10, 200)
	}
}

// ecpAdmin is an administrator in the Exchange admin center; now and then
// a virtual directory's URLs are changed the legitimate way.
func (g *gen) ecpAdmin(t int64) {
	a := pick(g, g.admins)
	ua := browserAgents[0]
	ref := "https://" + mailHost + "/ecp/"
	r := g.newReq(t, "GET", "/ecp/", "", pEcp)
	g.authed(r, a, ua, a.ip, "FBA")
	g.send(r)
	t += g.jitter(300, 2000)
	r = g.newReq(t, "GET", "/ecp/"+g.cur.Version+"/scripts/microsoftajax.js", "", pEcp)
	g.authed(r, a, ua, a.ip, "FBA")
	r.ref = ref
	g.send(r)
	calls := []struct{ path, query, cmd string }{
		{"/ecp/DDI/DDIService.svc/GetList", "schema=MailboxService&msExchEcpCanary=" + a.canary, "Get-Recipient"},
		{"/ecp/UsersGroups/Mailboxes.svc/GetList", "msExchEcpCanary=" + a.canary, "Get-Mailbox"},
		{"/ecp/DDI/DDIService.svc/GetList", "schema=VirtualDirectory&msExchEcpCanary=" + a.canary, "Get-OwaVirtualDirectory"},
		{"/ecp/Organize/DistributionGroups.svc/GetList", "msExchEcpCanary=" + a.canary, "Get-DistributionGroup"},
	}
	for range 1 + g.rng.IntN(5) {
		c := pick(g, calls)
		t += g.jitter(1000, 60000)
		g.ecpCall(t, a, c.path, c.query, c.cmd)
	}
	if g.rng.IntN(5) == 0 {
		g.ecpVdirChange(t+g.jitter(10000, 300000), g.rng.IntN(2) == 0)
	}
}

// ecpCall is one ECP web-service call and the ECP Server row it leaves.
func (g *gen) ecpCall(t int64, a *user, path, query, cmd string) {
	r := g.newReq(t, "POST", path, query, pEcp)
	g.authed(r, a, browserAgents[0], a.ip, "FBA")
	r.ref = "https://" + mailHost + "/ecp/"
	r.ecp = g.ecpEventData(r.taken, a.sid, cmd, path+"?"+query)
	g.send(r)
}

// ecpVdirChange is an admin setting the OAB's (or OWA's) external URL in
// the admin center: Set-*VirtualDirectory with a plain https URL.
func (g *gen) ecpVdirChange(t int64, oab bool) {
	a := g.admins[0]
	var schema, cmd string
	if oab {
		schema = "OABVirtualDirectory"
		cmd = "Set-OabVirtualDirectory.ExternalUrl='https://" + mailHost + "/OAB'.Identity='" + g.name + "\\OAB (Default Web Site)'"
	} else {
		schema = "OWAVirtualDirectory"
		cmd = "Set-OwaVirtualDirectory.ExternalUrl='https://" + mailHost + "/owa'.InternalUrl='https://" + strings.ToLower(g.fqdn) + "/owa'.Identity='" + g.name + "\\owa (Default Web Site)'"
	}
	g.ecpCall(t, a, "/ecp/DDI/DDIService.svc/SetObject", "schema="+schema+"&msExchEcpCanary="+a.canary, cmd)
}

var adminCmdlets = []struct{ name, params string }{
	{"Get-Mailbox", "-ResultSize 'Unlimited'"},
	{"Get-ExchangeServer", ""},
	{"Get-MailboxDatabase", "-Status 'True'"},
	{"Set-Mailbox", "-Identity '%u' -ProhibitSendQuota '9.5 GB'"},
	{"Get-MailboxStatistics", "-Identity '%u'"},
	{"Get-Queue", ""},
	{"Get-ServerComponentState", "-Identity '%s'"},
	{"Get-MessageTrackingLog", "-Sender '%u@contoso.com' -ResultSize '1000'"},
	{"Get-OwaVirtualDirectory", "-Server '%s'"},
}

func (g *gen) psAdmin(t int64) { g.psSession(t, false) }

// psSession is a remote Exchange Management Shell session: WinRM requests
// through the front end, Rps_Http rows and the cmdlets that ran. With
// vdir, the admin also sets the OAB URLs, the legitimate way.
func (g *gen) psSession(t int64, vdir bool) {
	a := pick(g, g.admins)
	q := "serializationLevel=Full;ExchClientVer=" + g.cur.Version + ";clientApplication=ManagementShell;TargetServer=;PSVersion=5.1.17763.1490"
	session := g.newGUID()
	pid := 4000 + g.rng.IntN(20000)
	send := func(t int64, action, command string) {
		r := g.newReq(t, "POST", "/powershell", q, pPowerShell)
		g.authed(r, a, winRMAgent, a.ip, "Kerberos")
		r.rps = &rpsRow{user: a.dom, stem: "/powershell", query: q, clientInfo: "Microsoft WinRM Client", action: action, command: command, session: session}
		r.id2 = g.newGUID()
		g.send(r)
	}
	send(t, "Create", "")
	n := 1 + g.rng.IntN(4)
	for i := range n {
		t += g.jitter(2000, 90000)
		c := pick(g, adminCmdlets)
		params := strings.ReplaceAll(strings.ReplaceAll(c.params, "%u", pick(g, g.users).sam), "%s", g.name)
		switch {
		case vdir && i == n-1:
			c.name = "Set-OabVirtualDirectory"
			params = "-Identity '" + g.name + "\\OAB (Default Web Site)' -ExternalUrl 'https://" + mailHost + "/OAB' -InternalUrl 'https://" + strings.ToLower(g.fqdn) + "/OAB'"
		case g.rng.IntN(12) == 0:
			c.name = "Set-OwaVirtualDirectory"
			params = "-Identity '" + g.name + "\\owa (Default Web Site)' -ExternalUrl 'https://" + mailHost + "/owa'"
		}
		send(t, "Command", c.name)
		took := 20 + g.rng.IntN(2000)
		t += int64(took)
		g.cmdletAt(t, &cmdlet{user: a.dom, sid: a.sid, app: "ManagementShell", name: c.name, params: params, success: true, processID: pid, runspaceTag: "Remote"}, took)
		send(t+g.jitter(10, 300), "Receive", c.name)
	}
	send(t+g.jitter(1000, 10000), "Delete", "")
}

func (g *gen) cmdletAt(t int64, c *cmdlet, took int) {
	g.at(t, func(t int64) {
		g.put(g.streams[stRpsCmdlet], t, g.cmdletLine(t, c, took))
	})
}

var junkPaths = []string{"/robots.txt", "/.env", "/wp-login.php", "/remote/login", "/sitemap.xml", "/.git/config", "/vpn/index.html", "/favicon.ico"}

// scan is an internet scanner that fires no rule: zgrab fetching the
// eDiscovery export tool manifest, Censys-like crawls of / and OWA, and
// junk probes for other products.
func (g *gen) scan(t int64) { g.scanAs(t, g.rng.IntN(4)) }

func (g *gen) scanAs(t int64, kind int) {
	sc := pick(g, scanners)
	ip := sc.net + strconv.Itoa(1+g.rng.IntN(254))
	switch kind {
	case 0:
		r := g.newReq(t, "GET", "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application", "", pEcp)
		r.ua, r.ip, r.host, r.authType = uaZgrab, ip, g.pubIP, "FBA"
		r.anchor, r.routingHint = "ServerVersion~Version 15.0 (Build 0.0)", "EDiscoveryExportTool-ServerVersion"
		r.respBytes = 10112
		g.send(r)
	case 1:
		r := g.newReq(t, "GET", "/", "", pNone)
		r.ua, r.ip = sc.ua, ip
		g.send(r)
		t += g.jitter(100, 3000)
		r = g.newReq(t, "GET", "/owa/", "", pOwa)
		r.ua, r.ip, r.be, r.beStatus, r.status, r.routingType = sc.ua, ip, false, 0, 302, ""
		g.send(r)
		t += g.jitter(100, 3000)
		r = g.newReq(t, "GET", "/owa/auth/logon.aspx", "url=https%3a%2f%2f"+g.pubIP+"%2fowa%2f&reason=0", pNone)
		r.ua, r.ip = sc.ua, ip
		g.send(r)
	default:
		for range 1 + g.rng.IntN(4) {
			p := pick(g, junkPaths)
			r := g.newReq(t, "GET", p, "", pNone)
			r.ua, r.ip = sc.ua, ip
			if p != "/favicon.ico" {
				r.status, r.win32 = 404, 2
			}
			g.send(r)
			t += g.jitter(50, 2000)
		}
	}
}

var healthVdirs = []struct {
	path  string
	proto int
}{
	{"/owa/HealthCheck.htm", pOwa}, {"/ecp/HealthCheck.htm", pEcp}, {"/EWS/HealthCheck.htm", pEws},
	{"/mapi/HealthCheck.htm", pMapi}, {"/OAB/HealthCheck.htm", pOab}, {"/Autodiscover/HealthCheck.htm", pAutodiscover},
	{"/Microsoft-Server-ActiveSync/HealthCheck.htm", pEas}, {"/rpc/HealthCheck.htm", pRpcHTTP},
}

// probe is Managed Availability checking the server from itself.
func (g *gen) probe(t int64) {
	h := g.health
	switch x := g.rng.IntN(10); {
	case x < 4: // front-end health check page
		v := pick(g, healthVdirs)
		r := g.newReq(t, "GET", v.path, "", v.proto)
		r.ua, r.ip, r.be, r.beStatus, r.routingType = probeAgent, "127.0.0.1", false, 0, ""
		r.respBytes = 180
		g.send(r)
	case x < 6: // back-end health check page
		v := pick(g, healthVdirs)
		r := g.newReq(t, "GET", v.path, "", pNone)
		r.fe, r.be, r.beStatus, r.beStem, r.beIP = false, true, 200, v.path, "127.0.0.1"
		r.ua = probeAgent
		g.send(r)
	case x < 8: // EWS probe
		r := g.newReq(t, "POST", "/EWS/Exchange.asmx", "", pEws)
		g.authed(r, h, probeAgent, "127.0.0.1", "Basic")
		r.ews = &ewsRow{user: h.upn, soap: "GetFolder"}
		r.id2 = g.newGUID()
		g.send(r)
	case x < 9: // OWA logon probe
		r := g.newReq(t, "POST", "/owa/auth.owa", "", pOwa)
		g.authed(r, h, probeAgent, "127.0.0.1", "FBA")
		r.be, r.beStatus, r.status = false, 0, 302
		g.send(r)
	default: // remote PowerShell probe straight at the back end
		q := "serializationLevel=Full;clientApplication=ActiveMonitor"
		r := g.newReq(t, "POST", "/powershell", q, pNone)
		r.fe, r.be, r.beStatus, r.beStem, r.beQuery = false, true, 200, "/powershell", q
		r.ua, r.ip, r.beUser, r.authType = beProbeAgent, g.ip, h.dom, "Kerberos"
		r.rps = &rpsRow{user: h.dom, stem: "/powershell", query: q, clientInfo: "Exchange BackEnd Probes", action: "Command", command: "Get-ExchangeServer", session: g.newGUID()}
		r.id2 = g.newGUID()
		g.send(r)
		if g.rng.IntN(3) == 0 {
			g.cmdletAt(t+g.jitter(5, 400), &cmdlet{user: h.dom, sid: h.sid, name: "Get-ExchangeServer", params: "-Identity '" + g.name + "'", success: true, processID: 7000 + g.idx, runspaceTag: "Remote"}, 35)
		}
	}
}
