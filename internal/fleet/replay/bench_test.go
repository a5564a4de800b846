package replay

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/detect"
	"github.com/exhunt/exhunt/internal/fleet/fleetlab"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/pgtest"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/natstest"
	"github.com/exhunt/exhunt/internal/queue"
)

// BenchmarkIngestConsumers measures runs stored per second in PostgreSQL
// from the ingest stream of a three-node JetStream cluster (R3), with 1, 2
// and 3 consumers (serve replicas: each its own NATS connection, store
// pool and 4 writers), against the same runs stored directly by one
// process with 4 writers. The runs (the campaign replay, 16 organisations)
// are on the stream before the consumers start, so the figure is the
// writers' rate, not the HTTP front's. Run it with -benchtime 1x
// (bench/scale.sh does).
func BenchmarkIngestConsumers(b *testing.B) {
	ctx := context.Background()
	lab := b.TempDir()
	if _, err := fleetlab.GenerateFleet(fleetlab.FleetOptions{Out: lab, Orgs: 16, Servers: 32, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	runs := readRuns(b, lab)
	findings := 0
	for _, m := range runs {
		for _, s := range m.Hunt.Servers {
			findings += len(s.Findings)
		}
	}
	orgs := readOrgs(b, lab)
	pg := pgtest.Shared(b)
	cluster := natstest.Start(b, 3)
	cfg := queue.DefaultConfig()
	newStore := func(dsn string) *store.Store {
		s, err := store.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		s.SetAlerter(detect.Changes{})
		return s
	}
	freshDB := func() string {
		dsn := pg.NewDB(b)
		s := newStore(dsn)
		defer s.Close()
		for _, o := range orgs {
			if err := s.CreateOrg(ctx, store.Org{ID: o.ID, Name: o.Name, Sector: o.Sector}, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		return dsn
	}
	report := func(b *testing.B, d time.Duration) {
		b.ReportMetric(float64(len(runs))/d.Seconds(), "runs/s")
		b.ReportMetric(float64(findings)/d.Seconds(), "findings/s")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("direct", func(b *testing.B) {
		for range b.N {
			dsn := freshDB()
			s := newStore(dsn)
			next := make(chan *fleet.Run)
			start := time.Now()
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for m := range next {
						// Concurrent first runs of one server can collide
						// on its insert; a retry finds it (as the queue's
						// redelivery does).
						var err error
						for range 5 {
							if _, err = s.Ingest(ctx, m, m.Started()); err == nil {
								break
							}
						}
						if err != nil {
							b.Error(err)
						}
					}
				})
			}
			for _, m := range runs {
				next <- m
			}
			close(next)
			wg.Wait()
			report(b, time.Since(start))
			s.Close()
			// What the runs cost on disk, for sizing PostgreSQL.
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			if err := db.QueryRow("SELECT pg_database_size(current_database())").Scan(&size); err != nil {
				b.Fatal(err)
			}
			db.Close()
			b.ReportMetric(float64(size)/1024/float64(len(runs)), "KiB/run")
			b.ReportMetric(float64(findings)/float64(len(runs)), "findings/run")
		}
	})
	for _, k := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("consumers=%d", k), func(b *testing.B) {
			for range b.N {
				dsn := freshDB()
				pub, err := queue.Connect(ctx, cluster.URL(), "bench publisher", cfg)
				if err != nil {
					b.Fatal(err)
				}
				// A stream of its own per round: the duplicate window
				// would drop the same run ids published again.
				pub.JS.DeleteStream(ctx, queue.IngestStream)
				if err := pub.EnsureIngest(ctx, queue.IngestConfig{}); err != nil {
					b.Fatal(err)
				}
				for _, m := range runs {
					if _, err := (ingest.Bus{Conn: pub}).Enqueue(ctx, m, m.Started()); err != nil {
						b.Fatal(err)
					}
				}
				wctx, stop := context.WithCancel(ctx)
				var wg sync.WaitGroup
				var stores []*store.Store
				start := time.Now()
				for i := range k {
					c, err := queue.Connect(ctx, cluster.URL(), fmt.Sprintf("bench replica %d", i), cfg)
					if err != nil {
						b.Fatal(err)
					}
					if err := c.EnsureIngest(ctx, queue.IngestConfig{}); err != nil {
						b.Fatal(err)
					}
					s := newStore(dsn)
					stores = append(stores, s)
					wg.Go(func() {
						ingest.WriteFromBus(wctx, c, s, queue.WriterOptions{Concurrency: 4, MaxDeliver: 5, Retry: time.Second})
						c.Close()
					})
				}
				// A run leaves the stream once its writer committed it.
				stream, err := pub.JS.Stream(ctx, queue.IngestStream)
				if err != nil {
					b.Fatal(err)
				}
				for {
					info, err := stream.Info(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if info.State.Msgs == 0 {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				report(b, time.Since(start))
				if n, err := stores[0].Counts(ctx); err != nil || n["runs"] != len(runs) {
					b.Fatalf("%d runs stored, %d published: %v", n["runs"], len(runs), err)
				}
				stop()
				wg.Wait()
				for _, s := range stores {
					s.Close()
				}
				pub.Close()
			}
		})
	}
}
