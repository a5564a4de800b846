package logs

import (
	"context"
	"strings"
	"testing"
	"time"
)

// readBack parses text with this package's reader and returns every data
// record's fields by name.
func readBack(t testing.TB, f Format, text string, names []string) []map[string]string {
	t.Helper()
	var out []map[string]string
	s := &Scanner{Format: f, All: true}
	st, err := s.Scan(context.Background(), strings.NewReader(text), func(r *Record) error {
		out = append(out, r.Fields(names))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Gaps) > 0 {
		t.Fatalf("gaps reading back what was written: %v\n%s", st.Gaps, text)
	}
	return out
}

var (
	when = time.Date(2021, 3, 3, 4, 45, 43, 120e6, time.UTC)
	old  = Version{15, 1, 2176, 2}
	cu22 = Version{15, 1, 2375, 7}
)

// Whatever a client sends, a written row reads back as one row with the
// same values (commas become spaces, as Exchange writes them), and the
// field count matches the build's #Fields.
func TestProxyRowRoundTrip(t *testing.T) {
	for _, v := range []Version{old, cu22} {
		var c Clock
		r := &ProxyRow{Time: when, Version: v, Protocol: "Ecp", Host: "mail.contoso.com", Stem: "/ecp/y.js",
			Method: "POST", UserAgent: "Mozilla/5.0 (KHTML, like Gecko) \"x\"\r\nforged,row", ClientIP: "198.51.100.7",
			ServerName: "EXCH01", Status: 241, BackEndStatus: 241, Anchor: "ServerInfo~a]@EXCH01:444/autodiscover/autodiscover.xml?#",
			Query: "a=1,b=2", TotalMS: 37, TargetVer: v.TargetVersion()}
		b := AppendExchangeHeader(nil, &c, v.LogVersion(), LogTypeProxy, when, v.ProxyFieldList())
		b = AppendProxyRow(b, &c, r)
		recs := readBack(t, CSV, string(b), []string{"DateTime", "UserAgent", "AnchorMailbox", "HttpStatus", "UrlQuery", "TargetServerVersion", "RoutingStatus", "GenericInfo"})
		if len(recs) != 1 {
			t.Fatalf("%v: %d records from\n%s", v, len(recs), b)
		}
		got := recs[0]
		want := map[string]string{
			"DateTime": "2021-03-03T04:45:43.120Z", "UserAgent": `Mozilla/5.0 (KHTML  like Gecko) "x"  forged row`,
			"AnchorMailbox": r.Anchor, "HttpStatus": "241", "UrlQuery": "?a=1 b=2",
			"TargetServerVersion": v.TargetVersion(),
			"GenericInfo":         "BeginRequest=2021-03-03T04:45:43.083Z;CorrelationID=<empty>;EndRequest=2021-03-03T04:45:43.120Z;",
		}
		if v.NewProxyFields() {
			want["RoutingStatus"] = "CafeV1"
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%v %s = %q, want %q", v, k, got[k], w)
			}
		}
		line := strings.Split(string(b), "\r\n")[5]
		if n, want := len(splitCSV(line, nil)), len(strings.Split(v.ProxyFieldList(), ",")); n != want {
			t.Errorf("%v: %d fields, #Fields has %d", v, n, want)
		}
	}
}

func TestW3CRowRoundTrip(t *testing.T) {
	var c Clock
	for _, host := range []bool{false, true} {
		r := &W3CRow{Time: when, ServerIP: "10.0.1.10", Method: "GET", Host: "mail.contoso.com", HostField: host,
			Stem: "/owa/auth/x.js", Query: "a b", QueryTail: "&CorrelationID=<empty>;", Port: 443,
			ClientIP: "198.51.100.7", UserAgent: "Mozilla/5.0 (Windows\tNT)\r\nfake line", Status: 200, TakenMS: 12}
		b := AppendW3CHeader(nil, &c, "10.0", when, host)
		b = AppendW3CRow(b, &c, r)
		recs := readBack(t, W3C, string(b), []string{"cs-uri-query", "cs(User-Agent)", "cs-username", "cs-host", "time-taken"})
		if len(recs) != 1 {
			t.Fatalf("%d records from\n%s", len(recs), b)
		}
		got := recs[0]
		if got["cs-uri-query"] != "a+b&CorrelationID=<empty>;" || got["cs(User-Agent)"] != "Mozilla/5.0+(Windows+NT)++fake+line" ||
			got["cs-username"] != "" || got["time-taken"] != "12" {
			t.Errorf("host field %v: %v", host, got)
		}
		if host && got["cs-host"] != "mail.contoso.com" {
			t.Errorf("cs-host %q", got["cs-host"])
		}
	}
}

func TestVersionForms(t *testing.T) {
	if got := old.LogVersion(); got != "15.01.2176.002" {
		t.Errorf("LogVersion %q", got)
	}
	if got := old.TargetVersion(); got != "15.01.2176.000" {
		t.Errorf("TargetVersion %q", got)
	}
	if old.NewProxyFields() || !cu22.NewProxyFields() || !(Version{15, 2, 986, 5}).NewProxyFields() {
		t.Error("NewProxyFields: 2016 CU22 and 2019 CU11 added the trailing fields")
	}
}

// FuzzProxyRow: no value a client controls can split a row, add a line or
// shift a column.
func FuzzProxyRow(f *testing.F) {
	f.Add("Mozilla/5.0 (KHTML, like Gecko)", "/ecp/y.js", "a=1")
	f.Add("\"\r\n,,\"", "\x00", "?")
	f.Fuzz(func(t *testing.T, ua, stem, query string) {
		var c Clock
		b := AppendExchangeHeader(nil, &c, old.LogVersion(), LogTypeProxy, when, ProxyFieldsOld)
		b = AppendProxyRow(b, &c, &ProxyRow{Time: when, Version: old, UserAgent: ua, Stem: stem, Query: query, Status: 200})
		recs := readBack(t, CSV, string(b), []string{"HttpStatus", "GenericErrors"})
		if len(recs) != 1 || recs[0]["HttpStatus"] != "200" {
			t.Fatalf("%d records, %v, from %q", len(recs), recs, b)
		}
	})
}

// FuzzW3CRow is FuzzProxyRow for IIS lines.
func FuzzW3CRow(f *testing.F) {
	f.Add("Mozilla/5.0 (Windows NT)", "/owa/", "a b")
	f.Add("", "\t\r\n", "#Fields: x")
	f.Fuzz(func(t *testing.T, ua, stem, query string) {
		var c Clock
		b := AppendW3CHeader(nil, &c, "10.0", when, false)
		b = AppendW3CRow(b, &c, &W3CRow{Time: when, Method: "GET", UserAgent: ua, Stem: stem, Query: query, Status: 200, TakenMS: 5})
		recs := readBack(t, W3C, string(b), []string{"sc-status", "time-taken"})
		if len(recs) != 1 || recs[0]["sc-status"] != "200" || recs[0]["time-taken"] != "5" {
			t.Fatalf("%d records, %v, from %q", len(recs), recs, b)
		}
	})
}
