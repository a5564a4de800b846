<%@ WebHandler Language="C#" Class="FeedProxy" %>
using System;
using System.Net;
using System.Web;

// Fetches partner RSS feeds for the portal's news widget (browsers cannot
// read them cross-origin).
public class FeedProxy : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        string url = context.Request.QueryString["url"];
        if (!url.StartsWith("https://partners.contoso.com/")) { context.Response.StatusCode = 400; return; }
        var req = (HttpWebRequest)WebRequest.Create(url);
        req.Timeout = 5000;
        using (var resp = req.GetResponse())
        {
            context.Response.ContentType = "application/rss+xml";
            resp.GetResponseStream().CopyTo(context.Response.OutputStream);
        }
    }
    public bool IsReusable { get { return true; } }
}
