package decoy

import (
	"fmt"
	"strings"
	"sync"
)

// Page bodies are built once per build and shared by every listener that
// serves it.
var pageCache sync.Map // key string → []byte

func cached(key string, build func() string) []byte {
	if v, ok := pageCache.Load(key); ok {
		return v.([]byte)
	}
	v, _ := pageCache.LoadOrStore(key, []byte(build()))
	return v.([]byte)
}

// logonPage is /owa/auth/logon.aspx as the build renders it: the markers
// detection tools look for (title, OwaPage comment, IsOwaPremiumBrowser,
// the no-script text) and resource links under the versioned folder.
func (p *Profile) logonPage() []byte {
	return cached("logon "+p.Served.Build.String(), func() string {
		dir := p.owaFolder()
		title, header := "Outlook", "Outlook"
		res := "themes/resources/"
		switch {
		case p.Served.Build.Major == 14:
			title, header = "Outlook Web App", "Outlook Web App"
			res = "themes/base/"
		case p.Served.Build.Minor == 0:
			title, header = "Outlook Web App", "Outlook Web App"
		}
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\r\n<html>\r\n<head>\r\n")
		b.WriteString("<meta http-equiv=\"X-UA-Compatible\" content=\"IE=10\" />\r\n")
		fmt.Fprintf(&b, "<link rel=\"shortcut icon\" href=\"%s%sfavicon.ico\" type=\"image/x-icon\">\r\n", dir, res)
		b.WriteString("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n")
		b.WriteString("<meta name=\"Robots\" content=\"NOINDEX, NOFOLLOW\">\r\n")
		fmt.Fprintf(&b, "<title>%s</title>\r\n", title)
		fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"%s%slogon.css\">\r\n", dir, res)
		fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"%s%sowafont_en.css\">\r\n", dir, res)
		fmt.Fprintf(&b, "<script type=\"text/javascript\" src=\"%sscripts/premium/flogon.js\"></script>\r\n", dir)
		b.WriteString("<script type=\"text/javascript\">\r\n")
		b.WriteString("\tvar a_fRC = 1;\r\n\tvar g_fFcs = 1;\r\n\tvar a_fLOff = 0;\r\n\tvar a_fCAC = 1;\r\n\tvar a_fEnbSMm = 1;\r\n")
		b.WriteString("\tfunction IsOwaPremiumBrowser()\r\n\t{\r\n\t\tvar m_sUsrAgt = navigator.userAgent.toLowerCase();\r\n")
		b.WriteString("\t\treturn (m_sUsrAgt.indexOf(\"msie\") < 0 || m_sUsrAgt.indexOf(\"opera\") >= 0) ? true : false;\r\n\t}\r\n")
		b.WriteString("</script>\r\n</head>\r\n<body class=\"signInBg\" style=\"background: #f2f2f2\">\r\n")
		b.WriteString("<noscript>\r\n<div id=\"dvErr\">\r\n<table cellpadding=\"0\" cellspacing=\"0\">\r\n<tr>\r\n")
		fmt.Fprintf(&b, "<td><img src=\"%s%swarn.png\" alt=\"\"></td>\r\n", dir, res)
		fmt.Fprintf(&b, "<td style=\"width:100%%\">To use %s, browser settings must allow scripts to run. For information about how to allow scripts, consult the Help for your browser. If your browser doesn't support scripts, you can download <a href=\"http://www.microsoft.com/windows/ie/downloads/default.mspx\">Windows Internet Explorer</a> for access to %s.</td>\r\n", header, header)
		b.WriteString("</tr>\r\n</table>\r\n</div>\r\n</noscript>\r\n")
		b.WriteString("<form action=\"/owa/auth.owa\" method=\"POST\" name=\"logonForm\" ENCTYPE=\"application/x-www-form-urlencoded\" autocomplete=\"off\">\r\n")
		b.WriteString("<input type=\"hidden\" name=\"destination\" value=\"\">\r\n<input type=\"hidden\" name=\"flags\" value=\"4\">\r\n<input type=\"hidden\" name=\"forcedownlevel\" value=\"0\">\r\n")
		fmt.Fprintf(&b, "<div class=\"signInHeader\">%s</div>\r\n", header)
		b.WriteString("<div class=\"signInInputLabel\" id=\"userNameLabel\" aria-hidden=\"true\">Domain\\user name:</div>\r\n")
		b.WriteString("<div><input id=\"username\" name=\"username\" class=\"signInInputText\" role=\"textbox\" aria-labelledby=\"userNameLabel\"/></div>\r\n")
		b.WriteString("<div class=\"signInInputLabel\" id=\"passwordLabel\" aria-hidden=\"true\">Password:</div>\r\n")
		b.WriteString("<div><input id=\"password\" onfocus=\"g_fFcs=0\" name=\"password\" value=\"\" type=\"password\" class=\"signInInputText\" aria-labelledby=\"passwordLabel\"/></div>\r\n")
		b.WriteString("<div onclick=\"clkLgn()\" class=\"signinbutton\" role=\"button\" tabIndex=\"0\"><span class=\"signinTxt\">sign in</span></div>\r\n")
		b.WriteString("</form>\r\n")
		if p.Served.Build.Major == 14 {
			b.WriteString("<div class=\"cpyRgt\">&#169; 2010 Microsoft Corporation. All rights reserved.</div>\r\n")
		}
		b.WriteString("</body>\r\n</html>\r\n<!-- OwaPage = ASP.auth_logon_aspx -->\r\n")
		return b.String()
	})
}

