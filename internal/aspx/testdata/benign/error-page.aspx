<%@ Page Language="C#" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e)
{
    Exception ex = Server.GetLastError();
    string id = Guid.NewGuid().ToString("N").Substring(0, 8);
    System.Diagnostics.Trace.TraceError("error " + id + " at " + Request.RawUrl + ": " + ex);
    incident.Text = id;
    Response.StatusCode = 500;
}
</script>
<h1>Something went wrong</h1><p>Incident <asp:Literal ID="incident" runat="server" /></p>
