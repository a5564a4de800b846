package queue

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// resultReader reads one dispatch's results in stream order, from the
// first stored. It rests on an ordered consumer's message iterator, which
// checks every message's delivery sequence: when a message is lost in
// transit (the client's node killed mid-delivery, the client reconnecting
// elsewhere while later messages still arrive), it starts a new consumer
// after the last message it returned. Fetch on an ordered consumer makes
// no such check and would skip the lost message for good, leaving its
// dispatcher waiting on a result it already passed.
//
// The iterator's Next is called without a time limit, on a goroutine of
// its own: its missed-heartbeat check (a consumer gone with its node) runs
// only within one call, so calls shorter than the heartbeat would never
// notice a dead consumer.
type resultReader struct {
	it jetstream.MessagesContext
	// pending is the number of results stored before the reader started.
	pending uint64
	msgs    chan jetstream.Msg
	err     error // why msgs was closed
	done    chan struct{}
	stop    func() bool
}

// Heartbeats of the results iterator: a consumer lost with its node is
// replaced after two missed ones.
const (
	resultsHeartbeat = 2 * time.Second
	resultsExpiry    = 10 * time.Second
)

// readResults opens a reader on the results of dispatch; it ends when ctx
// does or close is called.
func (c *Conn) readResults(ctx context.Context, dispatch string) (*resultReader, error) {
	r := &resultReader{msgs: make(chan jetstream.Msg, 64), done: make(chan struct{})}
	err := retry(ctx, func(ctx context.Context) error {
		cons, err := c.JS.OrderedConsumer(ctx, ResultsStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{resultsPrefix + dispatch}, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		it, err := cons.Messages(jetstream.PullHeartbeat(resultsHeartbeat), jetstream.PullExpiry(resultsExpiry))
		if err != nil {
			return err
		}
		r.it, r.pending = it, info.NumPending
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Stopping the iterator also ends a consumer reset waiting out a node.
	r.stop = context.AfterFunc(ctx, r.it.Stop)
	go func() {
		defer close(r.msgs)
		for {
			m, err := r.it.Next()
			if err != nil {
				r.err = err
				return
			}
			select {
			case r.msgs <- m:
			case <-r.done:
				return
			}
		}
	}()
	return r, nil
}

// next returns the next result, or nil if none came within wait.
func (r *resultReader) next(ctx context.Context, wait time.Duration) (jetstream.Msg, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case m, ok := <-r.msgs:
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case !ok:
			return nil, r.err
		}
		return m, nil
	case <-t.C:
		return nil, ctx.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close returns at once: stopping an iterator in the middle of a consumer
// reset waits for the reset, which waits for a NATS node.
func (r *resultReader) close() {
	r.stop()
	close(r.done)
	go r.it.Stop()
}
