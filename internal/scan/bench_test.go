package scan

import (
	"context"
	"fmt"
	"testing"

	"github.com/exhunt/exhunt/internal/decoy"
)

// BenchmarkScanFleet scans 1,000 HTTPS decoys on loopback (every build of
// the table, every state) with the default checks, decoy and scanner in
// one process; it reports targets per second. bench/scan.sh runs them as
// separate processes at 10,000 targets.
func BenchmarkScanFleet(b *testing.B) {
	d := testData(b)
	srv, err := decoy.New(decoy.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	rels := d.Builds.Releases()
	var urls []string
	for i := range 1000 {
		p, err := decoy.NewProfile(d.Builds, rels[i%len(rels)].Build.String(), decoy.States()[i%3], decoy.Reveals()[i/3%3], fmt.Sprintf("EXCH%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		tg, err := srv.Listen("https", fmt.Sprintf("127.0.2.%d:0", 1+i%50), p)
		if err != nil {
			b.Fatal(err)
		}
		urls = append(urls, tg.URL)
	}
	srv.Serve()
	opt := DefaultOptions()
	opt.Scope, opt.HostRate, opt.Concurrency = loopback, 0, 256
	b.ResetTimer()
	for range b.N {
		n := 0
		err := New(opt, d).Run(context.Background(), &Input{Args: urls, Ports: []int{443}, MaxExpand: 1}, nil, func(r *Result) error {
			if r.Status != StatusExchange {
				b.Fatalf("%s: %s %s", r.Target, r.Status, r.Error)
			}
			n++
			return nil
		})
		if err != nil || n != len(urls) {
			b.Fatalf("%d results, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*len(urls))/b.Elapsed().Seconds(), "targets/s")
}
