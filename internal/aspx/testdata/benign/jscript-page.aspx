<%@ Page Language="JScript" %>
<script runat="server">
function Page_Load(sender : Object, e : EventArgs) {
    var name : String = Request.QueryString["name"];
    if (name == null) name = "world";
    greeting.Text = "Hello, " + Server.HtmlEncode(name) + "!";
    var parts = ["Mon", "Tue", "Wed"].reverse();
    days.Text = parts.join(", ");
}
</script>
<form runat="server"><asp:Label ID="greeting" runat="server" /><asp:Label ID="days" runat="server" /></form>
