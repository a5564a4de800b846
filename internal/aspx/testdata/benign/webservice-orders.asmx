<%@ WebService Language="C#" Class="Orders" %>
using System;
using System.Data.SqlClient;
using System.Web.Services;
using System.Configuration;

[WebService(Namespace = "http://contoso.com/orders")]
public class Orders : WebService
{
    [WebMethod]
    public int Count(string customerId)
    {
        using (var conn = new SqlConnection(ConfigurationManager.ConnectionStrings["db"].ConnectionString))
        using (var cmd = new SqlCommand("SELECT COUNT(*) FROM Orders WHERE CustomerId = @c", conn))
        {
            cmd.Parameters.AddWithValue("@c", customerId);
            conn.Open();
            return (int)cmd.ExecuteScalar();
        }
    }

    [WebMethod]
    public string Echo(string text) { return text; }
}
