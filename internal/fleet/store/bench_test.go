package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// benchRun is one hunt result of 10 servers with 100 findings each, as a
// provider's hunt of a customer's servers sends it.
func benchRun(i int) *fleet.Run {
	at := t0.Add(time.Duration(i) * time.Minute)
	res := &finding.Result{SchemaVersion: 1, Tool: "exhunt", StartedAt: at}
	for s := range 10 {
		sv := finding.Server{Name: fmt.Sprintf("EX%04d", i*10+s), Verdict: finding.VerdictProbed}
		for f := range 100 {
			sv.Findings = append(sv.Findings, finding.Finding{Rule: "exchange-autodiscover-probe", Title: "Autodiscover probe", Stage: finding.StageReconnaissance,
				Severity: finding.SeverityLow, Time: at.Add(time.Duration(f) * time.Second), ClientIP: fmt.Sprintf("45.146.%d.%d", f%7, f%250),
				UserAgent: "Mozilla/5.0 zgrab/0.x", Source: finding.Source{File: "W3SVC1/u_ex210303.log", Line: int64(f + 1), Kind: "iis"}})
		}
		res.Servers = append(res.Servers, sv)
	}
	return &fleet.Run{SchemaVersion: 1, Type: fleet.TypeHunt, RunID: fmt.Sprintf("bench-%d", i), Org: "lawfirm", Hunt: res}
}

func benchIngest(b *testing.B, dsn string) {
	ctx := context.Background()
	s, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.CreateOrg(ctx, store.Org{ID: "lawfirm", Name: "x", Sector: "law"}, t0)
	runs := make([]*fleet.Run, b.N)
	for i := range runs {
		runs[i] = benchRun(i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := s.Ingest(ctx, runs[i], t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "findings/s")
}

func BenchmarkIngest(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, filepath.Join(b.TempDir(), "f.db")) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("EXHUNT_BENCH_PG") == "" {
			b.Skip("set EXHUNT_BENCH_PG=1 (bench/serve.sh does) to start a PostgreSQL")
		}
		benchIngest(b, pgtest.Shared(b).NewDB(b))
	})
}
