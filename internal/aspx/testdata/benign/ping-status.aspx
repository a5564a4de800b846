<%@ Page Language="C#" %>
<%@ Import Namespace="System.Net.NetworkInformation" %>
<script runat="server">
// Shows whether the back-end servers answer ping (fixed list).
static readonly string[] Hosts = { "db01.contoso.local", "app02.contoso.local", "mail.contoso.local" };
protected void Page_Load(object sender, EventArgs e)
{
    var ping = new Ping();
    foreach (var h in Hosts)
    {
        PingReply r = ping.Send(h, 1000);
        status.Text += h + ": " + r.Status + " " + r.RoundtripTime + " ms<br/>";
    }
}
</script>
<asp:Literal ID="status" runat="server" />
