package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const iisHeader = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-08-09 14:00:00\r\n" +
	"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n"

// iisLines are n ProxyShell requests, one a second.
func iisLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "2021-08-09 14:%02d:%02d 10.0.0.11 POST /autodiscover/autodiscover.json @evil.corp/mapi/nspi/?&Email=autodiscover/autodiscover.json%%3F@evil.corp&cafeReqId=%08x; 443 - 203.0.113.%d python-requests/2.25.1 - 200 0 0 %d\r\n",
			i/60%60, i%60, i*7919, i%250, i%900)
	}
	return b.String()
}

func scanErr(s *Scanner, r io.Reader) ([]int64, Stats, error) {
	var lines []int64
	st, err := s.Scan(context.Background(), r, func(rec *Record) error {
		lines = append(lines, rec.Line)
		return nil
	})
	return lines, st, err
}

// A log cut short (a truncated .gz, a zip member cut by the end of the
// archive, an I/O error) is an error naming the line, never a clean end;
// the records before the break are still handed over.
func TestScanReadBreaksOff(t *testing.T) {
	body := iisHeader + iisLines(3000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(body))
	zw.Close()
	cut := gz.Bytes()[:gz.Len()/2]

	for _, tt := range []struct {
		name string
		r    func() io.Reader
		want error
	}{
		{"truncated gzip", func() io.Reader {
			zr, err := gzip.NewReader(bytes.NewReader(cut))
			if err != nil {
				t.Fatal(err)
			}
			return zr
		}, io.ErrUnexpectedEOF},
		{"I/O error", func() io.Reader {
			return io.MultiReader(strings.NewReader(body[:len(body)/2]), iotest.ErrReader(errors.New("input/output error")))
		}, nil},
		{"unexpected EOF from below", func() io.Reader {
			return io.MultiReader(strings.NewReader(body[:len(body)/3]), iotest.ErrReader(io.ErrUnexpectedEOF))
		}, io.ErrUnexpectedEOF},
		{"one byte at a time", func() io.Reader {
			return iotest.OneByteReader(io.MultiReader(strings.NewReader(body[:len(body)/4]), iotest.ErrReader(io.ErrUnexpectedEOF)))
		}, io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scanner{Format: W3C, Prefilter: NewPrefilter([]string{"autodiscover.json"})}
			lines, st, err := scanErr(s, tt.r())
			if err == nil || !strings.Contains(err.Error(), "read broke off at line") {
				t.Fatalf("err = %v, want a read that broke off", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.want)
			}
			if len(lines) < 100 || int64(len(lines)) != st.Records {
				t.Errorf("%d records handed over of %d counted: the part before the break must be hunted", len(lines), st.Records)
			}
			// every record handed over is complete: the line at the break is not
			for i, l := range lines {
				if l != int64(i+5) {
					t.Fatalf("record %d at line %d", i, l)
				}
			}
		})
	}

	// the whole stream still ends cleanly
	s := &Scanner{Format: W3C, Prefilter: NewPrefilter([]string{"autodiscover.json"})}
	lines, _, err := scanErr(s, strings.NewReader(body))
	if err != nil || len(lines) != 3000 {
		t.Errorf("complete log: %d records, %v", len(lines), err)
	}
}

// A reader that returns nothing forever must not hang the scan.
func TestScanNoProgress(t *testing.T) {
	s := &Scanner{Format: W3C}
	_, _, err := scanErr(s, stuckReader{})
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("err = %v, want io.ErrNoProgress", err)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// Damaged headers keep their records: the last good #Fields, or the
// kind's default list, reads them, and a gap says so.
func TestScanDamagedHeader(t *testing.T) {
	lines := iisLines(50)
	hdr := strings.SplitAfter(iisHeader, "\r\n")
	for _, tt := range []struct {
		name, in, kind, gap string
	}{
		{"bogus second #Fields", iisHeader + "#Fields: date time bogus\r\n" + lines, "iis",
			"record does not fit the #Fields header of line 5 (15 fields, header names 3); the earlier header of line 4 is used from here"},
		{"bogus #Fields mid-file", iisHeader + iisLines(1) + "#Fields: x y\r\n" + lines, "iis",
			"record does not fit the #Fields header of line 6 (15 fields, header names 2); the earlier header of line 4 is used from here"},
		{"#Fields cut short", hdr[0] + hdr[1] + hdr[2] + "#Fields: date time s-ip cs-met\r\n" + lines, "iis",
			"record does not fit the #Fields header of line 4 (15 fields, header names 4); the default iis field list is used from here"},
		{"damaged directive", hdr[0] + hdr[1] + hdr[2] + "#Fie\x00lds: date time s-ip\r\n" + lines, "iis",
			"no #Fields header before this record; read with the default iis field list (15 fields)"},
		{"no #Fields", hdr[0] + hdr[1] + hdr[2] + lines, "iis",
			"no #Fields header before this record; read with the default iis field list (15 fields)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scanner{Format: W3C, Kind: tt.kind, Prefilter: NewPrefilter([]string{"autodiscover.json"})}
			var ips []string
			st, err := s.Scan(context.Background(), strings.NewReader(tt.in), func(r *Record) error {
				ip, _ := r.Field("c-ip")
				ips = append(ips, ip)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Gaps) != 1 || st.Gaps[0].Reason != tt.gap {
				t.Errorf("gaps %+v, want one: %s", st.Gaps, tt.gap)
			}
			if len(ips) < 50 || ips[len(ips)-1] != "203.0.113.49" {
				t.Errorf("%d records, last client %q: records were lost", len(ips), ips[len(ips)-1:])
			}
		})
	}

	// a kind without defaults and no good header: the gap per record stays
	s := &Scanner{Format: W3C, Kind: "unknown", Prefilter: NewPrefilter([]string{"autodiscover.json"})}
	_, st, _ := scanErr(s, strings.NewReader(hdr[0]+lines))
	if st.Gaps[0].Reason != "record before any #Fields header" {
		t.Errorf("gaps %+v", st.Gaps)
	}
}