// manifest is the eDiscovery export tool's ClickOnce deployment manifest,
// which carries the full build in its assembly identities.
func (p *Profile) manifest() []byte {
	v := p.Served.Build.String()
	return cached("manifest "+v, func() string {
		return `<?xml version="1.0" encoding="utf-8"?>` + "\r\n" +
			`<asmv1:assembly xsi:schemaLocation="urn:schemas-microsoft-com:asm.v1 assembly.adaptive.xsd" manifestVersion="1.0" xmlns:asmv1="urn:schemas-microsoft-com:asm.v1" xmlns="urn:schemas-microsoft-com:asm.v2" xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:xrml="urn:mpeg:mpeg21:2003:01-REL-R-NS" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:asmv3="urn:schemas-microsoft-com:asm.v3" xmlns:dsig="http://www.w3.org/2000/09/xmldsig#" xmlns:co.v1="urn:schemas-microsoft-com:clickonce.v1" xmlns:co.v2="urn:schemas-microsoft-com:clickonce.v2">` + "\r\n" +
			`  <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="` + v + `" publicKeyToken="b1d1a6c45aa418ce" language="neutral" processorArchitecture="msil" xmlns="urn:schemas-microsoft-com:asm.v1" />` + "\r\n" +
			`  <description asmv2:publisher="Microsoft Corporation" co.v1:suiteName="Microsoft Exchange" asmv2:product="Microsoft Exchange eDiscovery Export Tool" xmlns="urn:schemas-microsoft-com:asm.v1" />` + "\r\n" +
			`  <deployment install="false" trustURLParameters="true" mapFileExtensions="true" />` + "\r\n" +
			`  <compatibleFrameworks xmlns="urn:schemas-microsoft-com:clickonce.v2">` + "\r\n" +
			`    <framework targetVersion="4.5" profile="Full" supportedRuntime="4.0.30319" />` + "\r\n" +
			`  </compatibleFrameworks>` + "\r\n" +
			`  <dependency>` + "\r\n" +
			`    <dependentAssembly dependencyType="install" codebase="microsoft.exchange.ediscovery.exporttool.exe.manifest" size="20719">` + "\r\n" +
			`      <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool" version="` + v + `" publicKeyToken="b1d1a6c45aa418ce" language="neutral" processorArchitecture="msil" type="win32" />` + "\r\n" +
			`    </dependentAssembly>` + "\r\n" +
			`  </dependency>` + "\r\n" +
			`</asmv1:assembly>` + "\r\n"
	})
}

// notFound is IIS's detailed-errors-off 404 page.
var notFound = []byte(`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">` + "\r\n" +
	`<html xmlns="http://www.w3.org/1999/xhtml">` + "\r\n" +
	`<head>` + "\r\n" +
	`<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>` + "\r\n" +
	`<title>404 - File or directory not found.</title>` + "\r\n" +
	`</head>` + "\r\n" +
	`<body>` + "\r\n" +
	`<div id="header"><h1>Server Error</h1></div>` + "\r\n" +
	`<div id="content">` + "\r\n" +
	` <div class="content-container"><fieldset>` + "\r\n" +
	`  <h2>404 - File or directory not found.</h2>` + "\r\n" +
	`  <h3>The resource you are looking for might have been removed, had its name changed, or is temporarily unavailable.</h3>` + "\r\n" +
	` </fieldset></div>` + "\r\n" +
	`</div>` + "\r\n" +
	`</body>` + "\r\n" +
	`</html>` + "\r\n")

// soft404Page is what a catch-all server answers for any path, with 200.
var soft404Page = []byte("<!DOCTYPE html>\r\n<html><head><title>Welcome</title></head>\r\n<body><h1>Welcome</h1><p>The page you asked for is not available. Return to the <a href=\"/\">home page</a>.</p></body></html>\r\n")

// forbidden is IIS's 403.14 for a folder without a default document.
var forbidden = []byte(`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">` + "\r\n" +
	`<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/><title>403 - Forbidden: Access is denied.</title></head>` + "\r\n" +
	`<body><div id="header"><h1>Server Error</h1></div><div id="content"><div class="content-container"><fieldset><h2>403 - Forbidden: Access is denied.</h2><h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></fieldset></div></div></body></html>` + "\r\n")

