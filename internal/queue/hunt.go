package queue

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Object stores of distributed hunting: evidence uploaded by a dispatcher,
// and result documents written by workers (a hunt result outgrows a
// message: findings, evidence and timelines of a compromised server).
const (
	EvidenceBucket = "EXHUNT_EVIDENCE"
	ResultsBucket  = "EXHUNT_HUNT_RESULTS"

	huntJobSubject = "exhunt.jobs.hunt"

	// HuntWorkers is the durable consumer every hunt worker pulls from.
	HuntWorkers = "hunt-workers"
)

// HuntJob is one piece of evidence to hunt: an object in the evidence
// bucket (a zip) or a path on storage the workers share.
type HuntJob struct {
	Schema   int    `json:"schema"`
	Dispatch string `json:"dispatch"`
	ID       string `json:"id"`
	// Name is what the dispatcher was given (a folder or zip name).
	Name string `json:"name"`
	// Object names the uploaded zip; Path the shared location instead.
	Object string `json:"object,omitempty"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Options are the hunt's options, as the dispatcher's command line set
	// them; the worker's hunt function reads them.
	Options json.RawMessage `json:"options,omitempty"`
}

// HuntDone tells the dispatcher a job's result document is stored.
type HuntDone struct {
	Schema   int    `json:"schema"`
	Kind     string `json:"kind"` // "hunt"
	Dispatch string `json:"dispatch"`
	Job      string `json:"job"`
	Worker   string `json:"worker"`
	Object   string `json:"object"`
	// Error is set, and Object empty, when the evidence could not be hunted.
	Error string `json:"error,omitempty"`
}

// HuntFunc hunts evidence at a local path with the job's options and
// returns the result document (exhunt's JSON result).
type HuntFunc func(ctx context.Context, path string, options json.RawMessage) ([]byte, error)

func (c *Conn) huntStores(ctx context.Context) (evidence, results jetstream.ObjectStore, err error) {
	for _, b := range []struct {
		name string
		ttl  time.Duration
		out  *jetstream.ObjectStore
	}{{EvidenceBucket, 7 * 24 * time.Hour, &evidence}, {ResultsBucket, 14 * 24 * time.Hour, &results}} {
		err = retry(ctx, func(ctx context.Context) error {
			var e error
			*b.out, e = c.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: b.name, TTL: b.ttl,
				Replicas: c.cfg.Replicas, Storage: jetstream.FileStorage})
			return e
		})
		if err != nil {
			return nil, nil, fmt.Errorf("object store %s: %w", b.name, err)
		}
	}
	err = retry(ctx, func(ctx context.Context) error {
		_, e := c.JS.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
			Durable: HuntWorkers, FilterSubject: huntJobSubject, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: c.cfg.AckWait, MaxDeliver: c.cfg.MaxDeliver + 1, MaxAckPending: 1000,
		})
		return e
	})
	return evidence, results, err
}

// HuntDispatchOptions control a distributed hunt.
type HuntDispatchOptions struct {
	ID string
	// Shared says the paths are on storage every worker reaches under the
	// same name: they are not uploaded.
	Shared  bool
	Options json.RawMessage
	// Progress, when set, is called as jobs complete.
	Progress func(done, total int)
}

// DispatchHunt uploads each path (a zip as it is, a folder zipped on the
// way) unless Shared, queues one hunt job per path, and calls emit with
// each job's result document once, in the order they complete. Jobs that
// failed on the worker are returned as errors naming the evidence, after
// the others are emitted.
func (c *Conn) DispatchHunt(ctx context.Context, paths []string, do HuntDispatchOptions, emit func(name string, doc []byte) error) error {
	evidence, results, err := c.huntStores(ctx)
	if err != nil {
		return err
	}
	rr, err := c.readResults(ctx, do.ID)
	if err != nil {
		return err
	}
	defer rr.close()
	names := map[string]string{}
	for i, p := range paths {
		job := HuntJob{Schema: Schema, Dispatch: do.ID, ID: do.ID + ".h" + strconv.Itoa(i), Name: filepath.Base(p), Options: do.Options}
		if do.Shared {
			abs, err := filepath.Abs(p)
			if err != nil {
				return err
			}
			job.Path = abs
		} else {
			info, err := upload(ctx, evidence, job.ID, p)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			job.Object, job.Size, job.SHA256 = info.name, info.size, info.sha256
		}
		b, err := json.Marshal(job)
		if err != nil {
			return err
		}
		if err := c.publish(ctx, &nats.Msg{Subject: huntJobSubject, Data: b}, job.ID); err != nil {
			return err
		}
		names[job.ID] = p
	}
	done := map[string]bool{}
	var failed []error
	for len(done) < len(names) {
		m, err := rr.next(ctx, time.Second)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		var d HuntDone
		if json.Unmarshal(m.Data(), &d) != nil || d.Kind != "hunt" || done[d.Job] || names[d.Job] == "" {
			continue
		}
		done[d.Job] = true
		if d.Error != "" {
			failed = append(failed, fmt.Errorf("%s: hunted by %s: %s", names[d.Job], d.Worker, d.Error))
			continue
		}
		var doc []byte
		if err := retry(ctx, func(ctx context.Context) error {
			var e error
			doc, e = results.GetBytes(ctx, d.Object)
			return e
		}); err != nil {
			return fmt.Errorf("%s: result %s: %w", names[d.Job], d.Object, err)
		}
		if err := emit(names[d.Job], doc); err != nil {
			return err
		}
		if do.Progress != nil {
			do.Progress(len(done), len(names))
		}
	}
	return errors.Join(failed...)
}

type uploaded struct {
	name, sha256 string
	size         int64
}

// upload stores a zip as it is, or a folder as a zip written on the way
// (no temporary copy), under name.
func upload(ctx context.Context, store jetstream.ObjectStore, name, path string) (uploaded, error) {
	st, err := os.Stat(path)
	if err != nil {
		return uploaded{}, err
	}
	var r io.Reader
	var zipErr chan error
	if st.IsDir() {
		pr, pw := io.Pipe()
		zipErr = make(chan error, 1)
		go func() {
			err := zipDir(pw, path)
			pw.CloseWithError(err)
			zipErr <- err
		}()
		r = pr
	} else {
		f, err := os.Open(path)
		if err != nil {
			return uploaded{}, err
		}
		defer f.Close()
		r = f
	}
	h := sha256.New()
	info, err := store.Put(ctx, jetstream.ObjectMeta{Name: name, Description: filepath.Base(path)}, io.TeeReader(r, h))
	if zipErr != nil {
		if zerr := <-zipErr; zerr != nil && err == nil {
			err = zerr
		}
	}
	if err != nil {
		return uploaded{}, err
	}
	return uploaded{name: name, sha256: hex.EncodeToString(h.Sum(nil)), size: int64(info.Size)}, nil
}

// zipDir writes the regular files under root to w as a zip, with paths
// relative to root. Links are not followed.
func zipDir(w io.Writer, root string) error {
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Method = filepath.ToSlash(rel), zip.Deflate
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(fw, f)
		f.Close()
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}

// HuntWorkerOptions control a hunt worker.
type HuntWorkerOptions struct {
	Name string
	// Jobs is how many pieces of evidence are hunted at once.
	Jobs int
	// MaxEvidence bounds an evidence download.
	MaxEvidence int64
	// TempDir receives downloads, removed after each hunt.
	TempDir string
	Hunt    HuntFunc
	Log     func(format string, args ...any)
}

// WorkHunts takes hunt jobs until ctx ends. The result document is stored
// before the job is acknowledged; evidence that cannot be fetched or
// hunted is reported to the dispatcher as a failed job, not retried
// without end.
func (c *Conn) WorkHunts(ctx context.Context, wo HuntWorkerOptions) error {
	if wo.Jobs < 1 {
		wo.Jobs = 1
	}
	if wo.Log == nil {
		wo.Log = func(string, ...any) {}
	}
	evidence, results, err := c.huntStores(ctx)
	if err != nil {
		return err
	}
	cons, err := c.consumer(ctx, JobsStream, HuntWorkers)
	if err != nil {
		return err
	}
	pull(ctx, cons, wo.Jobs, func(m jetstream.Msg) { c.huntOne(ctx, m, evidence, results, wo) })
	return nil
}

func (c *Conn) huntOne(ctx context.Context, m jetstream.Msg, evidence, results jetstream.ObjectStore, wo HuntWorkerOptions) {
	deliveries := uint64(1)
	if meta, err := m.Metadata(); err == nil {
		deliveries = meta.NumDelivered
	}
	job, err := decodeHuntJob(m.Data())
	if err == nil && deliveries > uint64(c.cfg.MaxDeliver) {
		err = fmt.Errorf("delivered %d times without being completed", deliveries-1)
	}
	if err != nil {
		c.deadLetter(ctx, m, "hunt", deliveries, err, wo.Log)
		return
	}
	defer heartbeat(m, c.cfg.AckWait)()

	done := HuntDone{Schema: Schema, Kind: "hunt", Dispatch: job.Dispatch, Job: job.ID, Worker: wo.Name}
	doc, herr := c.huntJob(ctx, job, evidence, wo)
	if ctx.Err() != nil {
		m.Nak()
		return
	}
	if herr != nil {
		done.Error = herr.Error()
	} else {
		done.Object = job.Dispatch + "/" + job.ID + ".json"
		if err := retry(ctx, func(ctx context.Context) error {
			_, e := results.PutBytes(ctx, done.Object, doc)
			return e
		}); err != nil {
			m.Nak()
			return
		}
	}
	b, _ := json.Marshal(done)
	if err := c.publish(ctx, &nats.Msg{Subject: resultsPrefix + job.Dispatch, Data: b}, job.ID+".done"); err != nil {
		m.Nak()
		return
	}
	if err := retry(ctx, func(ctx context.Context) error { return m.DoubleAck(ctx) }); err != nil {
		wo.Log("hunt job %s: acknowledgement failed (%v)", job.ID, err)
		return
	}
	if herr != nil {
		wo.Log("hunt job %s (%s): %v", job.ID, job.Name, herr)
		return
	}
	wo.Log("hunt job %s (%s): %d-byte result", job.ID, job.Name, len(doc))
}

// huntJob fetches the evidence (checking size and digest) and hunts it.
func (c *Conn) huntJob(ctx context.Context, job *HuntJob, evidence jetstream.ObjectStore, wo HuntWorkerOptions) ([]byte, error) {
	if job.Path != "" {
		return wo.Hunt(ctx, job.Path, job.Options)
	}
	if wo.MaxEvidence > 0 && job.Size > wo.MaxEvidence {
		return nil, fmt.Errorf("evidence of %d bytes is over this worker's limit of %d", job.Size, wo.MaxEvidence)
	}
	dir, err := os.MkdirTemp(wo.TempDir, "exhunt-evidence-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, "evidence.zip")
	var got []byte
	err = retry(ctx, func(ctx context.Context) error {
		obj, e := evidence.Get(ctx, job.Object)
		if e != nil {
			return e
		}
		defer obj.Close()
		f, e := os.Create(local)
		if e != nil {
			return e
		}
		h := sha256.New()
		limit := wo.MaxEvidence
		if limit <= 0 {
			limit = 1 << 62
		}
		n, e := io.Copy(io.MultiWriter(f, h), io.LimitReader(obj, limit+1))
		if cerr := f.Close(); e == nil {
			e = cerr
		}
		if e != nil {
			return e
		}
		if n > limit {
			return fmt.Errorf("evidence is over this worker's limit of %d bytes", limit)
		}
		got = h.Sum(nil)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetching evidence %s: %w", job.Object, err)
	}
	if job.SHA256 != "" && hex.EncodeToString(got) != job.SHA256 {
		return nil, fmt.Errorf("evidence %s: SHA-256 %x, the dispatcher sent %s", job.Object, got, job.SHA256)
	}
	return wo.Hunt(ctx, local, job.Options)
}

func decodeHuntJob(data []byte) (*HuntJob, error) {
	job, err := decodeStrict(data, func(j *HuntJob) int { return j.Schema })
	switch {
	case err != nil:
		return nil, err
	case job.Dispatch == "" || job.ID == "":
		return nil, fmt.Errorf("%w: job without dispatch or id", ErrPoison)
	case (job.Object == "") == (job.Path == ""):
		return nil, fmt.Errorf("%w: a hunt job names an object or a path, not both or neither", ErrPoison)
	}
	return job, nil
}
