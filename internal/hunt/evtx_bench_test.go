package hunt

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/catalog"
	"github.com/exhunt/exhunt/internal/detect"
	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/evtx"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/lab"
)

// BenchmarkEventRules reads the lab's event logs twice per iteration, with
// one worker: parsing only (events flattened as the hunt sees them), then
// parsing and every event rule (exhunt's and the shipped Sigma rules). It
// reports the parse rate and what the rules add to the parse time, both in
// CPU time so that other load on the machine does not skew the ratio.
func BenchmarkEventRules(b *testing.B) {
	dir := b.TempDir()
	if _, err := lab.Generate(context.Background(), lab.Options{Out: dir, Servers: 4, Size: 200 << 20, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	var files [][]byte
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".evtx") {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, data)
			total += int64(len(data))
		}
		return nil
	})
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	h := New(cat, Options{})
	er, rm := h.events, newRuleMeters(h.detectors, detect.Budget{})
	f := &evidence.File{Rel: "bench.evtx"}
	read := func(rules bool) (time.Duration, int) {
		start := cpuTime()
		hits := 0
		for _, data := range files {
			r, err := evtx.Open(bytes.NewReader(data), int64(len(data)), evtx.Options{})
			if err != nil {
				b.Fatal(err)
			}
			var out []finding.Finding
			rm.reset(int64(len(data)))
			_, err = r.Events(context.Background(), 1, func(e *evtx.Event) error {
				if rules {
					out = er.match(e, f, rm, out[:0])
					hits += len(out)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		return cpuTime() - start, hits
	}
	var parse, both time.Duration
	b.ResetTimer()
	for range b.N {
		p, _ := read(false)
		r, hits := read(true)
		if hits == 0 {
			b.Fatal("no rule matched the lab's attack events")
		}
		parse += p
		both += r
	}
	b.ReportMetric(float64(total)*float64(b.N)/parse.Seconds()/1e6, "parse-MB/s")
	b.ReportMetric(100*(both.Seconds()-parse.Seconds())/parse.Seconds(), "rules-%-of-parse")
}

// BenchmarkEventMatch runs every event rule over the lab's events, read
// once beforehand: what matching costs per event, in CPU time, without the
// parse that BenchmarkEventRules includes.
func BenchmarkEventMatch(b *testing.B) {
	dir := b.TempDir()
	if _, err := lab.Generate(context.Background(), lab.Options{Out: dir, Servers: 4, Size: 200 << 20, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	var evs []*evtx.Event
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".evtx") {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			r, err := evtx.Open(bytes.NewReader(data), int64(len(data)), evtx.Options{})
			if err != nil {
				b.Fatal(err)
			}
			_, err = r.Events(context.Background(), 1, func(e *evtx.Event) error {
				// the chunk's text is reused: keep copies
				c := &evtx.Event{RecordID: e.RecordID, Time: e.Time}
				for _, f := range e.Fields {
					c.Fields = append(c.Fields, evtx.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)})
				}
				evs = append(evs, c)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		return nil
	})
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	h := New(cat, Options{})
	er, rm := h.events, newRuleMeters(h.detectors, detect.Budget{})
	f := &evidence.File{Rel: "bench.evtx"}
	var out []finding.Finding
	hits := 0
	b.ResetTimer()
	start := cpuTime()
	for range b.N {
		rm.reset(0) // each round is a file of its own
		for _, e := range evs {
			out = er.match(e, f, rm, out[:0])
			hits += len(out)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
	if hits == 0 {
		b.Fatal("no rule matched the lab's attack events")
	}
}
