package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// bigFile builds a large EVTX file from copies of Security.evtx's used
// chunks, with the header's chunk count and checksum patched.
func bigFile(tb testing.TB, copies int) []byte {
	tb.Helper()
	src, err := os.ReadFile(filepath.Join(sharedDir(tb), "testdata", "evtx", "Security.evtx"))
	if err != nil {
		tb.Fatal(err)
	}
	var chunks [][]byte
	for off := fileHeaderSize; off+chunkSize <= len(src); off += chunkSize {
		if c := src[off : off+chunkSize]; bytes.Equal(c[:8], chunkMagic) {
			chunks = append(chunks, c)
		}
	}
	out := make([]byte, fileHeaderSize, fileHeaderSize+copies*len(chunks)*chunkSize)
	copy(out, src[:fileHeaderSize])
	for i := 0; i < copies; i++ {
		for _, c := range chunks {
			out = append(out, c...)
		}
	}
	n := copies * len(chunks)
	binary.LittleEndian.PutUint64(out[16:], uint64(n-1)) // last chunk number
	binary.LittleEndian.PutUint16(out[42:], uint16(min(n, 0xffff)))
	binary.LittleEndian.PutUint32(out[120:], 0) // clean
	binary.LittleEndian.PutUint32(out[124:], crc32.ChecksumIEEE(out[:120]))
	return out
}

// BenchmarkEvents reads a 64 MB file (Security.evtx's chunks 100 times)
// with one worker per CPU, flattening every event but rendering no JSON.
func BenchmarkEvents(b *testing.B) {
	data := bigFile(b, 100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		st, err := r.Events(context.Background(), runtime.GOMAXPROCS(0), func(e *Event) error { return nil })
		if err != nil || len(st.Corrupt) > 0 {
			b.Fatal(err, st.Corrupt)
		}
		records = st.Records
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkJSON renders every event of Security.evtx to JSON.
func BenchmarkJSON(b *testing.B) {
	data := bigFile(b, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			b.Fatal(err)
		}
		_, err = r.Events(context.Background(), 1, func(e *Event) error {
			_, err := e.JSON()
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteBenchFile writes the benchmark's file where EXHUNT_EVTX_BENCH
// says, to time other tools (evtxexport) on the same input.
func TestWriteBenchFile(t *testing.T) {
	out := os.Getenv("EXHUNT_EVTX_BENCH")
	if out == "" {
		t.Skip("set EXHUNT_EVTX_BENCH=path to write the benchmark file")
	}
	if err := os.WriteFile(out, bigFile(t, 100), 0o644); err != nil {
		t.Fatal(err)
	}
}
