// Package queue owns exhunt's distributed work on NATS JetStream: the
// streams (jobs, results, dead letters), the messages on them, the
// dispatcher that splits a scan into jobs and gathers the results, and the
// worker that takes jobs. JetStream keeps the work: a job stays in the
// work-queue stream until a worker acknowledges it, which a worker does
// only after every result of the job is stored in the results stream, so
// a worker that dies mid-job leaves the job to be delivered again.
//
// Every message carries a schema version. Results carry their dispatch,
// job and target sequence number, and are published with a message id
// derived from them, so a job run twice stores each result once within the
// duplicate window, and readers drop any later duplicate by target.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Schema is the version of the job and result messages.
const Schema = 1

// Stream names and subjects.
const (
	JobsStream    = "EXHUNT_JOBS"
	ResultsStream = "EXHUNT_RESULTS"
	DeadStream    = "EXHUNT_DEAD"

	scanJobSubject = "exhunt.jobs.scan"
	resultsPrefix  = "exhunt.results."
	deadPrefix     = "exhunt.dead."

	// ScanWorkers is the durable consumer every scan worker pulls from.
	ScanWorkers = "scan-workers"
)

// Config sets up the streams and the workers' consumer.
type Config struct {
	// Replicas of each stream: 3 on a three-node cluster, 1 on one server.
	Replicas int
	// AckWait is how long a job may go without word from its worker (a
	// worker reports progress well within it) before it is delivered again.
	AckWait time.Duration
	// MaxDeliver is how often a job is delivered before it is moved to the
	// dead-letter stream.
	MaxDeliver int
	// Duplicates is the window in which a message id is stored once.
	Duplicates time.Duration
}

// DefaultConfig suits a three-node cluster.
func DefaultConfig() Config {
	return Config{Replicas: 3, AckWait: 30 * time.Second, MaxDeliver: 5, Duplicates: 30 * time.Minute}
}

// Conn is a connection to NATS with the streams in place.
type Conn struct {
	NC  *nats.Conn
	JS  jetstream.JetStream
	cfg Config
	// ingestAckWait is the ingest writers' ack wait (EnsureIngest).
	ingestAckWait time.Duration
}

// Connect connects to the servers in url (comma-separated for a cluster)
// and creates or updates the streams. The client reconnects without end:
// a NATS node that restarts, or the cluster's leader moving, is waited out.
func Connect(ctx context.Context, url, name string, cfg Config) (*Conn, error) {
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.MaxDeliver < 1 {
		cfg.MaxDeliver = 1
	}
	// Async errors are connection losses the client recovers from by
	// itself; the default handler would print each to stderr.
	quiet := nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false), nats.Timeout(5*time.Second), quiet)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Conn{NC: nc, JS: js, cfg: cfg}
	if err := c.ensureStreams(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Close drains the connection.
func (c *Conn) Close() error { return c.NC.Drain() }

func (c *Conn) ensureStreams(ctx context.Context) error {
	streams := []jetstream.StreamConfig{
		{Name: JobsStream, Subjects: []string{"exhunt.jobs.>"}, Retention: jetstream.WorkQueuePolicy,
			Description: "exhunt jobs: each is removed once a worker acknowledges it"},
		{Name: ResultsStream, Subjects: []string{resultsPrefix + ">"}, Retention: jetstream.LimitsPolicy,
			MaxAge: 14 * 24 * time.Hour, Description: "exhunt results, one subject per dispatch"},
		{Name: DeadStream, Subjects: []string{deadPrefix + ">"}, Retention: jetstream.LimitsPolicy,
			MaxAge: 30 * 24 * time.Hour, Description: "messages no worker could handle, with the reason"},
	}
	for _, sc := range streams {
		if err := c.ensureStream(ctx, sc); err != nil {
			return err
		}
	}
	return c.ensureConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
		Durable: ScanWorkers, FilterSubject: scanJobSubject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: c.cfg.AckWait, MaxDeliver: c.cfg.MaxDeliver + 1, MaxAckPending: 10000,
	})
}

// ensureStream creates or updates a stream with the connection's
// replicas and duplicate window, on file storage.
func (c *Conn) ensureStream(ctx context.Context, sc jetstream.StreamConfig) error {
	sc.Replicas = c.cfg.Replicas
	sc.Storage = jetstream.FileStorage
	sc.Duplicates = c.cfg.Duplicates
	if err := retry(ctx, func(ctx context.Context) error {
		_, err := c.JS.CreateOrUpdateStream(ctx, sc)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamNameInUse || apiErr.ErrorCode == errCodeSubjectOverlap) {
			// Another process created the stream between our lookup and
			// our create: the next try finds it and updates it.
			return fmt.Errorf("stream %s was being created by another process (%v)", sc.Name, err)
		}
		return err
	}); err != nil {
		return fmt.Errorf("stream %s: %w", sc.Name, err)
	}
	return nil
}

// errCodeSubjectOverlap is JetStream's answer to creating a stream whose
// subjects another stream holds: also what a create racing another
// process's create of the same stream gets.
const errCodeSubjectOverlap jetstream.ErrorCode = 10065

// ensureConsumer creates or updates a durable consumer on stream.
func (c *Conn) ensureConsumer(ctx context.Context, stream string, cc jetstream.ConsumerConfig) error {
	return retry(ctx, func(ctx context.Context) error {
		_, err := c.JS.CreateOrUpdateConsumer(ctx, stream, cc)
		return err
	})
}

// publish stores one message, retrying while the cluster elects a leader
// or a node restarts; the message id makes the retries safe.
func (c *Conn) publish(ctx context.Context, msg *nats.Msg, id string) error {
	return retry(ctx, func(ctx context.Context) error {
		_, err := c.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		return err
	})
}

// retry runs fn until it succeeds or ctx ends, each try bounded to a few
// seconds, with a short backoff: JetStream answers "no responders" or
// times out for as long as a stream has no leader.
func retry(ctx context.Context, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(tctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err)
		}
		if !transient(err) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// transient says whether an error can pass by itself (a node restarting,
// a leader election), as opposed to a refusal that will not change.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNotFound, jetstream.JSErrCodeConsumerNotFound:
			return true
		}
		return apiErr.Code == 503 || apiErr.Code == 500 || apiErr.Code == 408
	}
	return true
}
