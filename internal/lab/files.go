package lab

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// The file side of a server: what its disk holds in the places the file
// hunt reads. Every server gets Exchange's own web files, IIS's default
// site and configuration, and the everyday content of ProgramData and
// Windows\Temp, dated from the install (and each update) onwards. Attack
// scenarios add what the attackers left, dated by the log lines that
// wrote it: ProxyLogon's OAB settings file with script in ExternalUrl
// and, after the shell was used, an LSASS dump and a staging archive;
// ProxyShell's mailbox exported as a PST named .aspx, later found by the
// Microsoft Safety Scanner. Clean and failed-attempt servers carry an
// antivirus archive in ProgramData, a benign look-alike that is reported
// as supporting evidence only.

// Rule ids of the file hunt, as the hunter names them.
const (
	ruleFileScript    = "file-nonstandard-script"
	ruleFileName      = "file-ioc-name"
	ruleFileLsass     = "file-lsass-dump"
	ruleFileArchive   = "file-staging-archive"
	ruleMsert         = "msert-threat-detected"
	ruleShellAnswered = "webshell-file-answered"
)

// What the shipped YARA rules find in the files the scenarios plant. The
// OAB settings file: exhunt's rules for it and for the one-liner in it,
// Microsoft's CVE-2021-27065 rule, both CISA MAR rules and Swisscom's
// Chopper rule (the file is under 10 KB). The PST: exhunt's PST rule,
// signature-base's mailbox-export rule (the script is stored in clear,
// under 500 KB), exhunt's one-liner rule and CISA's first MAR rule.
// exhunt's reading of the OAB file's server code sees eval of request
// input.
var (
	oabShellYara = []string{"yara:APT_WEBSHELL_HAFNIUM_Chopper_WebShell", "yara:EXHUNT_WEBSHELL_Chopper_JScript_Eval",
		"yara:EXHUNT_WEBSHELL_OAB_VirtualDirectory_Dump", "yara:WEBSHELL_CVE_2021_27065_Webshells",
		"yara:WEBSHELL_HAFNIUM_CISA_10328929_01", "yara:WEBSHELL_HAFNIUM_CISA_10328929_02",
		"aspx-request-code"}
	pstShellYara = []string{"yara:EXHUNT_WEBSHELL_Chopper_JScript_Eval", "yara:EXHUNT_WEBSHELL_ProxyShell_PST_Page",
		"yara:WEBSHELL_HAFNIUM_CISA_10328929_01", "yara:WEBSHELL_Mailbox_Export_PST_ProxyShell_Aug26"}
	lsassYara = "yara:EXHUNT_LSASS_Minidump"
)

const (
	installDir = "C/Program Files/Microsoft/Exchange Server/V15"
	frontEnd   = installDir + "/FrontEnd/HttpProxy"
)

// plant is a file a scenario leaves on the server's disk.
type plant struct {
	rel  string // below the server folder, '/'-separated
	t    int64  // modification time
	data []byte
	// make builds data when the files are written: scenarios record
	// plants while the logs are generated, and must not draw random
	// numbers for them then
	make  func() []byte
	rules []string      // expected findings (line 0: about the file)
	stage finding.Stage // their stage, unless the rule says otherwise
	// supporting lists the rules whose findings only support others
	supporting []string
	// msert: the detection line is found in data at write time
	msertLine bool
}

// plantOABShell records ProxyLogon's web shell: the reset OAB virtual
// directory's settings, script in ExternalUrl, written to owa\auth at t.
func (g *gen) plantOABShell(t int64, shell, script string) {
	rules := append([]string{ruleFileScript}, oabShellYara...)
	if allDigits(strings.TrimSuffix(shell, ".aspx")) {
		// signature-base lists names of digits only (score 60)
		rules = append(rules, ruleFileName)
	}
	g.plants = append(g.plants, plant{rel: frontEnd + "/owa/auth/" + shell, t: t, make: func() []byte { return g.oabSettings(script) },
		rules: rules, stage: finding.StagePersistence})
}

