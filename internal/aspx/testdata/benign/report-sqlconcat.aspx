<%@ Page Language="C#" %>
<%@ Import Namespace="System.Data.SqlClient" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e)
{
    string year = Request.QueryString["year"] ?? DateTime.Now.Year.ToString();
    string sql = "SELECT Month, SUM(Total) FROM Orders WHERE YEAR(OrderDate) = " + year + " GROUP BY Month";
    using (var conn = new SqlConnection(System.Configuration.ConfigurationManager.AppSettings["db"]))
    {
        conn.Open();
        var cmd = new SqlCommand(sql, conn);
        var rd = cmd.ExecuteReader();
        while (rd.Read()) Response.Write(rd[0] + ": " + rd[1] + "<br/>");
    }
}
</script>
