package aspx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exhunt/exhunt/rules"
)

func loadTestRules(t testing.TB) *Rules {
	t.Helper()
	data, err := rules.FS.ReadFile("aspx/aspx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules("aspx/aspx.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func analyzeFile(t testing.TB, r *Rules, path string) []Detection {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r.Analyze(Parse(data, strings.ToLower(filepath.Ext(path))))
}

func corpus(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/%s: %v", dir, err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") && !strings.HasSuffix(f, ".txt") {
			out = append(out, f)
		}
	}
	return out
}

// TestCorpus measures the detection rate on the shell corpus and the
// false-positive rate on the benign one.
func TestCorpus(t *testing.T) {
	r := loadTestRules(t)
	shells, benign := corpus(t, "shells"), corpus(t, "benign")
	hit := 0
	for _, f := range shells {
		ds := analyzeFile(t, r, f)
		if len(ds) > 0 {
			hit++
			for _, d := range ds {
				if len(d.Reasons) == 0 {
					t.Errorf("%s: %s without reasons", f, d.Rule)
				}
			}
			continue
		}
		t.Errorf("missed shell %s", f)
	}
	fp := 0
	for _, f := range benign {
		if ds := analyzeFile(t, r, f); len(ds) > 0 {
			fp++
			t.Errorf("benign page %s flagged: %s %v", f, ds[0].Rule, ds[0].Reasons)
		}
	}
	t.Logf("shells: %d/%d detected; benign: %d/%d flagged", hit, len(shells), fp, len(benign))
}

