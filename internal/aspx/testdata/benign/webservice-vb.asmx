<%@ WebService Language="VB" Class="Weather" %>
Imports System.Web.Services

<WebService(Namespace:="http://contoso.com/weather")> _
Public Class Weather
    Inherits WebService

    <WebMethod()> Public Function Forecast(ByVal city As String) As String
        Dim cache As Object = HttpContext.Current.Cache("wx:" & city)
        If cache IsNot Nothing Then Return CStr(cache)
        Dim result As String = "Sunny in " & city
        HttpContext.Current.Cache.Insert("wx:" & city, result)
        Return result
    End Function
End Class
