<%@ WebHandler Language="C#" Class="ExportCsv" %>
using System;
using System.Data.SqlClient;
using System.Text;
using System.Web;

public class ExportCsv : IHttpHandler
{
    public void ProcessRequest(HttpContext ctx)
    {
        string table = ctx.Request.QueryString["t"] == "customers" ? "Customers" : "Orders";
        var sb = new StringBuilder();
        using (var conn = new SqlConnection(System.Configuration.ConfigurationManager.AppSettings["db"]))
        {
            conn.Open();
            var cmd = new SqlCommand("SELECT * FROM " + table, conn);
            using (var rd = cmd.ExecuteReader())
            {
                while (rd.Read())
                {
                    for (int i = 0; i < rd.FieldCount; i++) sb.Append(rd[i]).Append(i + 1 < rd.FieldCount ? "," : "\r\n");
                }
            }
        }
        ctx.Response.ContentType = "text/csv";
        ctx.Response.Write(sb.ToString());
    }
    public bool IsReusable { get { return true; } }
}
