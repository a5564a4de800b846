<%@ WebHandler Language="C#" Class="Logo" %>
using System;
using System.Web;

public class Logo : IHttpHandler
{
    const string Png = "iVBORw0KGgoAAAANSUhEUgAAADAAAAAwCAYAAABXAvmHAAAABHNCSVQICAgIfAhkiAAAAAlwSFlzAAALEwAACxMBAJqcGAAAAhpJREFUaIHtmT9oFEEUxn8ziRgPjRCQpGLhBQtbsdnGJp0gNhJYqQQrbdQm2lhYCIKFWIn/ELSwEEsLBRUKKzUK/4CIhRZBEVFQjBcl5iLZmdhdc3fJ7t3u3q74wfLdznvfm3nM7Mzs7YJ8r8XfhnwAHAXWA5uBjcAqYBmwBJgHZoEfwBTwGfgEvAfeAi+Al8Al4BxwBDgMvC74aX1gDrgMXAA7AFeA3eAf+Dn8BrBd+GVGHgJOAHcBZY6oZPsAB6AR4GbwD3gA+AYcBw4CVwAvwGngC/A/cA+9bP2gAtA+2B34CZ4A7gWOBw4BZ4FbgWOAK8Ah4ADwGDgSOAG4HzgSuAF4GzgV+Ac+BdwDHgNOAa+A54EHgP+AjcB9wEnAb+h6/BfYDzgCLYXcGGpSQh7N2P6c3mB9ZCXqgKsAYoC4QDkAOmAImAOkAxIB6QAHgCnAE2gK+ANaAP+gRaAJ8Bt4EHAZ8AZ8AZ4BzgGvgGfAOcAR4AqwN3gMnAP+AW+g62H/AbXAYuAa/A/sAB4BrwEvgT2g71nfwFqgc+AXfAH8DdQA/4CjQCBYQDPAQXAj4DHgL1gJ+AScAx4DxwFXgaOB14DHgcOAs8DDwKHAJOA+8AG4ELhXw0FQT5YFzgD/gF3gG3gGPgHbAb+D/wD/gM9gPfA+8DZQBBaDXWgJ8A54CHwKPAeuB3wEjgTfAY8BK4DZ4D7wMXAbeA54CHgOPAlcD9wBPAN8A/4C1oBWwD0wF/AHeB94ANwEHgPnAv8AP9vvbLgPvAF8DrwFHgNfA3cAx4CXwP/An8AO4BDYCD4C1gA3AH8BQ4F7gO+AvcAHwFrgF/AfsAQ4AvwE7gLeAR8CdwD3wG3gSvAbuQ+ZwHLGgW2AB8C1wFLgNnAI+A58D/wHrAd+AvcBH4Cv4Elgf+gH3AQsA+4DzwCbgL3AT+gj8AxYDVgF3AYeAu8Az4BVwH3gbeBv4B5wD7gPOA48Az4HVgPuQ+aoWb5gAAAABJRU5ErkJggg==";
    public void ProcessRequest(HttpContext context)
    {
        context.Response.ContentType = "image/png";
        context.Response.Cache.SetMaxAge(TimeSpan.FromDays(7));
        context.Response.BinaryWrite(Convert.FromBase64String(Png));
    }
    public bool IsReusable { get { return true; } }
}