// plantLoot records what HAFNIUM did next: LSASS dumped to Windows\Temp,
// and an archive staged in ProgramData (Microsoft's "c:\ProgramData\it.zip").
func (g *gen) plantLoot(t int64) {
	g.plants = append(g.plants,
		// signature-base lists lsass.dmp (score 80)
		plant{rel: "C/Windows/Temp/lsass.dmp", t: t, make: func() []byte { return g.minidump("lsass.exe", 40<<10) },
			rules: []string{ruleFileLsass, lsassYara, ruleFileName}, stage: finding.StageExecution},
		plant{rel: "C/ProgramData/it.zip", t: t + 13*minute, make: func() []byte {
			return g.zipOf(map[string][]byte{
				"ntds.dit.txt": []byte("Administrator:500:aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0:::\r\n"),
				"ip.txt":       []byte("Windows IP Configuration\r\n\r\n   Host Name . . . . . . . . . . . . : " + g.name + "\r\n"),
			}, t+13*minute)
		}, rules: []string{ruleFileArchive, ruleFileName}, stage: finding.StageCollection,
			// signature-base's ProgramData archive name scores 40
			supporting: []string{ruleFileArchive, ruleFileName}},
	)
}

// plantPSTShell records ProxyShell's web shell: the mailbox exported by
// New-MailboxExportRequest as a PST named <subject>.aspx in aspnet_client.
func (g *gen) plantPSTShell(t int64, subject, script string) {
	// Any short .aspx directly in aspnet_client is on signature-base's list.
	g.plants = append(g.plants, plant{rel: "C/inetpub/wwwroot/aspnet_client/" + subject + ".aspx", t: t,
		make: func() []byte { return g.pst(script) }, rules: append([]string{ruleFileScript, ruleFileName}, pstShellYara...), stage: finding.StagePersistence})
}

