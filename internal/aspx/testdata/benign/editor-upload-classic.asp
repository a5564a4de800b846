<%@ Language="VBScript" CodePage=65001 %>
<%
Option Explicit
' Upload endpoint of the page editor's image and file dialogs. The kind of
' file (Image, File, Flash) picks the extensions allowed and the folder.
%>
<!--#include file="editor_config.asp"-->
<!--#include file="upload_class.asp"-->
<%
Function Reply(code, url, name)
	Response.Write "<script type=""text/javascript"">window.parent.OnUploadCompleted(" & code & ",""" & url & """,""" & name & """);</script>"
	Response.End
End Function

If Not EditorUploadsEnabled Then Reply 1, "", ""

Dim kind
kind = Request.QueryString("Type")
If kind = "" Then kind = "File"

Dim up
Set up = New Editor_Upload
up.MaxSize = 0
up.Allowed = AllowedExtensions.Item(kind)
up.Denied = DeniedExtensions.Item(kind)
up.GetData

If up.ErrNum > 1 Then Reply 202, "", ""

Dim folder, name
folder = Server.MapPath(UserFilesPath)
If Right(folder, 1) <> "\" Then folder = folder & "\"
name = up.File("NewFile").Name
up.SaveAs "NewFile", folder & name
If up.ErrNum > 0 Then Reply 202, "", ""

Reply 0, UserFilesPath & name, name
Set up = Nothing
%>
