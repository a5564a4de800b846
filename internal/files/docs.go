package files

import (
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// RuleShellAnswered is the rule id of a web shell found on disk answering
// a request in the IIS logs (the hunt joins the two).
const RuleShellAnswered = "webshell-file-answered"

// Doc describes a rule of the file hunt, for rule listings and SARIF.
type Doc struct {
	ID          string
	Title       string
	Description string
	Stage       finding.Stage
	Severity    finding.Severity
	CVEs        []string
	Chain       string
	References  []string
}

// fixedDocs are the rules of the file hunt that are code, not YARA.
var fixedDocs = []Doc{
	{ID: "file-ioc-path", Title: "File at a web-shell path from Microsoft's IOC feed",
		Description: "The file sits at a path Microsoft published for the web shells of the March 2021 campaign (compared from the web root or drive-level folder on).",
		Stage:       finding.StagePersistence, Severity: finding.SeverityCritical, CVEs: []string{"CVE-2021-27065"}, Chain: "proxylogon",
		References: []string{"https://github.com/Azure/Azure-Sentinel/blob/master/Sample%20Data/Feeds/MSTICIoCs-ExchangeServerVulnerabilitiesDisclosedMarch2021.csv"}},
	{ID: "file-ioc-name", Title: "File name matches a signature-base indicator",
		Description: "The file's Windows path matches a regular expression of signature-base's filename-iocs.txt. Scores of 75 and above count; lower ones support other evidence.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityHigh,
		References: []string{"https://github.com/Neo23x0/signature-base/blob/master/iocs/filename-iocs.txt"}},
	{ID: "file-ioc-hash", Title: "File hash on a published indicator list",
		Description: "The file's SHA-256, SHA-1 or MD5 is in Microsoft's IOC feed, the hashes of Microsoft's HAFNIUM blog or signature-base's hash-iocs.txt.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityCritical,
		References: []string{"https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/",
			"https://github.com/Neo23x0/signature-base/blob/master/iocs/hash-iocs.txt"}},
	{ID: "file-nonstandard-script", Title: "Script where Exchange keeps no such page",
		Description: "An .aspx, .ashx, .asmx or other script in FrontEnd\\HttpProxy\\owa\\auth or ecp\\auth that Exchange does not ship (RedirSuiteServerProxy.aspx is not RedirSuiteServiceProxy.aspx, TimeoutLogout.aspx is not TimeoutLogoff.aspx), in their sub-folders, or in inetpub\\wwwroot\\aspnet_client.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityHigh, CVEs: []string{"CVE-2021-27065"},
		References: []string{"https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/",
			"https://www.cisa.gov/news-events/cybersecurity-advisories/aa21-062a"}},
	{ID: "file-lsass-dump", Title: "Dump file named lsass*.dmp, as credential dumps are (the name, not the content)",
		Description: "A file named lsass*.dmp where the file hunt reads (Test-ProxyLogon looks in C:\\root and Windows\\Temp). The name is the attacker's choice: the YARA rule EXHUNT_LSASS_Minidump checks that the content is a minidump of lsass.exe.",
		Stage:       finding.StageExecution, Severity: finding.SeverityCritical,
		References: []string{"https://github.com/microsoft/CSS-Exchange/blob/main/Security/src/Test-ProxyLogon.ps1"}},
	{ID: "file-staging-archive", Title: "Archive in ProgramData, where the attackers staged data for exfiltration",
		Description: "A .zip, .7z or .rar under ProgramData. Antivirus products leave archives there too, so it counts only once another finding shows an exploit reached the server.",
		Stage:       finding.StageCollection, Severity: finding.SeverityMedium,
		References: []string{"https://github.com/microsoft/CSS-Exchange/blob/main/Security/src/Test-ProxyLogon.ps1"}},
	{ID: "msert-threat-detected", Title: "Microsoft Safety Scanner detected a threat",
		Description: "A \"Threat Detected\" entry of Windows\\debug\\msert.log, with the files it names.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityCritical,
		References: []string{"https://github.com/microsoft/CSS-Exchange/blob/main/Security/src/EOMT.ps1"}},
	{ID: "iis-config-staging-vdir", Title: "IIS serves a virtual directory from a staging folder",
		Description: "applicationHost.config or a web.config maps a virtual directory or application to ProgramData, a user profile, a temp folder, C:\\root or a whole drive.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityHigh,
		References: []string{"https://github.com/Neo23x0/signature-base/blob/master/yara/expl_proxyshell.yar"}},
	{ID: "iis-config-page-handler", Title: "IIS runs files of another extension as ASP.NET pages",
		Description: "A handler or build provider makes IIS compile files of an extension other than .aspx as pages, so a shell can pass for an image or a log.",
		Stage:       finding.StagePersistence, Severity: finding.SeverityHigh,
		References: []string{"https://learn.microsoft.com/en-us/iis/configuration/system.webserver/handlers/"}},
	{ID: RuleShellAnswered, Title: "Web shell found on disk answered a request",
		Description: "An IIS log line shows a 2xx answer to the URL of a file the file hunt reports as a web shell: the shell ran.",
		Stage:       finding.StageExecution, Severity: finding.SeverityCritical,
		References: []string{"https://www.microsoft.com/security/blog/2021/03/02/hafnium-targeting-exchange-servers/"}},
}

// upstreamURL is where the shipped signature-base rule files come from.
const upstreamURL = "https://github.com/Neo23x0/signature-base/blob/master/yara/"

// Docs describes every rule the file hunt can report: its fixed rules and
// each YARA rule ("yara:<name>"), with the rule's description, stage,
// severity and references (its own reference first when it is a URL).
func (r *Rules) Docs() []Doc {
	out := append([]Doc(nil), fixedDocs...)
	for _, sp := range r.pages.Specs() {
		out = append(out, Doc{ID: sp.Rule, Title: sp.Title,
			Description: "exhunt's reading of the server code of an ASP.NET or classic ASP page (rules/aspx/aspx.yaml): request input reaches what the title says; the finding lists the reasons with their lines.",
			Stage:       finding.StagePersistence, Severity: finding.Severity(sp.Severity),
			References: []string{"https://www.microsoft.com/en-us/security/blog/2021/02/11/web-shell-attacks-continue-to-rise/"}})
	}
	seen := map[string]bool{}
	for _, ri := range r.yara.List() {
		id := "yara:" + ri.Rule
		if seen[id] {
			continue
		}
		seen[id] = true
		m := ri.Meta
		stage, _ := r.stageOf(ri.Rule, m)
		d := Doc{ID: id, Title: metaString(m, "description"), Stage: stage, Severity: severityOf(m),
			CVEs: cvesOf(ri.Rule, m, ri.Tags)}
		d.Chain = chainOf(d.CVEs)
		if d.Title == "" {
			d.Title = "YARA rule " + ri.Rule
		}
		if a := metaString(m, "author"); a != "" {
			d.Description = "YARA rule " + ri.Rule + " by " + a + "."
		}
		if ref := metaString(m, "reference"); strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
			d.References = append(d.References, ref)
		}
		if base, ok := strings.CutPrefix(ri.File, "rules/yara/signature-base/"); ok {
			d.References = append(d.References, upstreamURL+base)
		}
		out = append(out, d)
	}
	return out
}
