// Package progress shows how far a long hunt has got: an overall bar (files
// and bytes done, rate, time left) and one line per worker with the file it
// reads. It draws on a terminal only, on stderr, so results on stdout are
// never mixed with it.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exhunt/exhunt/internal/visible"
)

// Tracker counts work; workers update it, a Display reads it.
type Tracker struct {
	totalFiles, totalBytes atomic.Int64
	files, bytes           atomic.Int64
	workers                []worker
}

type worker struct {
	name       atomic.Pointer[string]
	size, read atomic.Int64
}

// NewTracker makes a tracker for n workers.
func NewTracker(n int) *Tracker { return &Tracker{workers: make([]worker, n)} }

// SetTotal sets the amount of work.
func (t *Tracker) SetTotal(files int, bytes int64) {
	t.totalFiles.Store(int64(files))
	t.totalBytes.Store(bytes)
}

// Begin says worker w starts a file of the given size (as stored).
func (t *Tracker) Begin(w int, name string, size int64) {
	if t == nil || w >= len(t.workers) {
		return
	}
	t.workers[w].name.Store(&name)
	t.workers[w].size.Store(size)
	t.workers[w].read.Store(0)
}

// Read adds bytes worker w has read from its file.
func (t *Tracker) Read(w int, n int64) {
	if t == nil || w >= len(t.workers) {
		return
	}
	t.workers[w].read.Add(n)
}

// End says worker w finished its file; the file counts with its stored
// size, whatever it decompressed to.
func (t *Tracker) End(w int) {
	if t == nil || w >= len(t.workers) {
		return
	}
	t.files.Add(1)
	t.bytes.Add(t.workers[w].size.Load())
	t.workers[w].name.Store(nil)
	t.workers[w].read.Store(0)
}

// Reader counts what is read through it for worker w.
func (t *Tracker) Reader(w int, r io.Reader) io.Reader {
	if t == nil {
		return r
	}
	return &countReader{r: r, t: t, w: w}
}

type countReader struct {
	r io.Reader
	t *Tracker
	w int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.t.Read(c.w, int64(n))
	return n, err
}

// IsTerminal reports whether f is an interactive terminal.
func IsTerminal(f *os.File) bool {
	if f == nil || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Display redraws the tracker's state on w until stopped.
type Display struct {
	t     *Tracker
	w     io.Writer
	start time.Time
	lines int
	stop  chan struct{}
	done  sync.WaitGroup
	now   func() time.Time
}

// Start draws every interval until Stop. Call only for a terminal.
func Start(w io.Writer, t *Tracker, interval time.Duration) *Display {
	d := &Display{t: t, w: w, start: time.Now(), stop: make(chan struct{}), now: time.Now}
	d.done.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-d.stop:
				d.clear()
				return
			case <-tick.C:
				d.draw()
			}
		}
	})
	return d
}

// Stop clears the display.
func (d *Display) Stop() {
	if d == nil {
		return
	}
	close(d.stop)
	d.done.Wait()
}

func (d *Display) clear() {
	if d.lines == 0 {
		return
	}
	// up to the first line, then clear to the end of the screen
	fmt.Fprintf(d.w, "\r\x1b[%dA\x1b[J", d.lines-1)
	d.lines = 0
}

func (d *Display) draw() {
	var b strings.Builder
	if d.lines > 1 {
		fmt.Fprintf(&b, "\r\x1b[%dA", d.lines-1)
	} else {
		b.WriteString("\r")
	}
	lines := Render(d.t, d.now().Sub(d.start))
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(l)
		b.WriteString("\x1b[K")
	}
	d.lines = len(lines)
	io.WriteString(d.w, b.String())
}

// Snapshot is how far the work has got: files and stored bytes done,
// counting what workers have read of their current files.
func (t *Tracker) Snapshot() (files, totalFiles, bytes, totalBytes int64) {
	if t == nil {
		return 0, 0, 0, 0
	}
	bytes = t.bytes.Load()
	for i := range t.workers {
		w := &t.workers[i]
		bytes += min(w.read.Load(), w.size.Load())
	}
	return t.files.Load(), t.totalFiles.Load(), bytes, t.totalBytes.Load()
}

// Render returns the lines of the display for elapsed time: the overall
// bar, then one line per busy worker.
func Render(t *Tracker, elapsed time.Duration) []string {
	files, tf, cur, tb := t.Snapshot()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(cur) / s
	}
	left := "?"
	if rate > 0 && tb > cur {
		left = time.Duration(float64(tb-cur) / rate * float64(time.Second)).Round(time.Second).String()
	} else if tb > 0 && cur >= tb {
		left = "0s"
	}
	lines := []string{fmt.Sprintf("hunting %s %d/%d files  %s/%s  %s/s  %s left",
		bar(cur, tb, 24), files, tf, size(cur), size(tb), size(int64(rate)), left)}
	for i := range t.workers {
		w := &t.workers[i]
		name := w.name.Load()
		if name == nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s %s", bar(w.read.Load(), w.size.Load(), 12), shorten(*name, 90)))
	}
	return lines
}

func bar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	n := int(float64(width) * float64(min(done, total)) / float64(total))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// shorten keeps the end of a path, which names the file, and drops control
// characters: file names are evidence and must not drive the terminal.
// shorten shows s visibly (file names come from the evidence and may hold
// escape sequences) and keeps its last n characters.
func shorten(s string, n int) string {
	s = visible.String(s)
	if r := []rune(s); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return s
}
