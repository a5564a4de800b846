<%@ Page Language="C#" Trace="false" %>
<%@ Import Namespace="System.Reflection" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e)
{
    rows.Text = "";
    foreach (string k in Request.ServerVariables)
    {
        rows.Text += "<tr><td>" + Server.HtmlEncode(k) + "</td><td>" + Server.HtmlEncode(Request.ServerVariables[k]) + "</td></tr>";
    }
    version.Text = Environment.Version.ToString() + " on " + Environment.OSVersion + ", " + Environment.ProcessorCount + " CPUs";
    asm.Text = Assembly.GetExecutingAssembly().FullName;
    if (Request.QueryString["gc"] == "1") { GC.Collect(); }
}
</script>
<html><body><h2>Diagnostics</h2>
<p><asp:Literal ID="version" runat="server" /></p>
<p><asp:Literal ID="asm" runat="server" /></p>
<table><asp:Literal ID="rows" runat="server" /></table>
</body></html>
