<%@ WebHandler Language="C#" Class="UploadHandler" %>
using System;
using System.IO;
using System.Web;

public class UploadHandler : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        if (context.Request.Files.Count == 0) { context.Response.Write("{\"ok\":false}"); return; }
        HttpPostedFile file = context.Request.Files[0];
        string dir = context.Server.MapPath("~/media/" + DateTime.UtcNow.ToString("yyyy/MM"));
        Directory.CreateDirectory(dir);
        string saved = Guid.NewGuid().ToString("N") + Path.GetExtension(file.FileName);
        file.SaveAs(Path.Combine(dir, saved));
        context.Response.Write("{\"ok\":true,\"url\":\"/media/" + saved + "\"}");
    }

    public bool IsReusable { get { return true; } }
}
