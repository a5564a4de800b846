<%@ WebHandler Language="C#" Class="Attachments" %>

using System;
using System.IO;
using System.Web;

// Attachment endpoint of the help-desk form: method=upload stores the file
// under a new name in this month's folder and answers with its address.
public class Attachments : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        context.Response.ContentType = "text/plain";
        string method = context.Request.Params["method"];
        if (method == "upload")
        {
            Save(context);
            return;
        }
        context.Response.Write("0|unknown method");
    }

    void Save(HttpContext context)
    {
        HttpPostedFile posted = context.Request.Files[0];
        string ext = Path.GetExtension(posted.FileName).ToLower();
        if (ext == ".aspx" || ext == ".ashx" || ext == ".asp" || ext == ".config")
        {
            context.Response.Write("0|type not allowed");
            return;
        }
        string month = "/attachments/" + DateTime.Now.ToString("yyyy") + "/" + DateTime.Now.ToString("MM") + "/";
        string folder = context.Server.MapPath("~") + month;
        Directory.CreateDirectory(folder);
        string name = Guid.NewGuid().ToString() + ext;
        posted.SaveAs(folder + name);
        context.Response.Write("1|" + month + name + "|" + Path.GetFileName(posted.FileName));
    }

    public bool IsReusable { get { return false; } }
}