// plantMsert records a Microsoft Safety Scanner run at t that detected
// the shell at winPath.
func (g *gen) plantMsert(t int64, winPath string) {
	g.plants = append(g.plants, plant{rel: "C/Windows/debug/msert.log", t: t + 9*minute,
		data: msertLog(toTime(t), "Backdoor:ASP/Chopper.F!dha, not removed.", winPath), rules: []string{ruleMsert},
		stage: finding.StagePersistence, msertLine: true})
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// plantFiles writes the server's files and adds the expected findings.
// It runs after the logs, so the generator's random draws for the logs do
// not depend on it.
func (g *gen) plantFiles() {
	install := g.start - 120*day - g.jitter(0, 30*day)
	install += 2*hour + g.jitter(0, 40*minute) - install%day // a night install
	var files []plant
	add := func(rel string, t int64, data []byte) { files = append(files, plant{rel: rel, t: t, data: data}) }
	for _, name := range []string{"logon.aspx", "logoff.aspx", "errorFE.aspx", "ExpiredPassword.aspx", "frowny.aspx",
		"OutlookCN.aspx", "RedirSuiteServiceProxy.aspx", "signout.aspx"} {
		add(frontEnd+"/owa/auth/"+name, install, exchangePage(name))
	}
	add(frontEnd+"/owa/auth/getidtoken.htm", install, []byte("<!DOCTYPE html><html><head><script>window.location.replace('/owa/');</script></head></html>\r\n"))
	add(frontEnd+"/ecp/auth/TimeoutLogoff.aspx", install, exchangePage("TimeoutLogoff.aspx"))
	// each build's static files, in a folder named after it and in Current
	for i, b := range g.seen {
		t := install
		if i > 0 {
			t = g.downFrom + g.jitter(10*minute, 40*minute)
		}
		v := b.Version[:strings.LastIndexByte(b.Version, '.')]
		for _, dir := range []string{v, "Current"} {
			base := frontEnd + "/owa/auth/" + dir
			add(base+"/themes/resources/logon.css", t, []byte(".signInBg{background-color:#0072c6}\r\n.logonDiv{position:absolute;top:50%}\r\n"))
			add(base+"/themes/resources/owafont_ja.css", t, []byte("@font-face{font-family:\"Segoe UI\";src:url(\"segoeui.eot\")}\r\n"))
			add(base+"/themes/resources/lgnbotl.gif", t, g.bytes(1400))
			add(base+"/scripts/premium/flogon.js", t, bytes.Repeat([]byte("function clkLgn(){var f=document.forms[0];if(f.username.value==''){return false;}f.submit();}\r\n"), 30))
		}
	}
	for _, app := range []string{"owa", "ecp", "oab", "ews", "autodiscover", "mapi", "powershell", "rpc", "sync"} {
		add(frontEnd+"/"+app+"/web.config", install, appWebConfig(app))
		add(installDir+"/ClientAccess/"+app+"/web.config", install, appWebConfig(app))
	}
	add(installDir+"/ClientAccess/ecp/default.aspx", install, exchangePage("default.aspx"))
	add("C/inetpub/wwwroot/iisstart.htm", install-30*day, []byte("<!DOCTYPE html><html><head><title>IIS Windows Server</title></head><body><img src=\"iisstart.png\" alt=\"IIS\"></body></html>\r\n"))
	add("C/inetpub/wwwroot/iisstart.png", install-30*day, g.bytes(3000))
	add("C/inetpub/wwwroot/web.config", install, rootWebConfig(g.scenario == scPatched))
	add("C/Windows/System32/inetsrv/config/applicationHost.config", install, g.applicationHost())
	add("C/Windows/Temp/silconfig.log", install, []byte("Sil configuration: default\r\n"))
	add("C/Windows/Temp/w3wp.exe.5180.dmp", g.start+g.jitter(0, day), g.minidump(`inetsrv\w3wp.exe`, 24<<10))
	add("C/ProgramData/Microsoft/Windows Defender/Support/MPLog-"+toTime(install).Format("20060102-150405")+".log", g.end-hour,
		[]byte(toTime(install).Format(time.RFC3339)+" Engine:Signature updated\r\n"))
	if g.scenario == scClean || g.scenario == scFailed {
		add("C/Windows/debug/msert.log", g.start+g.jitter(day, 2*day), msertLog(toTime(g.start+day), "", ""))
		g.plants = append(g.plants, plant{rel: "C/ProgramData/McAfee/Agent/FrameworkConfig.zip", t: install + 2*day,
			data:  g.zipOf(map[string][]byte{"FrameworkConfig.xml": []byte("<Config><AgentGUID>" + g.newGUID().String() + "</AgentGUID></Config>\r\n")}, install+2*day),
			rules: []string{ruleFileArchive}, stage: finding.StageCollection, supporting: []string{ruleFileArchive}})
	}
	for _, p := range append(files, g.plants...) {
		if g.err != nil {
			return
		}
		if p.make != nil {
			p.data = p.make()
		}
		rel := g.name + "/" + p.rel
		abs := filepath.Join(g.out, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			g.fail(err)
			return
		}
		if err := os.WriteFile(abs, p.data, 0o644); err != nil {
			g.fail(err)
			return
		}
		mt := toTime(p.t)
		if err := os.Chtimes(abs, mt, mt); err != nil {
			g.fail(err)
			return
		}
		line := int64(0)
		if p.msertLine {
			line = int64(bytes.Count(p.data[:bytes.Index(p.data, []byte("Threat Detected"))], []byte("\n"))) + 1
		}
		for _, r := range p.rules {
			stage := p.stage
			switch r {
			case ruleFileScript, ruleFileName:
				stage = finding.StagePersistence
			case ruleFileArchive:
				stage = finding.StageCollection
			}
			g.findings = append(g.findings, ExpectedFinding{Rule: r, File: rel, Line: line, Stage: string(stage),
				Supporting: contains(p.supporting, r)})
		}
	}
	// An empty folder Exchange setup creates for ASP.NET's client scripts.
	if err := os.MkdirAll(filepath.Join(g.out, g.name, "C", "inetpub", "wwwroot", "aspnet_client", "system_web", "4_0_30319"), 0o755); err != nil {
		g.fail(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// exchangePage is one of Exchange's own pages: a directive naming its
// code-behind class and some markup.
func exchangePage(name string) []byte {
	class := strings.TrimSuffix(name, ".aspx")
	return []byte(`<%@ Page Language="C#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.` + class + `" %>` + "\r\n" +
		`<%@ Import Namespace="Microsoft.Exchange.Clients" %>` + "\r\n<!DOCTYPE html>\r\n<html><head><title><%=Strings.GetHtmlEncoded(Strings.IDs." + class +
		")%></title></head>\r\n<body><form action=\"/owa/auth.owa\" method=\"POST\" name=\"logonForm\"><input id=\"username\" name=\"username\" type=\"text\"/></form></body></html>\r\n")
}

func appWebConfig(app string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n<configuration>\r\n  <system.web>\r\n    <compilation defaultLanguage=\"c#\" debug=\"false\" />\r\n" +
		"    <httpRuntime maxRequestLength=\"35000\" />\r\n  </system.web>\r\n  <system.webServer>\r\n    <handlers>\r\n" +
		`      <add name="` + app + `-PageHandler" path="*.aspx" verb="GET,POST" type="System.Web.UI.PageHandlerFactory" />` + "\r\n" +
		"    </handlers>\r\n  </system.webServer>\r\n</configuration>\r\n")
}

// rootWebConfig is inetpub\wwwroot\web.config; a server that ran EOMT
// keeps its URL Rewrite rules there.
func rootWebConfig(eomt bool) []byte {
	rules := ""
	if eomt {
		rules = "    <rewrite>\r\n      <rules>\r\n        <rule name=\"X-AnonResource-Backend Abort - inbound\">\r\n          <match url=\".*\" />\r\n" +
			"          <conditions>\r\n            <add input=\"{HTTP_COOKIE}\" pattern=\"(.*)X-AnonResource-Backend(.*)\" />\r\n          </conditions>\r\n" +
			"          <action type=\"AbortRequest\" />\r\n        </rule>\r\n      </rules>\r\n    </rewrite>\r\n"
	}
	return []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n  <system.webServer>\r\n" + rules +
		"    <httpRedirect enabled=\"false\" />\r\n  </system.webServer>\r\n</configuration>\r\n")
}

// applicationHost is the server's IIS configuration: the two Exchange
// sites and their applications.
func (g *gen) applicationHost() []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<configuration>\r\n  <configSections>\r\n    <sectionGroup name=\"system.webServer\">\r\n    </sectionGroup>\r\n  </configSections>\r\n")
	b.WriteString("  <system.applicationHost>\r\n    <sites>\r\n      <site name=\"Default Web Site\" id=\"1\" serverAutoStart=\"true\">\r\n")
	b.WriteString("        <application path=\"/\" applicationPool=\"DefaultAppPool\">\r\n          <virtualDirectory path=\"/\" physicalPath=\"%SystemDrive%\\inetpub\\wwwroot\" />\r\n        </application>\r\n")
	for _, app := range []string{"owa", "ecp", "OAB", "EWS", "Autodiscover", "mapi", "PowerShell", "Rpc", "Microsoft-Server-ActiveSync"} {
		fmt.Fprintf(&b, "        <application path=\"/%s\" applicationPool=\"MSExchange%sAppPool\">\r\n          <virtualDirectory path=\"/\" physicalPath=\"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\%s\" />\r\n        </application>\r\n",
			app, strings.ReplaceAll(app, "-", ""), strings.ToLower(app))
	}
	b.WriteString("        <bindings>\r\n          <binding protocol=\"https\" bindingInformation=\"*:443:\" />\r\n        </bindings>\r\n      </site>\r\n")
	b.WriteString("      <site name=\"Exchange Back End\" id=\"2\">\r\n        <application path=\"/\" applicationPool=\"MSExchangeServicesAppPool\">\r\n")
	b.WriteString("          <virtualDirectory path=\"/\" physicalPath=\"C:\\Program Files\\Microsoft\\Exchange Server\\V15\\ClientAccess\" />\r\n        </application>\r\n")
	b.WriteString("        <bindings>\r\n          <binding protocol=\"https\" bindingInformation=\"*:444:\" />\r\n        </bindings>\r\n      </site>\r\n    </sites>\r\n  </system.applicationHost>\r\n</configuration>\r\n")
	return []byte(b.String())
}

