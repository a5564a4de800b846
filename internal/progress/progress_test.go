package progress

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	tr := NewTracker(2)
	tr.SetTotal(4, 4000)
	tr.Begin(0, "SRV1/a.log", 1000)
	io.Copy(io.Discard, tr.Reader(0, strings.NewReader(strings.Repeat("x", 1000))))
	tr.End(0)
	tr.Begin(1, "SRV1/evil\x1b[2Jname.log", 2000)
	tr.Read(1, 500)
	lines := Render(tr, 2*time.Second)
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	// 1000 done + 500 partial of 4000 in 2 s: 750 B/s, 2500 left → 3s
	for _, want := range []string{"1/4 files", "1.5 KiB/3.9 KiB", "750 B/s", "3s left"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("overall line %q lacks %q", lines[0], want)
		}
	}
	if strings.Contains(lines[1], "\x1b") || !strings.Contains(lines[1], `evil\x1b[2Jname.log`) {
		t.Errorf("worker line must show the file without control characters: %q", lines[1])
	}
	if !strings.HasPrefix(strings.TrimSpace(lines[1]), "[###.........]") {
		t.Errorf("worker bar: %q", lines[1])
	}
}

func TestDisplayClearsOnStop(t *testing.T) {
	var b bytes.Buffer
	tr := NewTracker(1)
	tr.SetTotal(1, 10)
	tr.Begin(0, "f.log", 10)
	d := Start(&b, tr, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	d.Stop()
	out := b.String()
	if !strings.Contains(out, "hunting") || !strings.HasSuffix(out, "\x1b[J") {
		t.Errorf("display output %q", out)
	}
}

func TestNilTrackerIsSafe(t *testing.T) {
	var tr *Tracker
	tr.Begin(0, "x", 1)
	tr.Read(0, 1)
	tr.End(0)
	if r := strings.NewReader("a"); tr.Reader(0, r) != r {
		t.Error("nil tracker must not wrap")
	}
}

// TestRenderHostileNames: file and zip-member names come from the
// evidence; none of them may drive the terminal from the progress line.
func TestRenderHostileNames(t *testing.T) {
	for _, name := range []string{
		"SRV1/title\x1b]0;pwned\x07.log", "SRV1/clear\x1b[2J\x1b[H.log", "SRV1/cr\roverwrite.log", "SRV1/nul\x00.log",
		"SRV1/\u202egol.exe", "SRV1/bad\xff\xc3.log", "SRV1/c1\u009b31m.log", "SRV1/<script>alert(1)</script>.log",
	} {
		tr := NewTracker(1)
		tr.SetTotal(1, 100)
		tr.Begin(0, name, 100)
		lines := Render(tr, time.Second)
		if len(lines) != 2 || !utf8.ValidString(lines[1]) {
			t.Fatalf("%q: lines %q", name, lines)
		}
		for _, c := range lines[1] {
			if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
				t.Errorf("%q: worker line %q holds %U", name, lines[1], c)
			}
		}
		if !strings.Contains(lines[1], "SRV1/") {
			t.Errorf("%q: worker line %q does not name the file", name, lines[1])
		}
	}
}
