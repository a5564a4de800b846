<%@ WebHandler Language="C#" Class="ChunkUpload" %>

using System;
using System.Configuration;
using System.IO;
using System.Web;
using System.Web.SessionState;

// Receives plupload's chunks into the configured staging folder and joins
// them once the last one has arrived; the document service picks the
// joined file up from there.
public class ChunkUpload : IHttpHandler, IRequiresSessionState
{
    public void ProcessRequest(HttpContext context)
    {
        if (context.Session["UserId"] == null)
        {
            context.Response.StatusCode = 401;
            return;
        }
        int chunk = Convert.ToInt32(context.Request["chunk"]);
        int chunks = Convert.ToInt32(context.Request["chunks"]);
        string staging = ConfigurationManager.AppSettings["UploadStaging"];
        string name = context.Request["name"];
        Directory.CreateDirectory(staging);

        HttpPostedFile part = context.Request.Files["file"];
        part.SaveAs(staging + chunk + "_" + name);

        if (chunks == 0 || chunk == chunks - 1)
        {
            string joined = staging + Guid.NewGuid().ToString("N") + ".upload";
            using (var output = new FileStream(joined, FileMode.Create, FileAccess.Write))
            {
                for (int i = 0; i < Math.Max(chunks, 1); i++)
                {
                    string piece = staging + i + "_" + name;
                    byte[] bytes = File.ReadAllBytes(piece);
                    output.Write(bytes, 0, bytes.Length);
                    File.Delete(piece);
                }
            }
        }
        context.Response.ContentType = "application/json";
        context.Response.Write("{\"jsonrpc\":\"2.0\",\"result\":null}");
    }

    public bool IsReusable { get { return false; } }
}
