<%@ WebHandler Language="C#" Class="AvatarUpload" %>

using System;
using System.IO;
using System.Web;

// Stores the picture a member picks as their avatar; every member has one
// folder and one avatar file in it.
public class AvatarUpload : IHttpHandler
{
    const int MaxBytes = 512 * 1024;

    public void ProcessRequest(HttpContext context)
    {
        context.Response.ContentType = "text/plain";
        string memberId = context.Request.Form["memberId"];
        if (context.Request.Files.Count == 0 || string.IsNullOrEmpty(memberId))
        {
            context.Response.Write("no file");
            return;
        }
        HttpPostedFile file = context.Request.Files[0];
        if (file.ContentLength > MaxBytes)
        {
            context.Response.Write("too large");
            return;
        }
        string folder = context.Server.MapPath(string.Format("~/members/{0}", memberId));
        string target = context.Server.MapPath(string.Format("~/members/{0}/{1}", memberId, "avatar.png"));
        Directory.CreateDirectory(folder);
        file.SaveAs(target);
        context.Response.Write("OK");
    }

    public bool IsReusable { get { return false; } }
}
