<%@ Page Language="VB" %>
<script runat="server">
Protected Sub btnUpload_Click(sender As Object, e As EventArgs)
    If FileUpload1.HasFile Then
        Dim fileName As String = System.IO.Path.GetFileName(FileUpload1.PostedFile.FileName)
        FileUpload1.PostedFile.SaveAs(Server.MapPath("~/Uploads/") + fileName)
        lblMessage.Text = "File uploaded successfully."
    End If
End Sub
</script>
<form id="form1" runat="server">
<asp:FileUpload ID="FileUpload1" runat="server" />
<asp:Button ID="btnUpload" Text="Upload" runat="server" OnClick="btnUpload_Click" />
<asp:Label ID="lblMessage" runat="server" />
</form>
