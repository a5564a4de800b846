<%@ WebHandler Language="C#" Class="FilesService" %>

using System;
using System.IO;
using System.Web;

// Back end of the jQuery file-upload widget on the documents page: GET
// lists or downloads, POST stores, DELETE removes, all in one folder.
public class FilesService : IHttpHandler
{
    static readonly string FilesPath = @"App_Data\documents";

    public void ProcessRequest(HttpContext context)
    {
        string folder = context.Server.MapPath("~/" + FilesPath);
        Directory.CreateDirectory(folder);
        string requested = context.Request["file"];
        string full = requested == null ? null : String.Format(@"{0}\{1}", folder, requested);

        switch (context.Request.HttpMethod)
        {
            case "GET":
                if (full == null)
                {
                    foreach (string f in Directory.GetFiles(folder))
                        context.Response.Write(Path.GetFileName(f) + "\n");
                    return;
                }
                using (var fs = new FileStream(full, FileMode.Open, FileAccess.Read))
                    fs.CopyTo(context.Response.OutputStream);
                return;
            case "POST":
                HttpPostedFile posted = context.Request.Files[0];
                posted.SaveAs(String.Format(@"{0}\{1:yyyyMMddHHmmss}_{2}", folder, DateTime.Now, Path.GetFileName(posted.FileName)));
                return;
            case "DELETE":
                File.Delete(full);
                return;
        }
        context.Response.StatusCode = 405;
    }

    public bool IsReusable { get { return false; } }
}
