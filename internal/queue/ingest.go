package queue

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The ingest bus: serve replicas publish each validated run to
// IngestStream and answer 202; one durable consumer, shared by every
// replica, writes the runs to the store. The bus carries a run's JSON as
// bytes: what a run is, and how it is stored, is the fleet server's.
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
	if err := c.ensureStream(ctx, jetstream.StreamConfig{Name: IngestStream, Subjects: []string{"exhunt.ingest.>"},
		Retention: jetstream.WorkQueuePolicy, Description: "fleet runs accepted by a serve replica, removed once stored"}); err != nil {
		return err
	}
	return c.ensureConsumer(ctx, IngestStream, jetstream.ConsumerConfig{
		Durable: IngestWriters, FilterSubject: ingestSubject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: ic.AckWait, MaxDeliver: -1, MaxAckPending: ic.MaxAckPending,
	})
}

// ErrTooLarge is a run over the NATS servers' max_payload, compressed.
var ErrTooLarge = errors.New("run too large for the ingest stream")

// PublishRun publishes a validated run's JSON, compressed, under the
// message id id (the run's identity: a resend within the duplicate window
// is stored once in the stream too). It returns once JetStream has stored
// it (on a majority of the replicas), retrying through a leader election
// for at most a minute; duplicate says the stream had it already.
func (c *Conn) PublishRun(ctx context.Context, run []byte, received time.Time, id string) (duplicate bool, err error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(run)
	zw.Close()
	if limit := c.NC.MaxPayload(); int64(buf.Len())+1024 > limit {
		return false, fmt.Errorf("%w: %d bytes compressed, the NATS servers take %d: send the run in smaller batches", ErrTooLarge, buf.Len(), limit)
	}
	msg := &nats.Msg{Subject: ingestSubject, Data: buf.Bytes(), Header: nats.Header{}}
	msg.Header.Set(HeaderEncoding, "gzip")
	msg.Header.Set(HeaderReceived, received.UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = retry(ctx, func(ctx context.Context) error {
		ack, err := c.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		if err == nil {
			duplicate = ack.Duplicate
		}
		return err
	})
	return duplicate, err
}

// ErrRefused marks a RunWriter's error as the store turning the run down
// for what it holds, rather than for being unreachable or busy: the run
// is dead-lettered after MaxDeliver deliveries instead of waiting.
var ErrRefused = errors.New("refused by the store")

// RunWriter stores one run (its JSON, and when a replica accepted it). It
// must be idempotent: a run stored by a writer that died before the
// acknowledgement is delivered again. Its errors wrapping ErrPoison or
// ErrRefused are the run's fault; any other error is the store's, and the
// run waits.
type RunWriter func(ctx context.Context, run []byte, received time.Time) error

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
// ctx ends. A run is acknowledged only after w returned, that is after the
// store committed it.
func (c *Conn) WriteRuns(ctx context.Context, w RunWriter, o WriterOptions) error {
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
	cons, err := c.consumer(ctx, IngestStream, IngestWriters)
	if err != nil {
		return err
	}
	pull(ctx, cons, o.Concurrency, func(m jetstream.Msg) { c.writeRun(ctx, m, w, o) })
	return nil
}

func (c *Conn) writeRun(ctx context.Context, msg jetstream.Msg, w RunWriter, o WriterOptions) {
	deliveries := uint64(1)
	var published time.Time
	if meta, err := msg.Metadata(); err == nil {
		deliveries, published = meta.NumDelivered, meta.Timestamp
	}
	run, received, err := openRun(msg.Data(), msg.Headers(), published)
	if err == nil {
		stop := heartbeat(msg, c.ingestAckWait)
		err = w(ctx, run, received)
		stop()
	}
	switch {
	case err == nil:
		if err := retry(ctx, func(ctx context.Context) error { return msg.DoubleAck(ctx) }); err != nil {
			o.Log("ingest stream sequence %d: acknowledgement failed (%v); it will be delivered again and found stored", seqOf(msg), err)
		}
	case ctx.Err() != nil:
		msg.Nak()
	case errors.Is(err, ErrPoison) || errors.Is(err, ErrRefused):
		if deliveries < uint64(o.MaxDeliver) {
			msg.NakWithDelay(o.Retry)
			return
		}
		c.deadLetter(ctx, msg, "ingest", deliveries, err, o.Log)
	default:
		// The store is down or busy: the run waits in the stream.
		o.Log("ingest stream sequence %d: not stored (%v); retrying in %s", seqOf(msg), err, o.Retry)
		msg.NakWithDelay(o.Retry)
	}
}

func seqOf(m jetstream.Msg) uint64 {
	if meta, err := m.Metadata(); err == nil {
		return meta.Sequence.Stream
	}
	return 0
}

// openRun undoes the transport: the body's compression and the headers.
func openRun(data []byte, h nats.Header, published time.Time) ([]byte, time.Time, error) {
	body := data
	switch enc := h.Get(HeaderEncoding); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: gzip: %v", ErrPoison, err)
		}
		defer zr.Close()
		body, err = io.ReadAll(io.LimitReader(zr, maxRunDecoded+1))
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: gzip: %v", ErrPoison, err)
		}
		if len(body) > maxRunDecoded {
			return nil, time.Time{}, fmt.Errorf("%w: decompresses to more than %d bytes", ErrPoison, maxRunDecoded)
		}
	default:
		return nil, time.Time{}, fmt.Errorf("%w: encoding %q", ErrPoison, enc)
	}
	received := published
	if v := h.Get(HeaderReceived); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("%w: %s header %q: %v", ErrPoison, HeaderReceived, v, err)
		}
		received = t
	}
	if received.IsZero() {
		received = time.Now()
	}
	return body, received.UTC(), nil
}
