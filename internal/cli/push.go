package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/exhunt/exhunt/internal/decoy"
	"github.com/exhunt/exhunt/internal/finding"
	"github.com/exhunt/exhunt/internal/fleet"
	"github.com/exhunt/exhunt/internal/fleet/ingest"
	"github.com/exhunt/exhunt/internal/scan"
	"github.com/exhunt/exhunt/internal/stream"
)

// pushFlags are the flags hunt, scan and decoy share to send their results
// to a fleet server.
type pushFlags struct {
	url, tokenFile, spool string
	wait                  time.Duration
}

func addPushFlags(fs *flag.FlagSet) *pushFlags {
	p := &pushFlags{}
	fs.StringVar(&p.url, "push", "", "send results to the fleet server at this URL; several, comma-separated, for serve replicas (token from EXHUNT_TOKEN or --push-token-file)")
	fs.StringVar(&p.tokenFile, "push-token-file", "", "file holding the fleet server's ingest token")
	fs.StringVar(&p.spool, "push-spool", "", "spool directory for results not yet accepted (default: in the user cache directory)")
	fs.DurationVar(&p.wait, "push-wait", 2*time.Minute, "how long to keep retrying at the end; what is left stays spooled for the next run")
	return p
}

func (p *pushFlags) pusher(stderr io.Writer) (*ingest.Pusher, error) {
	if p.url == "" {
		return nil, nil
	}
	tok, err := ingest.Token(p.tokenFile)
	if err != nil {
		return nil, usageError(err.Error(), "")
	}
	spool := p.spool
	if spool == "" {
		spool = ingest.DefaultSpool(p.url)
	}
	var mu sync.Mutex
	return &ingest.Pusher{URL: p.url, Token: tok, Spool: spool, Log: func(f string, a ...any) {
		mu.Lock()
		fmt.Fprintf(stderr, "exhunt: "+f+"\n", a...)
		mu.Unlock()
	}}, nil
}

// finish sends what is spooled, within --push-wait.
func (p *pushFlags) finish(ctx context.Context, pu *ingest.Pusher, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, p.wait)
	defer cancel()
	if _, err := pu.Flush(ctx); err != nil {
		left, _ := pu.Pending()
		return fmt.Errorf("push: %d message(s) left in %s; they are sent on the next --push: %v", len(left), pu.Spool, err)
	}
	return nil
}

// pushHunt sends a hunt result.
func (p *pushFlags) pushHunt(ctx context.Context, res *finding.Result, stderr io.Writer) error {
	pu, err := p.pusher(stderr)
	if pu == nil || err != nil {
		return err
	}
	if err := pu.Enqueue(&fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: fleet.TypeHunt, RunID: fleet.NewRunID("hunt"), Hunt: res}); err != nil {
		return err
	}
	return p.finish(ctx, pu, stderr)
}

// tee passes JSON lines (scan results or decoy events) on to w and sends
// them to the server in batches as the run goes. close sends the rest.
func (p *pushFlags) tee(ctx context.Context, typ string, w io.Writer, stderr io.Writer) (io.Writer, func() error, error) {
	pu, err := p.pusher(stderr)
	if pu == nil || err != nil {
		return w, func() error { return nil }, err
	}
	if w == nil {
		w = io.Discard
	}
	lt := &lineTee{w: w, pu: pu, typ: typ, run: fleet.NewRunID(typ), last: time.Now()}
	bg, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { // sends while the run goes on
		defer close(done)
		for bg.Err() == nil {
			pu.Flush(bg)
			select {
			case <-bg.Done():
			case <-time.After(5 * time.Second):
				lt.mu.Lock()
				lt.enqueue()
				lt.mu.Unlock()
			}
		}
	}()
	return lt, func() error {
		lt.mu.Lock()
		lt.enqueue()
		lt.mu.Unlock()
		stop()
		<-done
		return p.finish(ctx, pu, stderr)
	}, nil
}

type lineTee struct {
	mu    sync.Mutex
	w     io.Writer
	pu    *ingest.Pusher
	typ   string
	run   string
	batch int
	part  []byte
	scan  []scan.Result
	decoy []decoy.Event
	last  time.Time
}

func (t *lineTee) Write(b []byte) (int, error) {
	n, err := t.w.Write(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, b...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		// The lines are stream messages: a scan's targets, a decoy's
		// events; starts, progress and the closing run are not sent.
		var m stream.Message
		if json.Unmarshal(t.part[:i], &m) == nil {
			switch {
			case t.typ == fleet.TypeScan && m.Target != nil:
				t.scan = append(t.scan, *m.Target)
			case t.typ == fleet.TypeDecoy && len(m.Event) > 0:
				var e decoy.Event
				if json.Unmarshal(m.Event, &e) == nil {
					t.decoy = append(t.decoy, e)
				}
			}
		}
		t.part = t.part[i+1:]
	}
	if len(t.scan) >= 1000 || len(t.decoy) >= 5000 {
		t.enqueue()
	}
	return n, err
}

// enqueue spools the lines gathered as the next batch; callers hold mu.
func (t *lineTee) enqueue() {
	if len(t.scan) == 0 && len(t.decoy) == 0 {
		return
	}
	m := &fleet.Run{SchemaVersion: fleet.SchemaVersion, Type: t.typ, RunID: t.run, Batch: t.batch, Scan: t.scan, Decoy: t.decoy}
	if err := t.pu.Enqueue(m); err != nil && t.pu.Log != nil {
		t.pu.Log("push: spool: %v", err)
		return
	}
	t.batch++
	t.scan, t.decoy = nil, nil
}
