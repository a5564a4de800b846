package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/store"
	"github.com/exhunt/exhunt/internal/queue"
)

// Bus is the Queue of serve replicas: the ingest stream on NATS JetStream.
type Bus struct{ Conn *queue.Conn }

// Enqueue publishes m under its identity, "<run id>.<batch>", so a
// client's resend within the stream's duplicate window is stored once in
// the stream as well as in the store.
func (b Bus) Enqueue(ctx context.Context, m *fleet.Run, received time.Time) (bool, error) {
	raw, err := m.Marshal()
	if err != nil {
		return false, err
	}
	dup, err := b.Conn.PublishRun(ctx, raw, received, m.RunID+"."+strconv.Itoa(m.Batch))
	if errors.Is(err, queue.ErrTooLarge) {
		return false, fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return dup, err
}

// WriteFromBus stores the runs of the ingest stream in sink until ctx
// ends, as strictly as the HTTP front reads a post: a run that fails to
// decode is poison. sink must be idempotent by run id and batch (the
// store is).
func WriteFromBus(ctx context.Context, c *queue.Conn, sink Sink, o queue.WriterOptions) error {
	return c.WriteRuns(ctx, func(ctx context.Context, data []byte, received time.Time) error {
		m, err := DecodeQueued(data)
		if err != nil {
			return err
		}
		if _, err := sink.Ingest(ctx, m, received); err != nil {
			if refused(err) {
				return fmt.Errorf("%w: run %s batch %d: %w", queue.ErrRefused, m.RunID, m.Batch, err)
			}
			return err
		}
		return nil
	}, o)
}

// DecodeQueued reads a run taken from the queue: a valid message whose
// organisation the accepting replica filled in.
func DecodeQueued(data []byte) (*fleet.Run, error) {
	m, err := fleet.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", queue.ErrPoison, err)
	}
	if m.Org == "" {
		return nil, fmt.Errorf("%w: run %s names no organisation", queue.ErrPoison, m.RunID)
	}
	return m, nil
}

// refused says whether the store turned the run down for what it holds
// (an unknown organisation, a value PostgreSQL will not take) rather than
// for being unreachable, busy or restarting.
func refused(err error) bool {
	if errors.Is(err, store.ErrUnknownOrg) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		// connection, transaction rollback (serialisation, deadlock),
		// resources, lock not available, operator intervention, system.
		case "08", "40", "53", "55", "57", "58":
			return false
		}
		return true
	}
	return false
}
