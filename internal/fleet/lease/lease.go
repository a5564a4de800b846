// Package lease elects one serve replica to run the fleet's singletons
// (the spike detector and the webhook sender): a PostgreSQL session-level
// advisory lock held on a connection of its own. The lock lives exactly as
// long as that connection, so a replica that dies, is killed or loses
// PostgreSQL loses the lease, and another replica takes it over.
package lease

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Key is the advisory lock id of the fleet's singletons ("exhunt" in ASCII).
const Key int64 = 0x65_78_68_75_6e_74

// Options control a lease.
type Options struct {
	// Key is the advisory lock id.
	Key int64
	// Every is how often a replica without the lease tries to take it, and
	// how often the holder checks that its connection still holds it.
	Every time.Duration
	// What names what the holder runs, in the log lines.
	What string
	// Log, when set, hears when the lease is taken and lost.
	Log func(format string, args ...any)
}

// Run calls lead with a context that ends when this process loses the
// lease, each time it takes it, until ctx ends. lead must return when its
// context ends. dsn names the PostgreSQL database the store is in.
func Run(ctx context.Context, dsn string, o Options, lead func(ctx context.Context)) {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Key == 0 {
		o.Key = Key
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	for ctx.Err() == nil {
		if conn := acquire(ctx, dsn, o); conn != nil {
			// A holder whose connection PostgreSQL dropped learns of it at
			// its next check, a period and a ping's timeout later: wait
			// that out before leading, so the two never run at once.
			select {
			case <-ctx.Done():
			case <-time.After(2*o.Every + o.Every/2):
			}
			o.Log("lease %d taken: this process runs %s", o.Key, o.What)
			hold(ctx, conn, o, lead)
			conn.Close(context.Background())
			if ctx.Err() == nil {
				o.Log("lease %d lost: %s stopped here", o.Key, o.What)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.Every):
		}
	}
}

// acquire connects and tries the lock once; it returns the connection
// holding it, or nil.
func acquire(ctx context.Context, dsn string, o Options) *pgx.Conn {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return nil
	}
	var got bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1)", o.Key).Scan(&got); err != nil || !got {
		conn.Close(context.Background())
		return nil
	}
	return conn
}

// hold runs lead while conn answers; a connection that stops answering
// may already have lost the lock to another replica.
func hold(ctx context.Context, conn *pgx.Conn, o Options, lead func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(lctx)
	}()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		select {
		case <-done:
			cancel()
			return
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, o.Every)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				<-done
				return
			}
		}
	}
}
