<%@ WebHandler Language="C#" Class="MediaBrowser" %>
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Web;

// Lists the media library for the editor's image picker.
public class MediaBrowser : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        string root = context.Server.MapPath("~/media/");
        string sub = context.Request.QueryString["path"] ?? "";
        if (sub.Contains("..")) { context.Response.StatusCode = 400; return; }
        string current = root + sub;
        var sb = new StringBuilder("[");
        foreach (string d in Directory.GetDirectories(current))
            sb.AppendFormat("{{\"dir\":\"{0}\"}},", HttpUtility.JavaScriptStringEncode(Path.GetFileName(d)));
        foreach (string f in Directory.GetFiles(current))
        {
            var info = new FileInfo(f);
            sb.AppendFormat("{{\"file\":\"{0}\",\"size\":{1}}},", HttpUtility.JavaScriptStringEncode(info.Name), info.Length);
        }
        context.Response.ContentType = "application/json";
        context.Response.Write(sb.ToString().TrimEnd(',') + "]");
    }

    public bool IsReusable { get { return true; } }
}
