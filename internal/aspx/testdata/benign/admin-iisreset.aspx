<%@ Page Language="C#" %>
<%@ Import Namespace="System.Diagnostics" %>
<script runat="server">
// Restarts the application pool's site from the admin console. Only
// members of the Web Admins group reach this page (web.config).
protected void Restart_Click(object sender, EventArgs e)
{
    if (!User.IsInRole("WebAdmins")) { Response.StatusCode = 403; return; }
    var psi = new ProcessStartInfo(@"C:\Windows\System32\iisreset.exe", "/noforce");
    psi.UseShellExecute = false;
    psi.RedirectStandardOutput = true;
    using (var p = Process.Start(psi))
    {
        output.Text = Server.HtmlEncode(p.StandardOutput.ReadToEnd());
    }
    Trace.Write("iisreset requested by " + User.Identity.Name + " comment: " + comment.Text);
}
</script>
<form runat="server">
<asp:TextBox ID="comment" runat="server" />
<asp:Button runat="server" Text="Restart IIS" OnClick="Restart_Click" />
<pre><asp:Literal ID="output" runat="server" /></pre>
</form>
