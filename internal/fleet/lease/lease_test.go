package lease

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exhunt/exhunt/internal/fleet/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestOneLeaderAtATime runs three contenders on one database: one leads at
// a time, and when the leader stops, another takes over.
func TestOneLeaderAtATime(t *testing.T) {
	dsn := pgtest.Shared(t).NewDB(t)
	var leading, most atomic.Int32
	var mu sync.Mutex
	var leaders []int
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, 3)
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Go(func() {
			Run(ctx, dsn, Options{Every: 250 * time.Millisecond}, func(ctx context.Context) {
				n := leading.Add(1)
				for {
					if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				mu.Lock()
				leaders = append(leaders, i)
				mu.Unlock()
				<-ctx.Done()
				leading.Add(-1)
			})
		})
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	first := waitLeaders(t, &mu, &leaders, 1)
	cancels[first]() // the leader goes away: its connection closes with it
	second := waitLeaders(t, &mu, &leaders, 2)
	if second == first {
		t.Fatalf("contender %d led twice", first)
	}
	// PostgreSQL drops the leader's connection (a restart, a failover):
	// it stops leading, and a contender takes the lease again.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ended int
	if err := db.QueryRow(`WITH h AS MATERIALIZED (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1)
		SELECT count(*) FROM h WHERE pg_terminate_backend(pid)`, Key&0xffffffff).Scan(&ended); err != nil || ended != 1 {
		t.Fatalf("terminated %d lease holders: %v", ended, err)
	}
	waitLeaders(t, &mu, &leaders, 3)
	if m := most.Load(); m != 1 {
		t.Fatalf("%d contenders led at once", m)
	}
}

func waitLeaders(t *testing.T, mu *sync.Mutex, leaders *[]int, n int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		if len(*leaders) >= n {
			l := (*leaders)[n-1]
			mu.Unlock()
			return l
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no leader number %d", n)
	return -1
}
