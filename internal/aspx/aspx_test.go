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
