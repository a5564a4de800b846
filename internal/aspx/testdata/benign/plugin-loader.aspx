<%@ Page Language="C#" %>
<%@ Import Namespace="System.Reflection" %>
<script runat="server">
// Lists the widgets installed in ~/bin/widgets; the admin picks one to
// preview. Only assemblies from that folder can be loaded.
protected void Page_Load(object sender, EventArgs e)
{
    string dir = Server.MapPath("~/bin/widgets");
    foreach (var path in System.IO.Directory.GetFiles(dir, "*.dll"))
    {
        var asm = Assembly.LoadFrom(path);
        foreach (var t in asm.GetExportedTypes())
        {
            if (typeof(IWidget).IsAssignableFrom(t))
            {
                list.Items.Add(new ListItem(t.Name, t.AssemblyQualifiedName));
            }
        }
    }
    var known = new[] { "Contoso.Widgets.Clock", "Contoso.Widgets.Weather" };
    string pick = list.SelectedValue;
    if (Array.IndexOf(known, pick) >= 0)
    {
        var w = (IWidget)Activator.CreateInstance(Type.GetType(known[Array.IndexOf(known, pick)]));
        preview.Controls.Add(w.Render());
    }
}
</script>
<form runat="server"><asp:DropDownList ID="list" runat="server" AutoPostBack="true" /><asp:PlaceHolder ID="preview" runat="server" /></form>