// TestDetections: each kind of use fires on input and not on the page's
// own values, with the reason naming the use and its line.
func TestDetections(t *testing.T) {
	r := loadTestRules(t)
	cases := []struct {
		name, ext, src, rule, reason string // rule "" means nothing fires
	}{
		{"exec hit", ".aspx", `<%@ Page Language="C#"%><% System.Diagnostics.Process.Start("cmd.exe", "/c " + Request.Form["c"]); %>`, "aspx-request-exec", "line 1: request input (Request.Form) reaches Process.Start"},
		{"exec fixed", ".aspx", `<%@ Page Language="C#"%><% System.Diagnostics.Process.Start("cmd.exe", "/c dir"); %>`, "", ""},
		{"exec through method", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nstring R(string a) { return a; }\nvoid Go(string x) {\n Process.Start(\"cmd\", x);\n}\nvoid Page_Load() { Go(R(Request[\"q\"])); }\n</script>", "aspx-request-exec", "line 5: request input (x (from "},
		{"code eval hit", ".aspx", `<%@ Page Language="JScript"%><% var a = Request.Item["p"]; eval(a); %>`, "aspx-request-code", "reaches eval"},
		{"code eval literal", ".aspx", `<%@ Page Language="JScript"%><% eval("1+1"); %>`, "", ""},
		{"databinding Eval", ".aspx", `<%@ Page Language="VB"%><%# Eval("Name") %>`, "", ""},
		{"ado execute", ".asp", `<% conn.Execute("DELETE FROM t WHERE id=" & Request("id")) %>`, "", ""},
		{"loader hit", ".aspx", `<%@ Page Language="C#"%><% byte[] b = Request.BinaryRead(Request.ContentLength); for (int i = 0; i < b.Length; i++) { b[i] ^= 0x23; } System.Reflection.Assembly.Load(b).CreateInstance("X"); %>`, "aspx-encrypted-loader", "XORs a buffer byte by byte"},
		{"obfuscated loader", ".aspx", `<%@ Page Language="C#"%><% var t = System.Type.GetType("System.Diag" + "nostics.Process"); %>`, "aspx-obfuscated-code", `joins string pieces into "system.diagnostics.process"`},
		{"file write hit", ".aspx", `<%@ Page Language="C#"%><% System.IO.File.WriteAllText(Request["p"], Request["c"]); %>`, "aspx-file-manager", "reaches File.WriteAllText"},
		{"file write sanitized", ".aspx", `<%@ Page Language="C#"%><% System.IO.File.WriteAllText(Server.MapPath("~/App_Data/" + Request["p"]), Request["c"]); %>`, "", ""},
		{"file write joined outside MapPath", ".aspx", `<%@ Page Language="C#"%><% System.IO.File.WriteAllText(Server.MapPath("./") + Request["p"], "x"); %>`, "aspx-file-manager", "reaches File.WriteAllText"},
		{"single download", ".aspx", `<%@ Page Language="C#"%><% Response.TransmitFile(Request["f"]); %>`, "", ""},
		{"list and read", ".aspx", `<%@ Page Language="C#"%><% var d = Request["d"]; foreach (var f in System.IO.Directory.GetFiles(d)) Response.Write(f); Response.WriteFile(Request["f"]); %>`, "aspx-file-manager", "reaches Directory.GetFiles"},
		{"sql hit", ".aspx", `<%@ Page Language="C#"%><% var c = new SqlCommand(Request.Form["q"], conn); %>`, "aspx-sql-console", "reaches SqlCommand"},
		{"sql injection bug", ".aspx", `<%@ Page Language="C#"%><% var c = new SqlCommand("SELECT * FROM t WHERE id = " + Request.Form["q"], conn); %>`, "", ""},
		{"sql parameters", ".aspx", `<%@ Page Language="C#"%><% var c = new SqlCommand("SELECT * FROM t WHERE id = @id", conn); c.Parameters.AddWithValue("@id", Request["id"]); %>`, "", ""},
		{"tunnel hit", ".aspx", `<%@ Page Language="C#"%><% var s = new System.Net.Sockets.TcpClient(Request.Headers["X-T"], 443); %>`, "aspx-tunnel", "reaches TcpClient"},
		{"relay alone", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { var r = WebRequest.Create(c.Request.QueryString[\"u\"]); } }", "", ""},
		{"relay behind password", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nif (c.Request[\"k\"] == \"s3cret\") { var r = WebRequest.Create(c.Request.QueryString[\"u\"]); } } }", "aspx-request-relay", "acts only when request input matches a fixed string"},
		{"request alias", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { HttpRequest q = c.Request; Process.Start(q.Form[\"x\"]); } }", "aspx-request-exec", "reaches Process.Start"},
		{"vb no parens", ".asp", `<% Execute Request("x") %>`, "aspx-request-code", "reaches Execute"},
		{"utf-16 page", ".aspx", "", "aspx-request-code", "reaches eval"},
		{"markup only", ".aspx", `<html><body><script>eval(location.hash)</script></body></html>`, "", ""},
		// a process's standard input fed the request
		{"stdin hit", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext ctx) {\nvar p = new Process(); p.StartInfo.FileName = \"cmd.exe\"; p.Start();\np.StandardInput.WriteLine(ctx.Request.Form[\"line\"]); } }", "aspx-request-exec", "line 4: request input (Request.Form) reaches StandardInput.WriteLine"},
		{"stdin fixed", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext ctx) {\nvar p = Process.Start(psi); p.StandardInput.WriteLine(\"quit\"); } }", "", ""},
		// XSLT stylesheets whose msxsl:script reads the request
		{"xslt script hit", ".aspx", "<%@ Page Language=\"C#\"%>\n<%\nstring x = @\"<xsl:stylesheet xmlns:msxsl='urn:schemas-microsoft-com:xslt'><msxsl:script language='JScript' implements-prefix='u'>function f(){ return System.Web.HttpContext.Current.Request.Form['q']; }</msxsl:script></xsl:stylesheet>\";\nvar t = new XslCompiledTransform(); t.Load(Doc(x), XsltSettings.TrustedXslt, null);\n%>", "aspx-request-code", "line 3: an embedded msxsl:script block, run with scripts enabled, reads the request"},
		{"xslt script of its own", ".aspx", "<%@ Page Language=\"C#\"%>\n<%\nstring x = @\"<msxsl:script language='C#' implements-prefix='u'>public string Up(string s){ return s.ToUpper(); }</msxsl:script>\";\nvar t = new XslCompiledTransform(); t.Load(Doc(x), XsltSettings.TrustedXslt, null);\n%>", "", ""},
		{"xslt scripts off", ".aspx", "<%@ Page Language=\"C#\"%>\n<% string x = \"<msxsl:script>Request.Form('q')</msxsl:script>\"; var t = new XslCompiledTransform(); t.Load(Doc(x)); %>", "", ""},
		// MSScriptControl running code the page wrote that reads the request
		{"script control hit", ".asp", "<%\nSet sc = Server.CreateObject(\"MSScriptControl.ScriptControl\")\nsc.Language = \"VBScript\"\nsc.ExecuteStatement(\"Exe\" & \"cute Request(\"\"t\"\")\")\n%>", "aspx-request-code", "line 4: ExecuteStatement runs code of the page's own that reads the request"},
		{"script control own code", ".asp", "<%\nSet sc = Server.CreateObject(\"MSScriptControl.ScriptControl\")\nsc.ExecuteStatement(\"total = 1 + 2\")\n%>", "", ""},
		// code decoded at run time, request or not
		{"decoded execute", ".asp", "<%\nFunction dx(s)\n For Each n In Split(s, \",\")\n  dx = dx & Chr(n - 7)\n Next\nEnd Function\nExecute dx(\"115,109,107,108,\")\n%>", "aspx-obfuscated-code", "Execute runs code decoded at run time"},
		{"decoded for display", ".aspx", `<%@ Page Language="C#"%><% Response.Write(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(note))); %>`, "", ""},
		{"unescaped execute", ".asp", `<% Execute(unescape("Response%2EWrite%20now")) %>`, "aspx-obfuscated-code", "Execute runs code decoded at run time (unescape())"},
		// "unsafe" spelled through variables
		{"unsafe from variables", ".aspx", "<script runat=\"server\" language=\"JScript\">\nfunction run(s) { var m1 = \"un\"; var m2 = \"fe\"; var mode = m1 + \"sa\" + m2; return eval(s, mode); }\n</script>", "aspx-obfuscated-code", `line 2: joins string variables into "unsafe"`},
		{"greeting from variables", ".aspx", "<script runat=\"server\" language=\"JScript\">\nfunction hi() { var a = \"Hel\"; var b = a + \"lo\"; return eval(\"1\"); }\n</script>", "", ""},
		// input inside code the page wrote: an injection bug, not a shell
		{"json eval", ".asp", "<script language=\"jscript\" runat=\"server\">\nfunction parse(){ var s = Request.Form(\"data\"); eval(\"var o=(\" + s + \");\"); return o; }\n</script>", "", ""},
		{"eval of input wrapped once", ".asp", "<script language=\"jscript\" runat=\"server\">\nfunction go(){ eval(\"x=\" + Request.Form(\"data\")); }\n</script>", "aspx-request-code", "reaches eval"},
		// where a file path leads: its first or last part
		{"mappath of input", ".aspx", `<% If Request.Files.Count > 0 Then Request.Files(0).SaveAs(Server.MapPath(Request("to"))) %>`, "aspx-file-manager", "reaches SaveAs"},
		{"mappath of input kept in a variable", ".aspx", "<%@ Page Language=\"C#\"%>\n<% string to = Server.MapPath(Request.Form[\"to\"]); if (Request.Files.Count > 0) Request.Files[0].SaveAs(to); %>", "aspx-file-manager", "line 2: request input (to (from Request.Form)) reaches SaveAs"},
		{"mappath of input deleted", ".aspx", `<%@ Page Language="C#"%><% System.IO.File.Delete(Server.MapPath(Request["f"])); %>`, "", ""},
		{"mappath of input and a file name", ".aspx", `<%@ Page Language="C#"%><% up.SaveAs(Server.MapPath(System.IO.Path.Combine(Request["dir"], System.IO.Path.GetFileName(up.FileName)))); %>`, "", ""},
		{"mappath of page folder", ".aspx", `<% If Request.Files.Count > 0 Then Request.Files(0).SaveAs(Server.MapPath("~/up/" & Request("to"))) %>`, "", ""},
		{"input in the middle", ".aspx", "<%@ Page Language=\"C#\"%>\n<% string d = Server.MapPath(\"~/att/\"); d += Request.QueryString[\"kind\"] + \"/\"; Directory.CreateDirectory(d); f.SaveAs(d + DateTime.Now.Ticks + \".jpg\"); %>", "", ""},
		{"input appended last, written", ".aspx", "<%@ Page Language=\"C#\"%>\n<% string d = Server.MapPath(\"~/att/\"); d += Request.QueryString[\"name\"]; File.WriteAllText(d, Request.Form[\"body\"]); %>", "aspx-file-manager", "reaches File.WriteAllText"},
		{"input appended last, deleted", ".aspx", "<%@ Page Language=\"C#\"%>\n<% string d = Server.MapPath(\"~/att/\"); d += Request.QueryString[\"name\"]; File.Delete(d); %>", "", ""},
		{"named file read", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { var fs = new FileStream(c.Server.MapPath(\"~/files/\") + c.Request[\"f\"], FileMode.Open); fs.CopyTo(c.Response.OutputStream); } }", "", ""},
		{"folder renamed in place", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { var d = new DirectoryInfo(c.Server.MapPath(\"~/media/a\")); Directory.Move(d.FullName, Path.Combine(d.Parent.FullName, c.Request[\"to\"])); } }", "", ""},
		{"listing only", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { string p = Root + c.Request[\"p\"]; foreach (var d in Directory.GetDirectories(p)) Add(d); foreach (var f in Directory.GetFiles(p)) Add(new FileInfo(f).Length); } }", "", ""},
		{"listing and reading", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { string p = c.Request[\"p\"]; foreach (var f in Directory.GetFiles(p)) Add(f); c.Response.Write(File.ReadAllText(c.Request[\"f\"])); } }", "aspx-file-manager", "reaches File.ReadAllText"},
		// quotes and strings as VB and pasted shells write them
		{"curly quotes", ".aspx", `<% If Request.Files.Count <> 0 Then Request.Files(0).SaveAs(Server.MapPath(Request(“p”))) %>`, "aspx-file-manager", "reaches SaveAs"},
		{"vb string ends at line end", ".asp", "<%\n<!--\"-->\nExecute Request(\"v\")\n%>", "aspx-request-code", "line 3: request input (Request[...]) reaches Execute"},
		// this.x and Me.x are the page's own controls
		{"this control", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Go(object s, EventArgs e) { var w = new System.IO.StreamWriter(this.savePath.Text); w.Write(this.body.Text); }\n</script>\n<form runat=\"server\"><asp:TextBox ID=\"savePath\" runat=\"server\"/><asp:TextBox ID=\"body\" runat=\"server\"/></form>", "aspx-file-manager", "request input (savePath.Text) reaches StreamWriter"},
		// writing to the response does not put input into the context
		{"response write then mappath", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext context) { context.Response.Write(context.Request[\"m\"]); File.WriteAllText(context.Server.MapPath(\"~/App_Data/log.txt\"), \"x\"); } }", "", ""},
		// a method's locals are its own: one name in two methods is two values
		{"locals apart", ".asp", "<%\nSub Preview()\n Dim p\n p = Request.QueryString(\"p\")\n Response.Write Server.HTMLEncode(p)\nEnd Sub\nSub Cleanup()\n Dim p\n p = Server.MapPath(\"cache/old.tmp\")\n Set fso = Server.CreateObject(\"Scripting.FileSystemObject\")\n fso.CreateTextFile(p)\nEnd Sub\n%>", "", ""},
		{"field across methods", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nstring target;\nvoid Page_Load() { target = Request.Form[\"t\"]; }\nvoid Remove() { System.IO.File.Delete(target); }\n</script>", "aspx-file-manager", "line 5: request input (target (from Request.Form)) reaches File.Delete"},
		{"parameter of its method", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Show(string f) { Response.Write(f); }\nvoid Drop(string f) { System.IO.File.Delete(f); }\nvoid Page_Load() { Show(Request[\"f\"]); Drop(\"old.log\"); }\n</script>", "", ""},
		// a nameless directive is the file type's own; this.Go() is the page's Go()
		{"nameless handler directive", ".ashx", "<%@ Language=\"C#\" Class=\"H\" %>\npublic class H : IHttpHandler { public void ProcessRequest(HttpContext c) { System.Diagnostics.Process.Start(c.Request[\"x\"]); } }", "aspx-request-exec", "reaches Process.Start"},
		{"nameless directive, no code", ".ashx", "<%@ Language=\"C#\" Class=\"H\" %>\npublic class H : IHttpHandler { public void ProcessRequest(HttpContext c) { c.Response.Write(\"pong\"); } }", "", ""},
		{"this method call", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nstring Run(string c) { return System.Diagnostics.Process.Start(\"cmd.exe\", \"/c \" + c).StandardOutput.ReadToEnd(); }\nvoid Go(object s, EventArgs e) { Response.Write(this.Run(cmdBox.Text)); }\n</script>\n<form runat=\"server\"><asp:TextBox ID=\"cmdBox\" runat=\"server\"/></form>", "aspx-request-exec", "line 3: request input (c (from cmdBox.Text)) reaches Process.Start"},
		{"other object's method", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nstring Run(string c) { return System.Diagnostics.Process.Start(\"cmd.exe\", \"/c \" + c).StandardOutput.ReadToEnd(); }\nvoid Go(object s, EventArgs e) { Response.Write(jobs.Run(cmdBox.Text)); Run(\"ver\"); }\n</script>\n<form runat=\"server\"><asp:TextBox ID=\"cmdBox\" runat=\"server\"/></form>", "", ""},
		{"vbscript xor loader", ".asp", "<%\nk = \"3c6e0b8a9c15224a\"\nn = Request.TotalBytes\nd = Request.BinaryRead(n)\nFor i = 1 To n\n s = s & Chr(AscB(MidB(d, i, 1)) Xor Asc(Mid(k, (i And 15) + 1, 1)))\nNext\nExecute s\n%>", "aspx-encrypted-loader", "line 6: XORs the data byte by byte"},
		{"vbscript xor checksum", ".asp", "<%\nd = Request.BinaryRead(Request.TotalBytes)\nFor i = 1 To LenB(d)\n c = c Xor AscB(MidB(d, i, 1))\nNext\nResponse.Write Hex(c)\n%>", "", ""},
		// stores keep input between requests: a key's value comes back from a read of that key
		{"session carries command", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() { Session[\"cmd\"] = Request.Form[\"c\"]; }\nvoid Run() { Process.Start(\"cmd.exe\", \"/c \" + Session[\"cmd\"].ToString()); }\n</script>", "aspx-request-exec", "line 4: request input (Session (from Request.Form)) reaches Process.Start"},
		{"session other key", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() { Session[\"user\"] = Request.Form[\"u\"]; }\nvoid Run() { Process.Start(\"cmd.exe\", \"/c \" + Session[\"job\"].ToString()); }\n</script>", "", ""},
		{"cache insert carries command", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() { Cache.Insert(\"q\", Request.Form[\"q\"]); }\nvoid Go() { Process.Start(\"cmd.exe\", (string)HttpContext.Current.Cache[\"q\"]); }\n</script>", "aspx-request-exec", "reaches Process.Start"},
		{"viewstate carries sql", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() { ViewState[\"q\"] = Request.Form[\"q\"]; }\nvoid Go() { var c = new SqlCommand((string)ViewState[\"q\"], conn); }\n</script>", "aspx-sql-console", "reaches SqlCommand"},
		{"asp session after one-line If", ".asp", "<%\nIf Request(\"c\") <> \"\" Then Session(\"c\") = Request(\"c\")\nExecute Session(\"c\")\n%>", "aspx-request-code", "line 3: request input (Session (from Request[...])) reaches Execute"},
		{"asp session of its own", ".asp", "<%\nIf Request(\"c\") <> \"\" Then Session(\"lang\") = Request(\"c\")\nSession(\"c\") = \"Response.Write 1\"\nExecute Session(\"c\")\n%>", "", ""},
		// controls whose markup is in another file: an undeclared X read as X.Text
		{"control from code-behind markup", ".aspx", "<%@ Page Language=\"C#\" Inherits=\"Tools.Cmd\"%>\n<script runat=\"server\">\nvoid Go(object s, EventArgs e) { Process.Start(\"cmd.exe\", \"/c \" + txtCmd.Text); }\n</script>", "aspx-request-exec", "line 3: request input (txtCmd.Text) reaches Process.Start"},
		{"declared object's text", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Go() { var job = Jobs.Next(); Process.Start(\"worker.exe\", job.Text); }\n</script>", "", ""},
		{"label is output", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Go() { Process.Start(\"worker.exe\", lblJob.Text); }\n</script>\n<asp:Label ID=\"lblJob\" runat=\"server\" Text=\"nightly\"/>", "", ""},
		// a relay's second sign is a use that counts on its own: reading
		// the relayed response is not one
		{"relay reading its response", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nvar r = WebRequest.Create(c.Request.QueryString[\"u\"]);\nvar sr = new StreamReader(r.GetResponse().GetResponseStream());\nc.Response.Write(sr.ReadToEnd()); } }", "", ""},
		{"relay and a file manager", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nvar r = WebRequest.Create(c.Request.QueryString[\"u\"]);\nFile.WriteAllText(c.Request[\"p\"], c.Request[\"b\"]); } }", "aspx-request-relay", "line 3: request input (Request.QueryString) reaches WebRequest.Create"},
		// a piece of input checked against a literal validates it
		{"relay validating its url", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring u = c.Request[\"img\"];\nif (u.Substring(0, 7) != \"http://\") return;\nnew WebClient().DownloadFile(u, c.Server.MapPath(\"~/img/\") + Guid.NewGuid() + \".jpg\");\nvar r = WebRequest.Create(u); } }", "", ""},
		{"relay behind a whole compare", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring u = c.Request[\"img\"];\nif (c.Request[\"t\"] != \"k8go\") return;\nvar r = WebRequest.Create(u); } }", "aspx-request-relay", "line 4: acts only when request input matches a fixed string"},
		// String.Format builds a path from its pieces
		{"format path with the page's name", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring id = c.Request.Form[\"userid\"];\nstring f = c.Server.MapPath(string.Format(\"~/upload/users/{0}/{1}\", id, \"logo.png\"));\nc.Request.Files[0].SaveAs(f); } }", "", ""},
		{"format path named by input", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring f = String.Format(@\"{0}\\{1}\", c.Server.MapPath(\"~/notes\"), c.Request[\"name\"]);\nFile.WriteAllText(f, c.Request.Form[\"text\"]); } }", "aspx-file-manager", "line 4: request input (f (from Request[...])) reaches File.WriteAllText"},
		{"format path deleted by name", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring f = String.Format(@\"{0}\\{1}\", FilesPath, c.Request[\"file\"]);\nFile.Delete(f); } }", "", ""},
		// the site's root with a subfolder the page names is a folder it chose
		{"upload to a dated subfolder", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nif (c.Request[\"method\"] == \"upload\") {\nstring dir = c.Server.MapPath(\"~\") + \"/upload_file/\" + DateTime.Now.ToString(\"yyyyMM\") + \"/\";\nc.Request.Files[0].SaveAs(dir + Guid.NewGuid() + Path.GetExtension(c.Request.Files[0].FileName)); } } }", "", ""},
		{"upload beside itself behind a password", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nif (c.Request[\"k\"] == \"x0x0\") {\nstring dir = c.Server.MapPath(\"~\") + \"/\";\nc.Request.Files[0].SaveAs(dir + Path.GetFileName(c.Request.Files[0].FileName)); } } }", "aspx-file-manager", "is put by SaveAs in the folder the page runs from or the site's root"},
		// an upload kept under the name the client posts with it
		{"chunk saved under its posted name", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring tmp = ConfigurationManager.AppSettings[\"ChunkDir\"];\nstring name = c.Request[\"name\"];\nc.Request.Files[0].SaveAs(tmp + c.Request[\"chunk\"] + \"_\" + name); } }", "", ""},
		{"upload saved beside itself under a posted name", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nc.Request.Files[0].SaveAs(c.Server.MapPath(\".\") + \"\\\\\" + c.Request[\"name\"]); } }", "aspx-file-manager", "reaches SaveAs"},
		{"upload to a folder and name both posted", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring dir = c.Server.MapPath(c.Request[\"folder\"]);\nc.Request.Files[0].SaveAs(dir + c.Request.Headers[\"X-File-Name\"]); } }", "aspx-file-manager", "reaches SaveAs"},
		// a query clause the page writes apart is still its own text
		{"where clause built apart", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring q = \"Select Name From Users \";\nstring w = \"Where Name='\" + c.Request.Form[\"u\"] + \"' and Pass='\" + c.Request.Form[\"p\"] + \"'\";\nq += w;\nvar cmd = new SqlCommand(); cmd.CommandText = q; } }", "", ""},
		{"query text posted whole", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring q = c.Request.Form[\"q\"];\nvar cmd = new SqlCommand(); cmd.CommandText = q; } }", "aspx-sql-console", "reaches CommandText"},
		// cond ? x : y leads where x or y does
		{"conditional path from input", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring p = c.Request[\"p\"] != null ? c.Request[\"p\"] : \"default.txt\";\nFile.WriteAllText(p, c.Request.Form[\"text\"]); } }", "aspx-file-manager", "reaches File.WriteAllText"},
		{"conditional path named by input", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) {\nstring n = c.Request[\"f\"];\nstring p = n == null ? null : String.Format(@\"{0}\\{1}\", Root, n);\nFile.Delete(p); } }", "", ""},
		// an entry of the page's own list picked by input is its own value
		{"own list entry", ".asp", "<%\nresourceType = Request.QueryString(\"Type\")\nSet up = New Uploader\nup.Allowed = AllowedExtensions.Item(resourceType)\nsPath = Server.MapPath(UserFilesPath) & up.File(\"NewFile\").Name\nup.SaveAs \"NewFile\", sPath\n%>", "", ""},
		{"request item", ".asp", "<%\nsPath = Request.Item(\"to\")\nSet fso = Server.CreateObject(\"Scripting.FileSystemObject\")\nSet f = fso.CreateTextFile(sPath)\nf.Write Request.Item(\"body\")\n%>", "aspx-file-manager", "reaches CreateTextFile"},
		{"handler has no controls", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { Process.Start(\"worker.exe\", Settings.Value); } }", "", ""},
		// an upload kept under the client's name beside the page, behind a password
		{"gated dropper beside itself", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nconst string Key = \"k7Qz\";\nvoid Page_Load() {\n if (Request.Form[\"k\"] != Key) { Response.StatusCode = 404; return; }\n HttpPostedFile up = Request.Files[0];\n string dir = new FileInfo(Request.PhysicalPath).DirectoryName;\n using (var fs = new FileStream(Path.Combine(dir, Path.GetFileName(up.FileName)), FileMode.Create)) { up.InputStream.CopyTo(fs); }\n}\n</script>", "aspx-file-manager", "line 8: a file named by the client (up (from Request.Files)) is put by FileStream in the folder the page runs from or the site's root"},
		{"gated dropper in site root", ".aspx", "<%@ Page Language=\"VB\"%>\n<script runat=\"server\">\nSub Page_Load()\n If Request(\"p\") = \"letmein\" Then\n  Dim f As HttpPostedFile = Request.Files(0)\n  f.SaveAs(Server.MapPath(\"~/\") & System.IO.Path.GetFileName(f.FileName))\n End If\nEnd Sub\n</script>", "aspx-file-manager", "is put by SaveAs in the folder the page runs from"},
		{"ungated uploader beside itself", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() {\n HttpPostedFile up = Request.Files[0];\n up.SaveAs(Server.MapPath(\".\") + \"/\" + Path.GetFileName(up.FileName));\n}\n</script>", "", ""},
		{"gated uploader into its folder", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() {\n if (Request.Form[\"k\"] != \"k7Qz\") return;\n HttpPostedFile up = Request.Files[0];\n up.SaveAs(Server.MapPath(\"~/uploads/\") + Path.GetFileName(up.FileName));\n}\n</script>", "", ""},
		{"gated reader beside itself", ".aspx", "<%@ Page Language=\"C#\"%>\n<script runat=\"server\">\nvoid Page_Load() {\n if (Request.Form[\"k\"] != \"k7Qz\") return;\n string dir = new FileInfo(Request.PhysicalPath).DirectoryName;\n using (var fs = new FileStream(Path.Combine(dir, Path.GetFileName(Request[\"f\"])), FileMode.Open)) { fs.CopyTo(Response.OutputStream); }\n}\n</script>", "", ""},
		{"typeof is not input", ".ashx", "<%@ WebHandler Language=\"C#\" Class=\"H\" %>\nclass H { void P(HttpContext c) { Node n = Find(c.Request[\"n\"]); var asm = typeof(Node).Assembly; File.WriteAllBytes(Path.Combine(\"img\", asm.GetName().Name), data); } }", "", ""},
	}
	for _, c := range cases {
		src := []byte(c.src)
		if c.name == "utf-16 page" {
			src = utf16LE(`<%@ Page Language="Jscript"%><%eval(Request.Item["z"],"unsafe");%>`)
		}
		ds := r.Analyze(Parse(src, c.ext))
		if c.rule == "" {
			if len(ds) > 0 {
				t.Errorf("%s: fired %s %v", c.name, ds[0].Rule, ds[0].Reasons)
			}
			continue
		}
		var got *Detection
		for i := range ds {
			if ds[i].Rule == c.rule {
				got = &ds[i]
			}
		}
		if got == nil {
			t.Errorf("%s: %s did not fire (got %v)", c.name, c.rule, ds)
			continue
		}
		found := false
		for _, rs := range got.Reasons {
			if strings.Contains(rs.String(), c.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no reason %q in %v", c.name, c.reason, got.Reasons)
		}
	}
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, c := range s {
		out = append(out, byte(c), 0)
	}
	return out
}

func TestLoadRulesErrors(t *testing.T) {
	for _, bad := range []string{
		"sinks: [{name: X, kind: call, category: exec}]\nsql_text: 'x'\nblob_min: 64\n", // no detections
		"nope: 1\n",
		"sql_text: '('\n",
	} {
		if _, err := LoadRules("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("%q loaded", bad)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	r := loadTestRules(f)
	for _, dir := range []string{"shells", "benign"} {
		for _, p := range corpus(f, dir) {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, filepath.Ext(p))
		}
	}
	f.Add([]byte("<%@ WebHandler Language=\"VB\" %>\nSub X(_\n"), ".ashx")
	f.Add([]byte("<script runat=server>{{{{}}}}]]]))((</script><% \"\\u12"), ".aspx")
	f.Add([]byte(strings.Repeat("İ", 9)+"<% x"), ".aspx")
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		for _, d := range r.Analyze(Parse(data, ext)) {
			if d.Rule == "" || len(d.Reasons) == 0 {
				t.Fatalf("detection without rule or reasons: %+v", d)
			}
		}
	})
}

// TestParseNonASCII: text whose lower case is longer than itself (a
// crasher found in a hunt over a real tree) parses without panicking.
func TestParseNonASCII(t *testing.T) {
	r := loadTestRules(t)
	for _, src := range []string{
		strings.Repeat("İ", 40) + `<% eval(Request["x"]) `,
		"<%@ Page Language=\"JScript\" %>" + strings.Repeat("ẞİ", 30) + `<% eval(Request.Item["x"], "unsafe"); %>` + "<script runat=server>İ",
		"\xff\xfe<\x00%\x00",
	} {
		ds := r.Analyze(Parse([]byte(src), ".aspx"))
		if strings.Contains(src, "unsafe") && len(ds) == 0 {
			t.Errorf("%q: shell after non-ASCII text not found", src)
		}
	}
}

// A literal in the statement an if guards is not the condition's: the
// page is not password-gated.
func TestGateIsTheCondition(t *testing.T) {
	r := loadTestRules(t)
	for _, c := range []struct {
		src, ext string
		gate     bool
	}{
		{"<%@ Page Language=\"C#\"%>\n<% if (Request.Form[\"c\"] != null) Session[\"cmd\"] = Request.Form[\"c\"];\nProcess.Start(\"cmd.exe\", (string)Session[\"cmd\"]); %>", ".aspx", false},
		{"<%@ Page Language=\"C#\"%>\n<% if (Request.Form[\"k\"] == \"s3cret\") Session[\"cmd\"] = Request.Form[\"c\"];\nProcess.Start(\"cmd.exe\", (string)Session[\"cmd\"]); %>", ".aspx", true},
		{"<%\nIf Request(\"c\") <> \"\" Then Session(\"c\") = Request(\"c\")\nExecute Session(\"c\")\n%>", ".asp", false},
	} {
		ds := r.Analyze(Parse([]byte(c.src), c.ext))
		if len(ds) == 0 {
			t.Fatalf("%q: nothing fired", c.src)
		}
		gate := false
		for _, rs := range ds[0].Reasons {
			gate = gate || strings.Contains(rs.Text, "matches a fixed string")
		}
		if gate != c.gate {
			t.Errorf("%q: gate %v, want %v (%v)", c.src, gate, c.gate, ds[0].Reasons)
		}
	}
}