// oabSettings is the OAB virtual directory's settings as Reset-OAB
// VirtualDirectory exports them (one property a line, names padded), with
// the script an attacker put in ExternalUrl.
func (g *gen) oabSettings(script string) []byte {
	props := [][2]string{
		{"Name", "OAB (Default Web Site)"}, {"PollInterval", "480"}, {"OfflineAddressBooks", ""}, {"RequireSSL", "True"},
		{"BasicAuthentication", "False"}, {"WindowsAuthentication", "True"}, {"OAuthAuthentication", "False"},
		{"MetabasePath", "IIS://" + g.fqdn + "/W3SVC/1/ROOT/OAB"},
		{"Path", `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\OAB`},
		{"ExtendedProtectionTokenChecking", "None"}, {"ExtendedProtectionFlags", ""}, {"ExtendedProtectionSPNList", ""},
		{"AdminDisplayVersion", "Version " + g.seen[0].Version}, {"Server", g.name},
		{"InternalUrl", "https://" + strings.ToLower(g.fqdn) + "/OAB"}, {"InternalAuthenticationMethods", "WindowsIntegrated"},
		{"ExternalUrl", script}, {"ExternalAuthenticationMethods", "WindowsIntegrated"},
		{"Identity", g.name + `\OAB (Default Web Site)`}, {"Guid", g.newGUID().String()},
		{"ObjectCategory", "contoso.local/Configuration/Schema/ms-Exch-OAB-Virtual-Directory"},
		{"WhenChanged", "3/3/2021 " + strconv.Itoa(1+g.rng.IntN(11)) + ":07:21 AM"}, {"IsValid", "True"},
	}
	var b strings.Builder
	for _, p := range props {
		fmt.Fprintf(&b, "%-32s: %s\r\n", p[0], p[1])
	}
	return []byte(b.String())
}

