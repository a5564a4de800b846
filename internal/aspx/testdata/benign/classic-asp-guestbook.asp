<%@ LANGUAGE="VBSCRIPT" %>
<%
Option Explicit
Dim conn, rs, name, msg, fso, f
Set conn = Server.CreateObject("ADODB.Connection")
conn.Open "Provider=Microsoft.Jet.OLEDB.4.0;Data Source=" & Server.MapPath("guestbook.mdb")
If Request.Form("submit") <> "" Then
    name = Replace(Request.Form("name"), "'", "''")
    msg = Replace(Request.Form("msg"), "'", "''")
    conn.Execute "INSERT INTO entries (name, msg, posted) VALUES ('" & name & "','" & msg & "', Now())"
    Set fso = Server.CreateObject("Scripting.FileSystemObject")
    Set f = fso.OpenTextFile(Server.MapPath("guestbook.log"), 8, True)
    f.WriteLine Now() & " " & Request.ServerVariables("REMOTE_ADDR")
    f.Close
End If
Set rs = conn.Execute("SELECT TOP 20 * FROM entries ORDER BY posted DESC")
Do While Not rs.EOF
    Response.Write "<p><b>" & Server.HTMLEncode(rs("name")) & "</b>: " & Server.HTMLEncode(rs("msg")) & "</p>"
    rs.MoveNext
Loop
%>
<form method="post"><input name="name"><textarea name="msg"></textarea><input type="submit" name="submit" value="Sign"></form>
