package queue

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/fleet/store"
)

// The ingest bus: serve replicas publish each validated run to
// IngestStream and answer 202; one durable consumer, shared by every
// replica, writes the runs to the store.
const (
	IngestStream  = "EXHUNT_INGEST"
	ingestSubject = "exhunt.ingest.run"
	// IngestWriters is the durable consumer every serve replica pulls from.
	IngestWriters = "ingest-writers"

	// HeaderReceived is when a replica accepted the run (RFC 3339): the
	// store records that, not when a writer got to it.
	HeaderReceived = "Exhunt-Received"
	// HeaderEncoding is "gzip" for a compressed body.
	HeaderEncoding = "Exhunt-Encoding"

	// maxRunDecoded bounds a run's body after gzip, as the HTTP front does.
	maxRunDecoded = 256 << 20
)

// IngestConfig sets up the ingest stream's writers.
type IngestConfig struct {
	// AckWait is how long a run may go without word from its writer before
	// it is delivered to another.
	AckWait time.Duration
	// MaxAckPending bounds the runs held by all writers at once.
	MaxAckPending int
}

// EnsureIngest creates or updates the ingest stream (work-queue retention:
// a run is removed once written) and its writers' consumer. Deliveries are
// not capped: a run the store cannot take because it is down waits for it;
// the writers themselves move unreadable or refused runs to EXHUNT_DEAD.
func (c *Conn) EnsureIngest(ctx context.Context, ic IngestConfig) error {
	if ic.AckWait <= 0 {
		ic.AckWait = c.cfg.AckWait
	}
	if ic.MaxAckPending <= 0 {
		ic.MaxAckPending = 1000
	}
	c.ingestAckWait = ic.AckWait
	sc := jetstream.StreamConfig{Name: IngestStream, Subjects: []string{"exhunt.ingest.>"}, Retention: jetstream.WorkQueuePolicy,
		Description: "fleet runs accepted by a serve replica, removed once stored",
		Replicas:    c.cfg.Replicas, Storage: jetstream.FileStorage, Duplicates: c.cfg.Duplicates}
	if err := retry(ctx, func(ctx context.Context) error {
		_, err := c.JS.CreateOrUpdateStream(ctx, sc)
		return err
	}); err != nil {
		return fmt.Errorf("stream %s: %w", IngestStream, err)
	}
	return retry(ctx, func(ctx context.Context) error {
		_, err := c.JS.CreateOrUpdateConsumer(ctx, IngestStream, jetstream.ConsumerConfig{
			Durable: IngestWriters, FilterSubject: ingestSubject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: ic.AckWait, MaxDeliver: -1, MaxAckPending: ic.MaxAckPending,
		})
		return err
	})
}

