package files

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// appHostConfig is an Exchange server's applicationHost.config, trimmed to
// the sections the parser reads, with the virtual directory a ProxyShell
// intrusion added (served from a ProgramData folder) and a handler that
// runs .jpg files as pages.
const appHostConfig = `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <sites>
            <site name="Default Web Site" id="1" serverAutoStart="true">
                <application path="/" applicationPool="DefaultAppPool">
                    <virtualDirectory path="/" physicalPath="%SystemDrive%\inetpub\wwwroot" />
                </application>
                <application path="/owa" applicationPool="MSExchangeOWAAppPool">
                    <virtualDirectory path="/" physicalPath="C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa" />
                </application>
                <application path="/aspnet_client" applicationPool="DefaultAppPool">
                    <virtualDirectory path="/" physicalPath="C:\ProgramData\COM\" />
                </application>
            </site>
            <site name="Exchange Back End" id="2">
                <application path="/" applicationPool="MSExchangeServicesAppPool">
                    <virtualDirectory path="/" physicalPath="C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess" />
                    <virtualDirectory path="/x" physicalPath="C:\" />
                </application>
            </site>
        </sites>
    </system.applicationHost>
    <location path="" overrideMode="Allow">
        <system.webServer>
            <handlers accessPolicy="Read, Script">
                <add name="PageHandlerFactory-Integrated-4.0" path="*.aspx" verb="GET,HEAD,POST,DEBUG" type="System.Web.UI.PageHandlerFactory" preCondition="integratedMode,runtimeVersionv4.0" />
                <add name="PageHandlerFactory-ISAPI-4.0_64bit" path="*.aspx" verb="GET,HEAD,POST,DEBUG" modules="IsapiModule" scriptProcessor="%windir%\Microsoft.NET\Framework64\v4.0.30319\aspnet_isapi.dll" />
                <add name="SimpleHandlerFactory-Integrated-4.0" path="*.ashx" verb="GET,HEAD,POST,DEBUG" type="System.Web.UI.SimpleHandlerFactory" />
                <add name="img" path="*.jpg" verb="*" type="System.Web.UI.PageHandlerFactory" />
            </handlers>
        </system.webServer>
    </location>
</configuration>
`

const webConfig = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.web>
    <compilation>
      <buildProviders>
        <add extension=".aspx" type="System.Web.Compilation.PageBuildProvider" />
        <add extension=".log" type="System.Web.Compilation.PageBuildProvider" />
      </buildProviders>
    </compilation>
  </system.web>
</configuration>
`

func TestParseIISConfig(t *testing.T) {
	issues, gaps := parseIISConfig([]byte(appHostConfig))
	var got []string
	for _, is := range issues {
		got = append(got, is.kind+" "+is.path+" line "+itoa(is.line))
	}
	want := []string{`vdir C:\ProgramData\COM\ line 13`, `vdir C:\ line 19`, `handler *.jpg line 30`}
	if !slices.Equal(got, want) || len(gaps) != 0 {
		t.Errorf("issues %q gaps %v, want %q", got, gaps, want)
	}
	issues, _ = parseIISConfig([]byte(webConfig))
	if len(issues) != 1 || issues[0].path != ".log" || issues[0].line != 7 {
		t.Errorf("web.config issues %+v", issues)
	}
	// a benign configuration: the Exchange and IIS defaults
	benign := strings.ReplaceAll(strings.ReplaceAll(appHostConfig, `C:\ProgramData\COM\`, `C:\inetpub\wwwroot\aspnet_client`), `physicalPath="C:\" `, `physicalPath="D:\sites\x" `)
	benign = strings.ReplaceAll(benign, `path="*.jpg"`, `path="*.aspx"`)
	if issues, gaps := parseIISConfig([]byte(benign)); len(issues) != 0 || len(gaps) != 0 {
		t.Errorf("benign configuration: %+v %v", issues, gaps)
	}
	// broken XML: what came before the error, and a gap at its line
	issues, gaps = parseIISConfig([]byte(appHostConfig[:strings.Index(appHostConfig, "<location")] + "<a b=\n\x00"))
	if len(issues) != 2 || len(gaps) != 1 || gaps[0].Line < 20 {
		t.Errorf("broken: %+v %v", issues, gaps)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestStagingFolder(t *testing.T) {
	for p, want := range map[string]bool{
		`C:\ProgramData\COM\`:           true,
		`c:\programdata`:                true,
		`C:\Users\All Users\ZOO`:        true,
		`%ProgramData%\x`:               true,
		`%SystemDrive%\root`:            true,
		`C:\Windows\Temp\x`:             true,
		`D:\`:                           true,
		`C:`:                            true,
		`%SystemDrive%\inetpub\wwwroot`: false,
		`C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\owa`: false,
		`C:\Windows\System32\inetsrv`:                                           false,
		`C:\ProgramDataX`:                                                       false,
		`\\server\share`:                                                        false,
		``:                                                                      false,
	} {
		if got := stagingFolder(p); got != want {
			t.Errorf("stagingFolder(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestConfigFindings: the issues of applicationHost.config become findings
// at their line, and the file is still YARA-scanned and hashed.
func TestConfigFindings(t *testing.T) {
	r := shippedRules(t)
	found := tree(t, map[string][]byte{
		"C/Windows/System32/inetsrv/config/applicationHost.config": []byte(appHostConfig),
		"C/inetpub/wwwroot/web.config":                             []byte(webConfig),
	})
	for p, want := range map[string][]string{
		"C/Windows/System32/inetsrv/config/applicationHost.config": {"iis-config-staging-vdir:13", "iis-config-staging-vdir:19", "iis-config-page-handler:30"},
		"C/inetpub/wwwroot/web.config":                             {"iis-config-page-handler:7"},
	} {
		res, err := r.NewScanner(Options{}).Scan(context.Background(), found[p], nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fd := range res.Findings {
			got = append(got, fd.Rule+":"+itoa(fd.Source.Line))
			if fd.File.SHA256 == "" {
				t.Errorf("%s: not hashed", p)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
}

func FuzzParseIISConfig(f *testing.F) {
	f.Add([]byte(appHostConfig))
	f.Add([]byte(webConfig))
	f.Add([]byte(`<?xml version="1.0" encoding="utf-16"?><a><virtualDirectory physicalPath="C:\"/></a>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		issues, gaps := parseIISConfig(data)
		if len(issues) > maxConfigIssues || len(gaps) > 1 {
			t.Fatalf("%d issues, %d gaps", len(issues), len(gaps))
		}
		for _, is := range issues {
			if is.line < 1 || is.kind != "vdir" && is.kind != "handler" {
				t.Fatalf("issue %+v", is)
			}
		}
	})
}
