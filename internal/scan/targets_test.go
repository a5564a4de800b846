package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseLine(t *testing.T) {
	ports := []int{443}
	for _, tc := range []struct {
		line, want string // want: targets joined by space, or "error"
	}{
		{"mail.contoso.com", "https://mail.contoso.com:443"},
		{"MAIL.Contoso.com.", "https://mail.contoso.com:443"},
		{"192.0.2.10", "https://192.0.2.10:443"},
		{"192.0.2.10:80", "http://192.0.2.10:80"},
		{"192.0.2.10:8443", "https://192.0.2.10:8443"},
		{"[2001:db8::1]:444", "https://[2001:db8::1]:444"},
		{"2001:db8::1", "https://[2001:db8::1]:443"},
		{"::ffff:192.0.2.1", "https://192.0.2.1:443"},
		{"https://owa.example.org", "https://owa.example.org:443"},
		{"http://owa.example.org/", "http://owa.example.org:80"},
		{"https://[2001:db8::2]:8443", "https://[2001:db8::2]:8443"},
		{"192.0.2.0/30", "https://192.0.2.0:443 https://192.0.2.1:443 https://192.0.2.2:443 https://192.0.2.3:443"},
		{"192.0.2.7/30", "https://192.0.2.4:443 https://192.0.2.5:443 https://192.0.2.6:443 https://192.0.2.7:443"},
		{"  exch01.corp.local   # front end", "https://exch01.corp.local:443"},
		{"# only a comment", ""},
		{"", ""},
		{"https://owa.example.org/owa/", "error"},
		{"ftp://owa.example.org", "error"},
		{"https://user:pw@owa.example.org", "error"},
		{"host:0", "error"},
		{"host:65536", "error"},
		{"host:", "error"},
		{"two hosts", "error"},
		{"bad_host!", "error"},
		{"[2001:db8::1", "error"},
		{"192.0.2.0/33", "error"},
		{"exämple.org", "error"},
		{strings.Repeat("a", 64) + ".org", "error"},
	} {
		spec, ok, err := ParseLine(tc.line, ports)
		got := ""
		switch {
		case err != nil:
			got = "error"
		case ok:
			var seq uint64
			var urls []string
			expand(context.Background(), spec, &seq, func(t *Target) bool { urls = append(urls, t.URL()); return true })
			got = strings.Join(urls, " ")
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestStream: arguments, then files, numbered in order; bad lines are
// reported in place and the rest goes on; a range too large for
// MaxExpand is refused until confirmed.
func TestStream(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "targets.txt")
	long := strings.Repeat("x", 10000)
	os.WriteFile(file, []byte("# fleet\r\n192.0.2.1\r\nnot valid!\n"+long+"\n192.0.2.8/31\n198.51.100.0/16\nlast.example.org"), 0o644)
	in := &Input{Args: []string{"a.example.org:8443"}, Files: []string{"-", file}, Stdin: strings.NewReader("b.example.org\n"), Ports: []int{443}, MaxExpand: 256}
	var got []string
	err := in.Stream(context.Background(), func(t *Target) bool {
		if t.Err != "" {
			got = append(got, fmt.Sprintf("%d error %.20s", t.Seq, t.Input))
		} else {
			got = append(got, fmt.Sprintf("%d %s", t.Seq, t.URL()))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0 https://a.example.org:8443", "1 https://b.example.org:443", "2 https://192.0.2.1:443",
		"3 error not valid!", "4 error " + long[:20], "5 https://192.0.2.8:443", "6 https://192.0.2.9:443",
		"7 error 198.51.100.0/16", "8 https://last.example.org:443",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	in = &Input{Args: []string{"10.0.0.0/16"}, Ports: []int{443, 80}, MaxExpand: 256, Confirmed: true}
	n := 0
	in.Stream(context.Background(), func(t *Target) bool { n++; return true })
	if n != 2*65536 {
		t.Errorf("confirmed /16 on two ports: %d targets", n)
	}
}

// FuzzParseLine: any line parses or fails cleanly, and what parses
// expands to targets whose URLs parse back to themselves.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"mail.contoso.com", "192.0.2.1:8443", "[2001:db8::1]:443", "https://owa.example.org", "192.0.2.0/30", "# c", "::ffff:1.2.3.4", "http://[::1]:80/", "a:b:c", "[::1]x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		spec, ok, err := ParseLine(line, []int{443})
		if err != nil || !ok {
			return
		}
		if spec.Prefix.IsValid() && spec.Count() > 1024 {
			return
		}
		var seq uint64
		expand(context.Background(), spec, &seq, func(tg *Target) bool {
			u := tg.URL()
			again, ok, err := ParseLine(u, []int{443})
			if err != nil || !ok || again.Host != tg.Host || len(again.Ports) != 1 || again.Ports[0] != tg.Port {
				t.Fatalf("%q gave %q, which parses as %+v, %v", line, u, again, err)
			}
			if !utf8.ValidString(u) {
				t.Fatalf("non-UTF-8 URL %q", u)
			}
			return seq < 64
		})
	})
}

// FuzzFingerprint: the response parsers never panic, and a build they
// return is a plausible Exchange build.
func FuzzFingerprint(f *testing.F) {
	f.Add([]byte(`<link rel="shortcut icon" href="/owa/auth/15.1.2176/themes/resources/favicon.ico"><!-- OwaPage = ASP.auth_logon_aspx -->`), "15.1.2176.2")
	f.Add([]byte(`<assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="15.2.986.5" />`), "https://x/owa/auth/errorFE.aspx?httpCode=500&owaVer=15.1.2176.2&be=EXCH01")
	f.Add([]byte(`/owa/14.3.123.4/themes/base/logon.css`), " 15.0.1497.2 ")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		li := ParseLogon(body)
		if li.HasBuild && (li.Build.Major < 6 || li.Build.Major > 99 || !bytes.Contains(body, []byte(li.Path))) {
			t.Fatalf("logon build %v from path %q", li.Build, li.Path)
		}
		if b, ok := ParseManifest(body); ok && b.Rev < 0 {
			t.Fatalf("manifest build %v has three parts", b)
		}
		if b, ok := ParseOWAVersion(header); ok && (b.Rev < 0 || b.Major > 15) {
			t.Fatalf("X-OWA-Version %q gave %v", header, b)
		}
		owaErrorVersion(header)
	})
}

