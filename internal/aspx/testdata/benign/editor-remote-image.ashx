<%@ WebHandler Language="C#" Class="RemoteImage" %>
// Copies pictures pasted into the article editor from other sites into
// the site's own upload folder, so articles do not hot-link them.
using System;
using System.IO;
using System.Net;
using System.Text;
using System.Web;

public class RemoteImage : IHttpHandler
{
    static readonly string[] Allowed = { ".gif", ".png", ".jpg", ".jpeg" };

    public void ProcessRequest(HttpContext context)
    {
        string folder = context.Server.MapPath("~/upload/remote/");
        var saved = new StringBuilder();
        using (var wc = new WebClient())
        {
            foreach (string url in context.Request.Form["urls"].Split('|'))
            {
                if (url.Length < 8 || url.Substring(0, 7) != "http://" && url.Substring(0, 8) != "https://")
                    continue;
                string ext = Path.GetExtension(url).ToLowerInvariant();
                if (Array.IndexOf(Allowed, ext) < 0)
                    continue;
                var head = (HttpWebResponse)WebRequest.Create(url).GetResponse();
                if (head.ContentType.IndexOf("image", StringComparison.OrdinalIgnoreCase) < 0)
                    continue;
                head.Close();
                string name = DateTime.Now.ToString("yyyyMMdd") + "_" + Guid.NewGuid().ToString("N") + ext;
                Directory.CreateDirectory(folder);
                wc.DownloadFile(url, folder + name);
                saved.Append("/upload/remote/").Append(name).Append('|');
            }
        }
        context.Response.ContentType = "text/plain";
        context.Response.Write(saved.ToString().TrimEnd('|'));
    }

    public bool IsReusable { get { return false; } }
}
