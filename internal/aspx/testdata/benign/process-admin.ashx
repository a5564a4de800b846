<%@ WebHandler Language="C#" Class="QueueStatus" %>
using System.Diagnostics;
using System.Web;

// Reports the mail queue by running a fixed tool; writes only its own commands.
public class QueueStatus : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        var psi = new ProcessStartInfo(@"C:\Tools\queuectl.exe") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using (var p = Process.Start(psi))
        {
            p.StandardInput.WriteLine("status --json");
            p.StandardInput.WriteLine("quit");
            context.Response.ContentType = "application/json";
            context.Response.Write(p.StandardOutput.ReadToEnd());
        }
    }

    public bool IsReusable { get { return true; } }
}
