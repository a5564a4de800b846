<%@ Page Language="VB" %>
<%@ Import Namespace="System.IO" %>
<script runat="server">
Private ReadOnly SettingsFile As String = "~/App_Data/settings.json"

Sub Page_Load(sender As Object, e As EventArgs)
    If Not IsPostBack Then
        editor.Text = File.ReadAllText(Server.MapPath(SettingsFile))
    End If
End Sub

Sub Save_Click(sender As Object, e As EventArgs)
    If Not User.IsInRole("Administrators") Then Return
    File.WriteAllText(Server.MapPath(SettingsFile), editor.Text)
    saved.Text = "Saved at " & DateTime.Now.ToString("T")
End Sub
</script>
<form runat="server">
<asp:TextBox ID="editor" runat="server" TextMode="MultiLine" Rows="30" Columns="100" />
<asp:Button runat="server" Text="Save" OnClick="Save_Click" />
<asp:Label ID="saved" runat="server" />
</form>