// pst is a mailbox exported as a PST: the !BDN header, then blocks of
// data; ProxyShell's attackers pre-encoded the script so that the PST's
// own encoding writes it in clear, which is why the page runs.
func (g *gen) pst(script string) []byte {
	var b bytes.Buffer
	b.WriteString("!BDN")
	b.Write([]byte{0x8b, 0x5d, 0x1c, 0x15, 0x53, 0x4d, 0x17, 0x00, 0x13, 0x00, 0x01, 0x01})
	b.Write(g.bytes(120 << 10))
	b.WriteString(script)
	b.Write(g.bytes(150 << 10))
	return b.Bytes()
}

// minidump is a process dump as comsvcs.dll's MiniDump or procdump write
// it: the MDMP header, streams, and the module list naming the process.
func (g *gen) minidump(process string, size int) []byte {
	b := []byte("MDMP\x93\xa7\x00\x00\x0d\x00\x00\x00\x20\x00\x00\x00")
	b = append(b, g.bytes(size/2)...)
	for _, r := range `C:\Windows\System32\` + process {
		b = append(b, byte(r), byte(r>>8))
	}
	b = append(b, 0, 0)
	return append(b, g.bytes(size/2)...)
}

// zipOf is a zip of the given files, dated t.
func (g *gen) zipOf(files map[string][]byte, t int64) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(keysOf(files)) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: toTime(t)})
		if err != nil {
			g.fail(err)
			return nil
		}
		w.Write(files[name])
	}
	if err := zw.Close(); err != nil {
		g.fail(err)
	}
	return buf.Bytes()
}

func keysOf(m map[string][]byte) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// msertLog is a Safety Scanner log of one quick scan at t; with a threat,
// the detection names the file at winPath.
func msertLog(t time.Time, threat, winPath string) []byte {
	var b strings.Builder
	b.WriteString("---------------------------------------------------------------------------------------\r\n")
	b.WriteString("Microsoft Safety Scanner v1.333, (build 1.333.1321.0)\r\n")
	b.WriteString("Started On " + t.Format("Mon Jan  2 15:04:05 2006") + "\r\n\r\n")
	b.WriteString("Engine: 1.1.17900.7\r\nSignatures: 1.333.1321.0\r\nMpGear: 1.1.16330.1\r\nRun Mode: Scan Run in Quiet Mode\r\n\r\n")
	if threat != "" {
		b.WriteString("Threat Detected: " + threat + "\r\n  Action: Remove, Result: 0x80508015\r\n")
		b.WriteString("    file://" + winPath + " SigSeq: 0x00007E9A76ACC9D2\r\n\r\n")
	}
	b.WriteString("Results Summary:\r\n----------------\r\n")
	if threat != "" {
		b.WriteString("Found " + threat + "\r\n")
	} else {
		b.WriteString("No infection found.\r\n")
	}
	b.WriteString("Microsoft Safety Scanner Finished On " + t.Add(7*time.Minute).Format("Mon Jan  2 15:04:05 2006") + "\r\n\r\n")
	if threat != "" {
		b.WriteString("Return code: 7 (0x7)\r\n")
	} else {
		b.WriteString("Return code: 0 (0x0)\r\n")
	}
	return []byte(b.String())
}
