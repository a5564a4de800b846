<%@ Language=VBScript %>
<!--#include file="inc/db.asp" -->
<script language="jscript" runat="server">
// Old JSON reader: wraps the posted text in parentheses before eval.
function readJson(text) {
    eval("var parsed = (" + text + ");");
    return parsed;
}
</script>
<%
Dim raw, order
raw = Request.Form("order")
If raw <> "" Then
    Set order = readJson(raw)
    Response.Write "Order received for " & Server.HTMLEncode(order.customer)
End If
%>
