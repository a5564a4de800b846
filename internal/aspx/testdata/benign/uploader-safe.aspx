<%@ Page Language="C#" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
static readonly string[] Allowed = { ".jpg", ".png", ".gif", ".pdf" };
protected void Upload_Click(object sender, EventArgs e)
{
    if (!Upload.HasFile) return;
    string name = Path.GetFileName(Upload.FileName);
    string ext = Path.GetExtension(name).ToLowerInvariant();
    if (Array.IndexOf(Allowed, ext) < 0) { status.Text = "type not allowed"; return; }
    string folder = Server.MapPath("~/App_Data/uploads/" + User.Identity.Name);
    Directory.CreateDirectory(folder);
    Upload.SaveAs(Path.Combine(folder, Guid.NewGuid().ToString("N") + ext));
    status.Text = "Uploaded " + Server.HtmlEncode(name);
}
</script>
<form runat="server">
<asp:FileUpload ID="Upload" runat="server" />
<asp:Button runat="server" Text="Upload" OnClick="Upload_Click" />
<asp:Label ID="status" runat="server" />
</form>
