<%@ WebHandler Language="VB" Class="FeedRelay" %>

Imports System
Imports System.IO
Imports System.Net
Imports System.Web

' Lets the news ticker read partner RSS feeds from the browser without
' running into cross-domain rules.
Public Class FeedRelay : Implements IHttpHandler

    Public Sub ProcessRequest(ByVal context As HttpContext) Implements IHttpHandler.ProcessRequest
        Dim feedUrl As String = context.Request.QueryString("feed")
        Dim req As HttpWebRequest = WebRequest.Create(feedUrl)
        req.Timeout = 8000
        Using resp As WebResponse = req.GetResponse()
            Dim reader As New StreamReader(resp.GetResponseStream())
            context.Response.ContentType = "application/rss+xml"
            context.Response.Write(reader.ReadToEnd())
        End Using
    End Sub

    Public ReadOnly Property IsReusable() As Boolean Implements IHttpHandler.IsReusable
        Get
            Return True
        End Get
    End Property

End Class
