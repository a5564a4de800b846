package logs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

const httpProxyHeader = "#Software: Microsoft Exchange Server\r\n#Version: 15.01.2176.002\r\n#Log-type: HttpProxy Logs\r\n#Date: 2021-03-03T05:00:00.000Z\r\n" +
	"#Fields: DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus\r\n"

type got struct {
	line   int64
	fields map[string]string
	time   time.Time
}

func scanAll(t *testing.T, s *Scanner, input string, names ...string) ([]got, Stats) {
	t.Helper()
	var out []got
	st, err := s.Scan(context.Background(), strings.NewReader(input), func(r *Record) error {
		out = append(out, got{r.Line, r.Fields(names), r.Time})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

func TestScanExchangeCSV(t *testing.T) {
	in := httpProxyHeader +
		"2021-03-03T05:12:44.123Z,r1,15,1,2176,2,,Owa,mail.contoso.com,/owa/,,,false,,,Smtp~jdoe@contoso.com,Mozilla/5.0 (Windows NT 10.0;  like Gecko),10.0.0.5,EXCH01,302,302\r\n" +
		"2021-03-03T05:13:00.000Z,r2,15,1,2176,2,,Ecp,mail.contoso.com,/ecp/y.js,,,false,,,ServerInfo~a]@EXCH01.contoso.local:444/autodiscover/autodiscover.xml?#,python-requests/2.25.1,198.51.100.7,EXCH01,200,200\r\n" +
		"2021-03-03T05:14:00.000Z,r3,15,1,2176,2,,Ecp,mail.contoso.com,\"/ecp/\"\"quoted\"\",x\",,,false\r\n" + // short row, quoted field
		"2021-03-03T05:15:00.000Z,r4,15,1,2176,2,,Ecp,mail.contoso.com,/ecp/z.js,,,false,,,ServerInfo~localhost/ecp/default.flt?,zgrab/0.x,203.0.113.1,EXCH01,500,500\r\n"
	s := &Scanner{Format: CSV, Prefilter: NewPrefilter([]string{"serverinfo~", "quoted"})}
	recs, st := scanAll(t, s, in, "AnchorMailbox", "UrlStem", "c-ip", "HttpStatus", "BackEndStatus")
	if st.Version != "15.01.2176.002" || st.LogType != "HttpProxy Logs" {
		t.Errorf("directives: %+v", st)
	}
	if st.Records != 4 || st.Lines != 9 {
		t.Errorf("records %d lines %d, want 4 and 9", st.Records, st.Lines)
	}
	if st.Host != "EXCH01" {
		t.Errorf("host %q", st.Host)
	}
	if want := time.Date(2021, 3, 3, 5, 12, 44, 123e6, time.UTC); !st.First.Equal(want) {
		t.Errorf("first %v want %v", st.First, want)
	}
	if want := time.Date(2021, 3, 3, 5, 15, 0, 0, time.UTC); !st.Last.Equal(want) {
		t.Errorf("last %v want %v", st.Last, want)
	}
	// first record is always parsed for coverage but only candidates are
	// handed over: lines 7, 8 and 9
	var lines []int64
	for _, r := range recs {
		lines = append(lines, r.line)
	}
	if len(recs) != 3 || lines[0] != 7 || lines[1] != 8 || lines[2] != 9 {
		t.Fatalf("candidate lines %v, want [7 8 9]", lines)
	}
	if recs[0].fields["c-ip"] != "198.51.100.7" || recs[0].fields["AnchorMailbox"] != "ServerInfo~a]@EXCH01.contoso.local:444/autodiscover/autodiscover.xml?#" {
		t.Errorf("fields by alias and name: %v", recs[0].fields)
	}
	if recs[1].fields["UrlStem"] != `/ecp/"quoted",x` {
		t.Errorf("quoted field: %q", recs[1].fields["UrlStem"])
	}
	if v, ok := recs[1].fields["HttpStatus"]; !ok || v != "" {
		t.Errorf("missing trailing column must read as present and empty, got %q %v", v, ok)
	}
}

func TestScanBareHeaderRow(t *testing.T) {
	in := "DateTime,RequestId,AnchorMailbox,HttpStatus\n" + "#Software: Microsoft Exchange Server\n" +
		"2021-03-03T05:00:00Z,a,ServerInfo~x/y,200\n" +
		"DateTime,RequestId,AnchorMailbox,HttpStatus\n" + // repeated header row
		"2021-03-03T06:00:00Z,b,ServerInfo~x/z,500\n"
	s := &Scanner{Format: CSV, All: true}
	recs, st := scanAll(t, s, in, "AnchorMailbox", "HttpStatus")
	if len(recs) != 2 || recs[0].fields["AnchorMailbox"] != "ServerInfo~x/y" || recs[1].fields["HttpStatus"] != "500" {
		t.Fatalf("records %+v", recs)
	}
	if len(st.Gaps) != 0 {
		t.Errorf("gaps %+v", st.Gaps)
	}
}

func TestScanW3CFieldsChangeMidFile(t *testing.T) {
	in := "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-03-03 00:00:00\n" +
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n" +
		"2021-03-03 05:00:00 10.0.0.2 POST /ecp/y.js &CorrelationID=<empty>;&cafeReqId=1; 443 - 198.51.100.7 python-requests/2.25.1 - 241 0 0 12\n" +
		"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-03-03 06:00:00\n" +
		"#Fields: date time s-ip cs-method cs-host cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n" +
		"2021-03-03 06:00:01 10.0.0.2 POST mail.contoso.com /ecp/y.js - 443 - 198.51.100.8 Mozilla/5.0+(X11) - 500 0 0 3\n"
	s := &Scanner{Format: W3C, Prefilter: NewPrefilter([]string{"/ecp/"})}
	recs, st := scanAll(t, s, in, "cs-uri-stem", "c-ip", "sc-status", "cs-user-agent", "cs-uri-query")
	if len(recs) != 2 {
		t.Fatalf("got %d records", len(recs))
	}
	if recs[1].fields["c-ip"] != "198.51.100.8" || recs[1].fields["sc-status"] != "500" || recs[1].fields["cs-uri-stem"] != "/ecp/y.js" {
		t.Errorf("remapped record %v", recs[1].fields)
	}
	if recs[1].fields["cs-uri-query"] != "" {
		t.Errorf("'-' must read as empty, got %q", recs[1].fields["cs-uri-query"])
	}
	if recs[0].fields["cs-user-agent"] != "python-requests/2.25.1" || recs[0].line != 5 || recs[1].line != 10 {
		t.Errorf("record 0 %+v, lines %d %d", recs[0], recs[0].line, recs[1].line)
	}
	if !st.Last.Equal(time.Date(2021, 3, 3, 6, 0, 1, 0, time.UTC)) {
		t.Errorf("last %v", st.Last)
	}
}

func TestScanLongLinesAndChunks(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("#Fields: date time cs-uri-stem\n")
	for i := 0; i < 50000; i++ { // several chunks
		b.WriteString("2021-03-03 05:00:00 /owa/auth/logon.aspx\n")
	}
	b.WriteString("2021-03-03 05:00:01 /ecp/hit.js" + strings.Repeat("A", MaxLine+10) + "\n") // overlong candidate
	b.WriteString("2021-03-03 05:00:01 " + strings.Repeat("B", 3*MaxLine) + "\n")             // longer than the buffer
	b.WriteString("2021-03-03 05:00:02 /ecp/hit.js\n")
	s := &Scanner{Format: W3C, Prefilter: NewPrefilter([]string{"hit.js"})}
	recs, st := scanAll(t, s, b.String(), "cs-uri-stem")
	if len(recs) != 1 || recs[0].line != 50004 {
		t.Fatalf("records %+v", recs)
	}
	if len(st.Gaps) != 2 || st.Gaps[0].Line != 50002 || st.Gaps[1].Line != 50003 {
		t.Fatalf("gaps %+v, want the overlong lines 50002 and 50003", st.Gaps)
	}
}

func TestScanTextAndMalformed(t *testing.T) {
	in := "2021-03-03T05:00:00.000Z Warning Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed.\n\x00\x01garbage\n"
	s := &Scanner{Format: Text, All: true}
	recs, _ := scanAll(t, s, in, "message")
	if len(recs) != 2 || !strings.Contains(recs[0].fields["message"], "aspnet_client") || recs[0].time.IsZero() {
		t.Fatalf("%+v", recs)
	}
	// W3C data before any #Fields is a gap, not a crash
	s = &Scanner{Format: W3C, All: true}
	recs, st := scanAll(t, s, "2021-03-03 05:00:00 x\n", "cs-uri-stem")
	if len(recs) != 0 || len(st.Gaps) != 1 {
		t.Fatalf("records %v gaps %v", recs, st.Gaps)
	}
}

func FuzzScan(f *testing.F) {
	f.Add(httpProxyHeader+"2021-03-03T05:13:00.000Z,r2,15,1,2176,2,,Ecp,h,/ecp/y.js,,,false,,,ServerInfo~a]@x/y,ua,1.2.3.4,EXCH01,200,200\n", uint8(0))
	f.Add("#Fields: date time cs-uri-stem\n2021-03-03 05:00:00 /ecp/x.js\n", uint8(1))
	f.Add("2021-03-03T05:00:00Z Download failed and temporary file 'x'\n", uint8(2))
	f.Add("\"\"\"\n#Fields: \"a,b\n\",\n", uint8(0))
	f.Fuzz(func(t *testing.T, in string, format uint8) {
		for _, all := range []bool{true, false} {
			s := &Scanner{Format: Format(format % 3), All: all, Prefilter: NewPrefilter([]string{"ecp", "serverinfo~", "a"})}
			n := 0
			st, err := s.Scan(context.Background(), strings.NewReader(in), func(r *Record) error {
				n++
				if r.Line < 1 || r.Line > int64(strings.Count(in, "\n")+1) {
					t.Fatalf("line %d out of range", r.Line)
				}
				r.Field("cs-uri-stem")
				r.Field("AnchorMailbox")
				r.Raw()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Bytes != int64(len(in)) {
				t.Fatalf("read %d of %d bytes", st.Bytes, len(in))
			}
			if int64(n) > st.Records {
				t.Fatalf("%d callbacks for %d records", n, st.Records)
			}
		}
	})
}

// Headers are cached by their text: a scanner reading file after file, or
// a file whose #Fields change and change back, must resolve each line's
// fields by the header in force.
func TestScanSchemaCache(t *testing.T) {
	a := "#Fields: date time cs-uri-stem c-ip\n"
	b := "#Fields: date time c-ip cs-uri-stem\n"
	s := &Scanner{Format: W3C, Prefilter: NewPrefilter([]string{"/ecp/"})}
	in := a + "2021-03-03 05:12:44 /ecp/a.js 10.0.0.1\n" +
		b + "2021-03-03 05:12:45 10.0.0.2 /ecp/b.js\n" +
		a + "2021-03-03 05:12:46 /ecp/c.js 10.0.0.3\n"
	for round := range 3 {
		file := in
		if round == 1 {
			file = b + "2021-03-03 05:12:47 10.0.0.4 /ecp/d.js\n"
		}
		recs, _ := scanAll(t, s, file, "cs-uri-stem", "c-ip")
		for _, r := range recs {
			stem, ip := r.fields["cs-uri-stem"], r.fields["c-ip"]
			if !strings.HasPrefix(stem, "/ecp/") || !strings.HasPrefix(ip, "10.0.0.") || stem[5]-'a' != ip[7]-'1' {
				t.Errorf("round %d line %d: stem %q ip %q", round, r.line, stem, ip)
			}
		}
		if want := []int{3, 1, 3}[round]; len(recs) != want {
			t.Errorf("round %d: %d records, want %d", round, len(recs), want)
		}
	}
}
