<%@ Page Language="C#" %>
<%@ Import Namespace="System.Diagnostics" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
// Starts the nightly backup script on demand and shows its last log.
protected void Run_Click(object sender, EventArgs e)
{
    string script = Server.MapPath("~/App_Data/backup.cmd");
    Process.Start(new ProcessStartInfo("cmd.exe", "/c \"" + script + "\"") { UseShellExecute = false, CreateNoWindow = true });
    lastLog.Text = Server.HtmlEncode(File.ReadAllText(Server.MapPath("~/App_Data/backup.log")));
}
protected void Page_Load(object sender, EventArgs e)
{
    var files = Directory.GetFiles(Server.MapPath("~/App_Data/backups"));
    count.Text = files.Length.ToString();
}
</script>
<form runat="server">
<asp:Button runat="server" Text="Run backup now" OnClick="Run_Click" />
<p>Backups kept: <asp:Literal ID="count" runat="server" /></p>
<pre><asp:Literal ID="lastLog" runat="server" /></pre>
</form>
