<%@ Page Language="C#" %>
<%@ Import Namespace="System.Data" %>
<%@ Import Namespace="System.Data.SqlClient" %>
<%@ Import Namespace="System.Configuration" %>
<script runat="server">
protected void Page_Load(object sender, EventArgs e)
{
    string cs = ConfigurationManager.ConnectionStrings["Shop"].ConnectionString;
    using (var conn = new SqlConnection(cs))
    using (var cmd = new SqlCommand("SELECT Id, Name, Price FROM Products WHERE CategoryId = @cat AND Name LIKE @q", conn))
    {
        cmd.Parameters.AddWithValue("@cat", int.Parse(Request.QueryString["cat"] ?? "1"));
        cmd.Parameters.AddWithValue("@q", "%" + (Request.QueryString["q"] ?? "") + "%");
        var dt = new DataTable();
        new SqlDataAdapter(cmd).Fill(dt);
        grid.DataSource = dt;
        grid.DataBind();
    }
}
</script>
<asp:GridView ID="grid" runat="server" />
