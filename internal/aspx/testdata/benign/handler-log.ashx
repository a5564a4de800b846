<%@ WebHandler Language="C#" Class="ClientLog" %>
using System;
using System.IO;
using System.Web;

// Collects JavaScript errors from the browser into App_Data.
public class ClientLog : IHttpHandler
{
    static readonly object Gate = new object();
    public void ProcessRequest(HttpContext context)
    {
        string msg = context.Request.Form["msg"] ?? "";
        string url = context.Request.Form["url"] ?? "";
        if (msg.Length > 2000) msg = msg.Substring(0, 2000);
        lock (Gate)
        {
            File.AppendAllText(context.Server.MapPath("~/App_Data/clientlog.txt"),
                DateTime.UtcNow.ToString("o") + "\t" + url + "\t" + msg + Environment.NewLine);
        }
        context.Response.StatusCode = 204;
    }
    public bool IsReusable { get { return true; } }
}
