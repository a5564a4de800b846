/*
   Web shells of the 2021-2022 Exchange campaigns (ProxyLogon, ProxyShell),
   written by exhunt to survive the small edits seen in the wild: spacing,
   inline comments, the Request collection named or not, quotes of either
   kind. They complement the signature-base rules, which match the
   published samples byte for byte.

   exhunt_stage says what a match shows: "persistence" is a web shell
   planted on the server (the verdict becomes compromised; IIS logs showing
   it answer make it exploited).
*/

rule EXHUNT_WEBSHELL_Chopper_JScript_Eval {
   meta:
      description = "China Chopper JScript one-liner: request input passed to eval with the 'unsafe' option"
      author = "exhunt"
      reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-072a"
      date = "2021-03-02"
      score = 85
      exhunt_stage = "persistence"
   strings:
      // eval(Request["k"],"unsafe"), eval (Request.Item["k"], 'unsafe'), eval(/**/Request.Form("k")...
      $eval1 = /eval\s{0,8}(\/\*[^*]{0,40}\*\/\s{0,8})?\(\s{0,8}(\/\*[^*]{0,40}\*\/\s{0,8})?Request\s{0,8}(\.\s{0,8}(Item|Form|QueryString|Params)\s{0,8})?[\[(]/ nocase
      // eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String(Request...
      $eval2 = /eval\s{0,8}\([^;]{0,160}FromBase64String\s{0,8}\(\s{0,8}Request/ nocase
      $unsafe = /['"]unsafe['"]/ nocase
      $lang1 = /Language\s{0,8}=\s{0,8}['"]?J(ava)?Script/ nocase
      $lang2 = /runat\s{0,8}=\s{0,8}['"]?server/ nocase
   condition:
      filesize < 2MB and any of ($eval*) and $unsafe and any of ($lang*)
}

rule EXHUNT_WEBSHELL_Chopper_CSharp {
   meta:
      description = "C# web shell running request input: an assembly loaded from the request, source compiled from it, or a process started with it"
      author = "exhunt"
      reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
      date = "2021-03-02"
      score = 80
      exhunt_stage = "persistence"
   strings:
      $page1 = /<%@\s{0,8}Page\s[^>]{0,80}Language\s{0,8}=\s{0,8}['"]?C#/ nocase
      $page2 = /runat\s{0,8}=\s{0,8}['"]?server/ nocase
      // Assembly.Load(Request.BinaryRead(...)), Assembly.Load(Convert.FromBase64String(Request.Form["k"]))
      $x1 = /Assembly\s{0,8}\.\s{0,8}Load\s{0,8}\(\s{0,8}([\w.]{0,40}FromBase64String\s{0,8}\(\s{0,8})?Request/ nocase
      $x2 = /CompileAssemblyFromSource\s{0,8}\([^;]{0,160}Request/ nocase
      $x3 = /Process\s{0,8}\.\s{0,8}Start\s{0,8}\([^;]{0,120}Request\s{0,8}(\.\s{0,8}(Item|Form|QueryString|Params)\s{0,8})?[\[(]/ nocase
   condition:
      filesize < 2MB and any of ($page*) and any of ($x*)
}

rule EXHUNT_WEBSHELL_OAB_VirtualDirectory_Dump {
   meta:
      description = "Offline Address Book virtual directory settings saved as a page with script in ExternalUrl or InternalUrl: the web shell CVE-2021-27065 writes"
      author = "exhunt"
      reference = "https://www.cisa.gov/news-events/analysis-reports/ar21-084a"
      date = "2021-03-02"
      score = 90
      exhunt_stage = "persistence"
      cve = "CVE-2021-27065"
   strings:
      $p1 = "OfflineAddressBooks" nocase
      $p2 = "PollInterval" nocase
      $p3 = "InternalAuthenticationMethods" nocase
      $p4 = "MetabasePath" nocase
      $p5 = "RequireSSL" nocase
      $url1 = /(External|Internal)Url\s{0,40}:\s{0,8}[a-z]{2,8}:\/\/[^\r\n]{0,300}<\s{0,8}script/ nocase
      $url2 = /(External|Internal)Url\s{0,40}:\s{0,8}[a-z]{2,8}:\/\/[^\r\n]{0,300}(runat|eval\s{0,8}\(|Request\s{0,8}[.\[])/ nocase
   condition:
      filesize < 1MB and 2 of ($p*) and any of ($url*)
}

rule EXHUNT_WEBSHELL_ProxyShell_PST_Page {
   meta:
      description = "Outlook PST file (magic !BDN) saved under a script extension: the web shell ProxyShell writes with New-MailboxExportRequest -FilePath"
      author = "exhunt"
      reference = "https://www.mandiant.com/resources/blog/pst-want-shell-proxyshell-exploiting-microsoft-exchange-servers"
      date = "2021-08-13"
      score = 90
      exhunt_stage = "persistence"
      cve = "CVE-2021-34473 CVE-2021-34523 CVE-2021-31207"
   condition:
      uint32(0) == 0x4E444221 and extension matches /^\.as[hmp]x$/i
}

rule EXHUNT_WEBSHELL_EDR_Probe {
   meta:
      description = "Page that tests for security products' files and reports which it found (the SecChecker pattern): reconnaissance before a web shell is planted"
      author = "exhunt"
      reference = "https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"
      date = "2021-03-05"
      score = 80
      exhunt_stage = "persistence"
   strings:
      $exists = /File\s{0,8}\.\s{0,8}Exists\s{0,8}\(/ nocase
      $write = /Response\s{0,8}\.\s{0,8}Write\s{0,8}\(/ nocase
      $e1 = "xagt.exe" nocase
      $e2 = "csfalconservice.exe" nocase
      $e3 = "cylancesvc.exe" nocase
      $e4 = "sentinelagent.exe" nocase
      $e5 = "cyserver.exe" nocase
      $e6 = "msmpeng.exe" nocase
      $e7 = "cb.exe" nocase fullword
      $e8 = "savservice.exe" nocase
      $e9 = "ntrtscan.exe" nocase
      $e10 = "elastic-endpoint.exe" nocase
   condition:
      filesize < 64KB and #exists >= 2 and $write and 2 of ($e*)
}

rule EXHUNT_WEBSHELL_ASPX_Uploader {
   meta:
      description = "Tiny C# page that saves an uploaded file where the caller says (the SIMPLESEESHARP pattern): a stager for further shells"
      author = "exhunt"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      date = "2021-03-02"
      score = 80
      exhunt_stage = "persistence"
   strings:
      $page = /<%@\s{0,8}Page\s[^>]{0,80}Language\s{0,8}=\s{0,8}['"]?C#/ nocase
      $f1 = /Request\s{0,8}\.\s{0,8}Files\s{0,8}\[/ nocase
      $f2 = "HttpPostedFile" nocase
      $save = /\.\s{0,8}SaveAs\s{0,8}\(/ nocase
   condition:
      filesize < 8KB and $page and any of ($f*) and $save
}

rule EXHUNT_WEBSHELL_ASPX_Command_Runner {
   meta:
      description = "Page that feeds request input to a process it starts (the SPORTSBALL pattern): commands run through the web server"
      author = "exhunt"
      reference = "https://www.volexity.com/blog/2021/03/02/active-exploitation-of-microsoft-exchange-zero-day-vulnerabilities/"
      date = "2021-03-02"
      score = 85
      exhunt_stage = "persistence"
   strings:
      $page = /(runat\s{0,8}=\s{0,8}['"]?server|<%@\s{0,8}Page)/ nocase
      $proc = /new\s{1,8}(System\s{0,8}\.\s{0,8}Diagnostics\s{0,8}\.\s{0,8})?Process(StartInfo)?\s{0,8}\(/ nocase
      $in1 = /StandardInput\s{0,8}\.\s{0,8}Write(Line)?\s{0,8}\([^;]{0,120}Request/ nocase
      $in2 = /(Arguments|FileName)\s{0,8}=\s{0,8}[^;]{0,120}Request\s{0,8}(\.\s{0,8}(Item|Form|QueryString|Params)\s{0,8})?[\[(]/ nocase
   condition:
      filesize < 512KB and $page and $proc and any of ($in*)
}

rule EXHUNT_WEBSHELL_reGeorg_Tunnel {
   meta:
      description = "reGeorg-style HTTP tunnel: socket commands carried in X-CMD/X-TARGET/X-PORT headers"
      author = "exhunt"
      reference = "https://github.com/sensepost/reGeorg"
      date = "2021-03-02"
      score = 85
      exhunt_stage = "persistence"
   strings:
      $h1 = "X-CMD" nocase
      $h2 = "X-STATUS" nocase
      $h3 = "X-TARGET" nocase
      $h4 = "X-PORT" nocase
      $h5 = "X-ERROR" nocase
      $c1 = "CONNECT" fullword
      $c2 = "DISCONNECT" fullword
      $c3 = "FORWARD" fullword
      $c4 = "READ" fullword
      $sock = /new\s{1,8}Socket\s{0,8}\(/ nocase
   condition:
      filesize < 256KB and 3 of ($h*) and 2 of ($c*) and $sock
}
