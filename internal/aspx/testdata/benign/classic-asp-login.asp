<%
Dim user, pass
user = Request.Form("user")
pass = Request.Form("pass")
If user = "admin" And pass = Application("AdminPass") Then
    Session("auth") = True
    Response.Redirect "admin.asp"
ElseIf Request.Form("user") <> "" Then
    Response.Write "<p class=err>Login failed</p>"
End If
%>
<form method="post">User <input name="user"> Password <input type="password" name="pass"> <input type="submit"></form>
