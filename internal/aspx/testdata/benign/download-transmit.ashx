<%@ WebHandler Language="C#" Class="Download" %>
using System.IO;
using System.Web;

public class Download : IHttpHandler
{
    public void ProcessRequest(HttpContext ctx)
    {
        string name = Path.GetFileName(ctx.Request.QueryString["f"] ?? "");
        string full = Path.Combine(ctx.Server.MapPath("~/App_Data/docs"), name);
        if (!File.Exists(full)) { ctx.Response.StatusCode = 404; return; }
        ctx.Response.ContentType = "application/pdf";
        ctx.Response.AddHeader("Content-Disposition", "attachment; filename=" + name);
        ctx.Response.TransmitFile(full);
    }
    public bool IsReusable { get { return true; } }
}
