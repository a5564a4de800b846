package hunt

import (
	"context"

	"github.com/exhunt/exhunt/internal/evidence"
	"github.com/exhunt/exhunt/internal/logs"
)

// reader reads one kind of evidence file for a worker and reports what it
// found: a text log's records or an event log's events through the
// detectors, a host file through the file hunt.
type reader interface {
	// reads reports whether the reader takes files of this kind.
	reads(kind evidence.Kind) bool
	read(ctx context.Context, w *worker, j fileResult) fileResult
}

// readers is the explicit list of evidence readers; a file goes to the
// first that reads its kind. A new kind of evidence adds its reader here.
var readers = []reader{
	eventLogReader{},
	hostFileReader{},
	logTextReader{},
}

// eventLogReader reads Windows event logs (.evtx) with the event detectors.
type eventLogReader struct{}

func (eventLogReader) reads(k evidence.Kind) bool { return k == evidence.EVTX }
func (eventLogReader) read(ctx context.Context, w *worker, j fileResult) fileResult {
	return w.readEVTX(ctx, j)
}

// hostFileReader runs the file hunt over files from the server's disk and
// the Microsoft Safety Scanner's logs.
type hostFileReader struct{}

func (hostFileReader) reads(k evidence.Kind) bool {
	return k == evidence.HostFile || k == evidence.Msert
}
func (hostFileReader) read(ctx context.Context, w *worker, j fileResult) fileResult {
	return w.readHostFile(ctx, j)
}

// logTextReader reads the Exchange and IIS text logs of internal/logs'
// registry with the detectors of their kind.
type logTextReader struct{}

func (logTextReader) reads(k evidence.Kind) bool {
	_, ok := logs.FormatFor(string(k))
	return ok
}
func (logTextReader) read(ctx context.Context, w *worker, j fileResult) fileResult {
	return w.readLog(ctx, j)
}