// iisStart is the Default Web Site's start page.
func (p *Profile) iisStart() []byte {
	return cached("iisstart "+p.iisVersion(), func() string {
		return "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\r\n<html xmlns=\"http://www.w3.org/1999/xhtml\">\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\" />\r\n<title>IIS Windows Server</title>\r\n</head>\r\n<body>\r\n<div id=\"container\">\r\n<a href=\"http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409\"><img src=\"iisstart.png\" alt=\"IIS\" width=\"960\" height=\"600\" /></a>\r\n</div>\r\n</body>\r\n</html>\r\n"
	})
}

// mapiPage is what /mapi/nspi/ answers once authenticated, or reached as
// SYSTEM through the ProxyShell SSRF.
func (p *Profile) mapiPage() []byte {
	return []byte("<html>\r\n<head>\r\n<title>Exchange MAPI/HTTP Connectivity Endpoint</title>\r\n</head>\r\n<body>\r\n" +
		"<p>Exchange MAPI/HTTP Connectivity Endpoint<br><br>Version: " + p.Served.Build.String() + "<br>Vdir Path: /mapi/nspi/<br><br></p>\r\n" +
		"<p><b>User:</b> NT AUTHORITY\\SYSTEM<br><b>UPN:</b> <br><b>SID:</b> S-1-5-18<br><b>Organization:</b> <br><b>Authentication:</b> Kerberos<br><b>PUID:</b> </p>\r\n" +
		"<p><b>Cafe:</b> " + p.FQDN() + "<br></p>\r\n</body>\r\n</html>\r\n")
}

// oabDump is the text ResetOABVirtualDirectory exports: the virtual
// directory's settings, the attacker's ExternalUrl among them. IIS runs
// the JScript block, so a client sees the text without it.
func (p *Profile) oabDump() []byte {
	return cached("oab "+p.ServerName, func() string {
		lines := []string{
			"",
			"RunspaceId                      : " + guidString(newGUID()),
			"PollInterval                    : 480",
			"OfflineAddressBooks             : {\\Default Offline Address Book}",
			"RequireSSL                      : True",
			"BasicAuthentication             : False",
			"WindowsAuthentication           : True",
			"OAuthAuthentication             : False",
			"MetabasePath                    : IIS://" + p.FQDN() + "/W3SVC/1/ROOT/OAB",
			"Path                            : C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\OAB",
			"ExtendedProtectionTokenChecking : None",
			"ExtendedProtectionFlags         : {}",
			"ExtendedProtectionSPNList       : {}",
			"AdminDisplayVersion             : Version 15.1 (Build 2176.2)",
			"Server                          : " + p.ServerName,
			"InternalUrl                     : https://" + p.FQDN() + "/OAB",
			"InternalAuthenticationMethods   : {WindowsIntegrated}",
			"ExternalUrl                     : http://f/",
			"ExternalAuthenticationMethods   : {WindowsIntegrated}",
			"Name                            : OAB (Default Web Site)",
			"DistinguishedName               : CN=OAB (Default Web Site),CN=HTTP,CN=Protocols,CN=" + p.ServerName + ",CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=First Organization,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=local",
			"Identity                        : " + p.ServerName + "\\OAB (Default Web Site)",
			"ObjectCategory                  : contoso.local/Configuration/Schema/ms-Exch-OAB-Virtual-Directory",
			"",
		}
		return strings.Join(lines, "\r\n")
	})
}

// autodiscoverJSON answers a well-formed autodiscover.json request.
func (p *Profile) autodiscoverJSON(host string) []byte {
	return []byte(`{"Protocol":"AutodiscoverV1","Url":"https://` + host + `/Autodiscover/Autodiscover.xml"}`)
}

// autodiscoverXML is the back end's answer to an Autodiscover POST reached
// through the ProxyLogon SSRF: what the exploit reads the LegacyDN from.
func (p *Profile) autodiscoverXML() []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n" +
		`<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">` +
		`<User><DisplayName>Administrator</DisplayName><LegacyDN>/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=f9a3b2c1d0e84f5aa6b7c8d9e0f1a2b3-Administrator</LegacyDN>` +
		`<AutoDiscoverSMTPAddress>administrator@` + p.Domain + `</AutoDiscoverSMTPAddress><DeploymentId>` + guidString(newGUID()) + `</DeploymentId></User>` +
		`<Account><AccountType>email</AccountType><Action>settings</Action><MicrosoftOnline>False</MicrosoftOnline><Protocol><Type>EXCH</Type><Server>` + guidString(newGUID()) + `@` + p.Domain + `</Server>` +
		`<ServerDN>/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=` + p.ServerName + `</ServerDN><ServerVersion>` + fmt.Sprintf("%X", 0x70000000|p.Served.Build.Major<<22|p.Served.Build.Minor<<16|0x8000|p.Served.Build.Build) + `</ServerVersion>` +
		`</Protocol></Account></Response></Autodiscover>` + "\r\n")
}
