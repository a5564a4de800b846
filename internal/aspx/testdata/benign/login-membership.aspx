<%@ Page Language="C#" %>
<script runat="server">
protected void Login_Click(object sender, EventArgs e)
{
    if (Membership.ValidateUser(UserName.Text, Password.Text))
    {
        FormsAuthentication.RedirectFromLoginPage(UserName.Text, Remember.Checked);
    }
    else if (UserName.Text == "guest")
    {
        Error.Text = "The guest account is disabled.";
    }
    else
    {
        Error.Text = "Invalid user name or password.";
    }
}
</script>
<form runat="server">
<asp:TextBox ID="UserName" runat="server" />
<asp:TextBox ID="Password" runat="server" TextMode="Password" />
<asp:CheckBox ID="Remember" runat="server" />
<asp:Button runat="server" Text="Sign in" OnClick="Login_Click" />
<asp:Label ID="Error" runat="server" />
</form>
