<%@ WebHandler Language="C#" Class="EditorUpload" %>
using System;
using System.Collections;
using System.IO;
using System.Web;

// The editor's upload endpoint: the kind picks a sub-folder, the name is generated.
public class EditorUpload : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        var allowed = new Hashtable { { "image", ".gif,.jpg,.png" }, { "file", ".pdf,.docx,.zip" } };
        HttpPostedFile up = context.Request.Files["upload"];
        string kind = context.Request.QueryString["kind"] ?? "image";
        if (up == null || !allowed.ContainsKey(kind)) { context.Response.StatusCode = 400; return; }
        string ext = Path.GetExtension(up.FileName).ToLowerInvariant();
        if (((string)allowed[kind]).IndexOf(ext) < 0) { context.Response.StatusCode = 415; return; }
        string dir = context.Server.MapPath("~/attached/");
        dir += kind + "/";
        dir += DateTime.UtcNow.ToString("yyyyMMdd") + "/";
        if (!Directory.Exists(dir)) Directory.CreateDirectory(dir);
        string name = DateTime.UtcNow.ToString("HHmmssfff") + ext;
        up.SaveAs(dir + name);
        context.Response.Write("{\"url\":\"/attached/" + kind + "/" + name + "\"}");
    }

    public bool IsReusable { get { return false; } }
}
