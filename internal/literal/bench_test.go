package literal

import (
	"bytes"
	"testing"
)

var benchLits = []string{"ServerInfo~", "autodiscover.json", "/ecp/default.flt", "X-AnonResource", "python-requests", "antSword", "DDIService.svc/SetObject"}

var benchLine = []byte("2021-03-03 05:12:44 10.0.0.5 GET /owa/auth/15.1.2176/themes/resources/favicon.ico &CorrelationID=<empty>;&cafeReqId=1f2e3d4c-5b6a-7980-1a2b-3c4d5e6f7a8b; 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/89.0.4389.82+Safari/537.36 - 200 0 0 15\n")

func BenchmarkIndex(b *testing.B) {
	buf := bytes.Repeat(benchLine, 4000)
	p := New(benchLits)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if p.Index(buf) >= 0 {
			b.Fatal("unexpected hit")
		}
	}
}

func BenchmarkMask(b *testing.B) {
	line := string(benchLine)
	p := NewGroups([][]string{benchLits[:3], benchLits[3:]})
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if p.Mask(line) != 0 {
			b.Fatal("unexpected hit")
		}
	}
}