// Enqueue publishes a validated run, compressed, under the message id
// "<run id>.<batch>": the store's own identity, so a client's resend
// within the duplicate window is stored once in the stream as well. It
// returns once JetStream has stored it (on a majority of the replicas),
// retrying through a leader election for at most a minute. It implements
// ingest.Queue.
func (c *Conn) Enqueue(ctx context.Context, m *fleet.Run, received time.Time) (duplicate bool, err error) {
	raw, err := m.Marshal()
	if err != nil {
		return false, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(raw)
	zw.Close()
	if limit := c.NC.MaxPayload(); int64(buf.Len())+1024 > limit {
		return false, fmt.Errorf("%w: %d bytes compressed, the NATS servers take %d: send the run in smaller batches", ingest.ErrTooLarge, buf.Len(), limit)
	}
	msg := &nats.Msg{Subject: ingestSubject, Data: buf.Bytes(), Header: nats.Header{}}
	msg.Header.Set(HeaderEncoding, "gzip")
	msg.Header.Set(HeaderReceived, received.UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	id := m.RunID + "." + strconv.Itoa(m.Batch)
	err = retry(ctx, func(ctx context.Context) error {
		ack, err := c.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		if err == nil {
			duplicate = ack.Duplicate
		}
		return err
	})
	return duplicate, err
}

// WriterOptions control a replica's share of the ingest writers.
type WriterOptions struct {
	// Concurrency is the runs this replica writes at once.
	Concurrency int
	// MaxDeliver is how many deliveries an unreadable run, or one the
	// store refuses, gets before it goes to EXHUNT_DEAD. The deliveries
	// before that give a newer replica in a rolling upgrade the chance to
	// read a schema this one does not.
	MaxDeliver int
	// Retry is the wait before a run that failed is delivered again.
	Retry time.Duration
	// Log, when set, receives one line per failure and dead letter.
	Log func(format string, args ...any)
}

// WriteRuns takes runs from the ingest stream and stores them with w until
// ctx ends. A run is acknowledged only after w committed it; w must be
// idempotent (the store is, by run id and batch), because a writer that
// dies after the commit and before the acknowledgement leaves the run to
// be delivered again.
func (c *Conn) WriteRuns(ctx context.Context, w ingest.Sink, o WriterOptions) error {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.MaxDeliver < 1 {
		o.MaxDeliver = 1
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	var cons jetstream.Consumer
	if err := retry(ctx, func(ctx context.Context) error {
		var err error
		cons, err = c.JS.Consumer(ctx, IngestStream, IngestWriters)
		return err
	}); err != nil {
		return err
	}
	pull(ctx, cons, o.Concurrency, func(m jetstream.Msg) { c.writeRun(ctx, m, w, o) })
	return nil
}

func (c *Conn) writeRun(ctx context.Context, msg jetstream.Msg, w ingest.Sink, o WriterOptions) {
	deliveries := uint64(1)
	var published time.Time
	if meta, err := msg.Metadata(); err == nil {
		deliveries, published = meta.NumDelivered, meta.Timestamp
	}
	m, received, err := DecodeRun(msg.Data(), msg.Headers(), published)
	if err != nil {
		if deliveries < uint64(o.MaxDeliver) {
			msg.NakWithDelay(o.Retry)
			return
		}
		c.deadLetter(ctx, msg, "ingest", deliveries, err, o.Log)
		return
	}
	defer heartbeat(msg, c.ingestAckWait)()
	if _, err := w.Ingest(ctx, m, received); err != nil {
		switch {
		case ctx.Err() != nil:
			msg.Nak()
		case refused(err) && deliveries >= uint64(o.MaxDeliver):
			c.deadLetter(ctx, msg, "ingest", deliveries, fmt.Errorf("the store refused run %s batch %d %d times: %w", m.RunID, m.Batch, deliveries, err), o.Log)
		default:
			// The store is down or busy: the run waits in the stream.
			o.Log("run %s batch %d: not stored (%v); retrying in %s", m.RunID, m.Batch, err, o.Retry)
			msg.NakWithDelay(o.Retry)
		}
		return
	}
	if err := retry(ctx, func(ctx context.Context) error { return msg.DoubleAck(ctx) }); err != nil {
		o.Log("run %s batch %d: acknowledgement failed (%v); it will be delivered again and found stored", m.RunID, m.Batch, err)
	}
}

// DecodeRun reads a run from the ingest stream as strictly as the HTTP
// front reads a post: a message that fails here is poison.
func DecodeRun(data []byte, h nats.Header, published time.Time) (*fleet.Run, time.Time, error) {
	var r io.Reader = bytes.NewReader(data)
	switch enc := h.Get(HeaderEncoding); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: gzip: %v", errPoison, err)
		}
		defer zr.Close()
		r = io.LimitReader(zr, maxRunDecoded)
	default:
		return nil, time.Time{}, fmt.Errorf("%w: encoding %q", errPoison, enc)
	}
	m, err := fleet.Decode(r)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %v", errPoison, err)
	}
	if m.Org == "" {
		return nil, time.Time{}, fmt.Errorf("%w: run %s names no organisation", errPoison, m.RunID)
	}
	received := published
	if v := h.Get(HeaderReceived); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: %s header %q: %v", errPoison, HeaderReceived, v, err)
		}
		received = t
	}
	if received.IsZero() {
		received = time.Now()
	}
	return m, received.UTC(), nil
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
