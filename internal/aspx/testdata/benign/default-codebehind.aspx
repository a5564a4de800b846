<%@ Page Title="Home Page" Language="C#" MasterPageFile="~/Site.Master" AutoEventWireup="true" CodeBehind="Default.aspx.cs" Inherits="Contoso.Web._Default" %>
<asp:Content ID="BodyContent" ContentPlaceHolderID="MainContent" runat="server">
    <div class="jumbotron">
        <h1>Contoso Intranet</h1>
        <p class="lead">Welcome, <%: Context.User.Identity.Name %>. Today is <%= DateTime.Now.ToLongDateString() %>.</p>
        <asp:TextBox ID="SearchBox" runat="server" CssClass="form-control" />
        <asp:Button ID="SearchButton" runat="server" Text="Search" OnClick="SearchButton_Click" />
    </div>
    <asp:Repeater ID="News" runat="server" ItemType="Contoso.Web.Models.NewsItem">
        <ItemTemplate>
            <h3><%# Item.Title %></h3>
            <p><%# Eval("Summary") %> <a href="<%# Eval("Url") %>">more</a></p>
        </ItemTemplate>
    </asp:Repeater>
</asp:Content>
