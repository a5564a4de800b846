<%@ WebHandler Language="C#" Class="Thumb" %>
using System;
using System.Drawing;
using System.Drawing.Imaging;
using System.IO;
using System.Web;

public class Thumb : IHttpHandler
{
    public void ProcessRequest(HttpContext context)
    {
        int w = Math.Min(800, int.Parse(context.Request.QueryString["w"] ?? "120"));
        string img = Path.GetFileName(context.Request.QueryString["img"]);
        string src = context.Server.MapPath("~/images/" + img);
        using (var bmp = new Bitmap(src))
        using (var th = new Bitmap(bmp, w, bmp.Height * w / bmp.Width))
        using (var ms = new MemoryStream())
        {
            th.Save(ms, ImageFormat.Jpeg);
            context.Response.ContentType = "image/jpeg";
            context.Response.BinaryWrite(ms.ToArray());
        }
    }
    public bool IsReusable { get { return true; } }
}