// FuzzReadDone: a results file of any content gives a clean error or a
// prefix length within the input.
func FuzzReadDone(f *testing.F) {
	f.Add([]byte(`{"seq":0,"target":"https://a:443","status":"exchange"}` + "\n" + `{"seq":1,"inp`))
	f.Add([]byte(`{"seq":99999999999,"status":"invalid","input":"x"}` + "\n"))
	f.Add([]byte(`{"run_id":"0123456789abcdef0123456789abcdef","start":{"schema_version":1,"kind":"scan"}}` + "\n" +
		`{"run_id":"0123456789abcdef0123456789abcdef","target":{"seq":3,"target":"https://a:443","status":"exchange"}}` + "\n" +
		`{"run_id":"0123456789abcdef0123456789abcdef","progress":{"targets_done":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, good, err := ReadDone(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		if good < 0 || good > int64(len(data)) || (good > 0 && data[good-1] != '\n') {
			t.Fatalf("good prefix %d of %d bytes", good, len(data))
		}
		_ = d.Len()
	})
}

// TestReadDoneStream: a results file is the scan's stream; resume finds
// its targets and keeps its run id, and refuses a hunt's stream.
func TestReadDoneStream(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	file := `{"run_id":"` + id + `","start":{"schema_version":1,"kind":"scan","tool":"exhunt","version":"v1","started_at":"2024-05-02T08:00:00Z"}}
{"run_id":"` + id + `","target":{"seq":3,"target":"https://a:443","status":"exchange","requests":4,"time":"2024-05-02T08:00:01Z","duration_ms":5}}
{"run_id":"` + id + `","progress":{"time":"2024-05-02T08:00:05Z","targets_done":1}}
{"seq":5,"input":"bad host!","status":"invalid","requests":0,"time":"2024-05-02T08:00:01Z","duration_ms":0}
{"run_id":"` + id + `","target":{"seq":7,"target":"https://b:4`
	var seen []uint64
	d, good, err := ReadDone(strings.NewReader(file), func(r *Result) { seen = append(seen, r.Seq) })
	if err != nil {
		t.Fatal(err)
	}
	if d.RunID != id || d.Len() != 2 || !d.Has(3) || !d.Has(5) || d.Has(7) || len(seen) != 2 {
		t.Errorf("run %q, %d done, seen %v", d.RunID, d.Len(), seen)
	}
	if want := int64(strings.LastIndexByte(file, '\n') + 1); good != want {
		t.Errorf("good prefix %d, want %d (the cut line dropped)", good, want)
	}
	hunt := `{"run_id":"` + id + `","finding":{"server":"EXCH01","rule":"r","title":"t","stage":"attempt","cves":[],"severity":"low","source":{"file":"f","kind":"iis"},"fields":{}}}` + "\n"
	if _, _, err := ReadDone(strings.NewReader(hunt), nil); err == nil || !strings.Contains(err.Error(), "a hunt's") {
		t.Errorf("a hunt's stream taken for scan results: %v", err)
	}
}
