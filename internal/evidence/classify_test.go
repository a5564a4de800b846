package evidence

import (
	"strings"
	"testing"
)

const install = "Program Files/Microsoft/Exchange Server/V15"

func TestClassify(t *testing.T) {
	tests := []struct {
		anc, rel string // '/'-separated; anc is the hunted root
		kind     Kind   // "" = not recognised
		sub      string
		root     string // server root below the hunted root, "" for the root itself
		name     string
	}{
		{"/case", "SRV1/C/" + install + "/Logging/HttpProxy/Owa/HttpProxy_2021030312-1.LOG", HTTPProxy, "Owa", "SRV1", "SRV1"},
		{"/case", "SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", IIS, "W3SVC1", "SRV1", "SRV1"},
		{"/case", "srv1/c/inetpub/logs/logfiles/w3svc2/U_EX210303.LOG", IIS, "W3SVC2", "srv1", "srv1"},
		{"/case", "EXCH02/uploads/auto/C%3A/" + install + "/Logging/ECP/Server/ECPServer20210303-1.LOG", ECPServer, "", "EXCH02", "EXCH02"},
		{"/case", "EXCH02/uploads/ntfs/%5C%5C.%5CC%3A/inetpub/logs/LogFiles/W3SVC1/u_ex1.log", IIS, "W3SVC1", "EXCH02", "EXCH02"},
		{"/case", "EXCH03/c_drive/" + install + "/Logging/ECP/Activity/ECPActivity_1.log", ECPActivity, "", "EXCH03", "EXCH03"},
		{"/case", "EXCH03/C$/" + install + "/Logging/Ews/Ews_2021030312-1.log", EWS, "", "EXCH03", "EXCH03"},
		{"/case", "EXCH03/D:/Exchange Server/V15/Logging/OABGeneratorLog/OABGenerator_1.LOG", OABGen, "", "EXCH03", "EXCH03"},
		{"/case", "EXCH03/D/Exchange/Logging/Ews/Ews_1.log", EWS, "", "EXCH03", "EXCH03"},
		{"/case", "a/b/EX1/C/" + install + "/Logging/OABGeneratorLog/x/y/z.log", OABGen, "", "a/b/EX1", "EX1"},
		{"/case", "EX1/" + install + "/Logging/CmdletInfra/Powershell-Proxy/Http/Rps_Http_2021030312-1.LOG", RpsHTTP, "", "EX1", "EX1"},
		{"/case", "EX1/" + install + "/Logging/CmdletInfra/Powershell-Proxy/Cmdlet/Rps_Cmdlet_2021030312-1.LOG", RpsCmdlet, "", "EX1", "EX1"},
		{"/case", "LOGGING/HTTPPROXY/POWERSHELL/HTTPPROXY_2021030312-1.LOG.GZ", HTTPProxy, "POWERSHELL", "", "case"},
		// Event logs: in winevt\Logs under the server's drive, or loose in a
		// per-server folder.
		{"/case", "SRV1/C/Windows/System32/winevt/Logs/MSExchange Management.evtx", EVTX, "MSExchange Management", "SRV1", "SRV1"},
		{"/case", "SRV1/uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx", EVTX, "Security", "SRV1", "SRV1"},
		{"/case", "SRV2/evtx/Application.EVTX", EVTX, "Application", "SRV2", "SRV2"},
		{"/case", "SRV3/Application.evtx", EVTX, "Application", "SRV3", "SRV3"},
		// The root is the install folder or a generic evidence folder.
		{"/mnt/V15", "Logging/HttpProxy/Ecp/HttpProxy_1.LOG", HTTPProxy, "Ecp", "", ""},
		{"/mnt/Exchange Server", "V15/Logging/HttpProxy/Ecp/HttpProxy_1.LOG", HTTPProxy, "Ecp", "", ""},
		{"/tmp/ex01", "Logging/HttpProxy/Ecp/HttpProxy_1.LOG", HTTPProxy, "Ecp", "", "ex01"},
		{"/tmp/ex01", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", IIS, "W3SVC1", "", "ex01"},
		{"/tmp/evidence", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", IIS, "W3SVC1", "", ""},
		{"/case/EXCH04/C", install + "/Logging/Ews/Ews_1.log", EWS, "", "", "EXCH04"},
		{"/case/EXCH04/uploads/auto/C%3A", "inetpub/logs/LogFiles/W3SVC1/u_ex1.log", IIS, "W3SVC1", "", "EXCH04"},
		// The root is inside the log tree: the kind comes from its path.
		{"/case/SRV9/" + install + "/Logging/HttpProxy", "Owa/HttpProxy_1.log", HTTPProxy, "Owa", "", ""},
		{"/x/inetpub/logs/LogFiles/W3SVC1", "u_ex1.log", IIS, "W3SVC1", "", ""},
		// A zip's name is its only ancestor.
		{"srv1", "C/" + install + "/Logging/HttpProxy/Owa/HttpProxy_1.LOG", HTTPProxy, "Owa", "", "srv1"},
		{"Logging", "HttpProxy/Owa/HttpProxy_1.LOG", HTTPProxy, "Owa", "", ""},
		// The outermost marker wins.
		{"/case", "SRV1/inetpub/x/" + install + "/Logging/Ews/Ews_1.log", EWS, "", "SRV1", "SRV1"},
		{"/case", "SRV1/collection/C/inetpub/logs/LogFiles/W3SVC1/u_ex1.log", IIS, "W3SVC1", "SRV1/collection", ""},
		// Log folders copied on their own, alone or one folder per server.
		{"/case", "W3SVC1/u_ex210303.log", IIS, "W3SVC1", "", "case"},
		{"/case/W3SVC1", "u_ex210303.log", IIS, "W3SVC1", "", ""},
		{"/case", "EXCH05/W3SVC2/u_ex1.log", IIS, "W3SVC2", "EXCH05", "EXCH05"},
		{"/case", "EXCH05/HttpProxy/Owa/HttpProxy_1.LOG", HTTPProxy, "Owa", "EXCH05", "EXCH05"},
		{"/case/HttpProxy", "Owa/HttpProxy_1.LOG", HTTPProxy, "Owa", "", ""},
		{"/case", "EXCH06/ECP/Server/ECPServer1.LOG", ECPServer, "", "EXCH06", "EXCH06"},
		{"/case", "EXCH06/Ews/Ews_1.log", EWS, "", "EXCH06", "EXCH06"},
		{"/case", "EXCH06/CmdletInfra/Powershell-Proxy/Http/Rps_Http_1.LOG", RpsHTTP, "", "EXCH06", "EXCH06"},
		{"/case", "EXCH06/OABGeneratorLog/OABGenerator_1.LOG", OABGen, "", "EXCH06", "EXCH06"},
		// Not recognised.
		{"/case", "EXCH06/Ews/other.log", "", "", "", ""},
		{"/case", "EXCH06/HttpProxy/Owa/other_1.log", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/HttpProxy/Owa/readme.txt", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/HttpProxy/Owa/other_1.log", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/HttpProxy/HttpProxy_1.log", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/MessageTracking/MSGTRK2021.LOG", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/CmdletInfra/LocalPowerShell/Cmdlet/Cmdlet_1.LOG", "", "", "", ""},
		{"/case", "SRV1/C/" + install + "/Logging/ECP/Other/x.log", "", "", "", ""},
		{"/case", "SRV1/C/inetpub/logs/LogFiles/W3SVC/u_ex1.log", "", "", "", ""},
		{"/case", "SRV1/C/inetpub/logs/LogFiles/W3SVC1x/u_ex1.log", "", "", "", ""},
		{"/case", "SRV1/C/inetpub/logs/LogFiles/W3SVC1/u_ex1.log.zip", "", "", "", ""},
		{"/case", "SRV1/C/inetpub/logs/LogFiles/W3SVC1/.log", "", "", "", ""},
		{"/case", "HttpProxy_1.log", "", "", "", ""},
		{"/case", "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			anc, rel := splitSlash(tt.anc), splitSlash(tt.rel)
			c, ok := classify(anc, rel)
			if ok != (tt.kind != "") {
				t.Fatalf("classify ok = %v, want %v (class %+v)", ok, tt.kind != "", c)
			}
			if !ok {
				return
			}
			root := strings.Join(rel[:c.prefix], "/")
			name := serverName(c, rel[:c.prefix], anc)
			if c.kind != tt.kind || c.sub != tt.sub || root != tt.root || name != tt.name {
				t.Errorf("got kind %q sub %q root %q name %q; want %q %q %q %q",
					c.kind, c.sub, root, name, tt.kind, tt.sub, tt.root, tt.name)
			}
		})
	}
}

func TestKindFromName(t *testing.T) {
	for name, want := range map[string]Kind{
		"HttpProxy_2021030312-1.LOG": HTTPProxy,
		"ECPServer20210303-1.LOG":    ECPServer,
		"ecpactivity_1.log":          ECPActivity,
		"Rps_Http_2021.LOG":          RpsHTTP,
		"RPS_CMDLET_2021.LOG":        RpsCmdlet,
		"Ews_2021.log.gz":            EWS,
		"u_ex210303.log":             IIS,
		"notes.log":                  "",
	} {
		got, ok := kindFromName(name)
		if got != want || ok != (want != "") {
			t.Errorf("kindFromName(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestMemberPath(t *testing.T) {
	for name, safe := range map[string]bool{
		"C/Program Files/x.log":  true,
		"./a/./b.log":            true,
		"a//b.log":               true,
		"a/..b/c..d.log":         true,
		"../x.log":               false,
		"a/../../x.log":          false,
		"/etc/x.log":             false,
		"//server/share/x.log":   false,
		"C:/Windows/x.log":       true,  // a collector's drive-letter name: C: is the drive folder
		"c:x.log":                false, // drive-relative
		"C:":                     true,
		"a/C:/x.log":             true, // not absolute; C: is just a folder name here
		"Logging/HttpProxy/../x": false,
	} {
		if _, ok := memberPath(name); ok != safe {
			t.Errorf("memberPath(%q) safe = %v, want %v", name, ok, safe)
		}
	}
}
