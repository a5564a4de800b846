package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/exhunt/exhunt/internal/evtx"
)

const evtxHelp = `Usage: exhunt evtx dump|stat [flags] FILE.evtx...

Read Windows event logs with exhunt's own reader.
  dump   print every event as one JSON line (evtx_dump's rendering), in
         file order, with the file name and record id
  stat   read every event and print per file: chunks, records, time span
         and damaged parts

Damaged chunks and records are reported on stderr and skipped; the rest of
the file is read. Flags:
`

func runEvtx(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fs := newFlags("evtx", evtxHelp, stderr)
		fs.evtxFlags()
		fs.Usage()
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "dump" && args[0] != "stat") {
		fmt.Fprint(stderr, evtxHelp)
		return usageError("evtx: want dump or stat", "")
	}
	mode := args[0]
	fs := newFlags("evtx "+mode, evtxHelp, stderr)
	workers := fs.evtxFlags()
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("evtx: no files given", "")
	}
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	failed := 0
	for _, path := range fs.Args() {
		if err := evtxFile(ctx, path, mode, *workers, w, stderr); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(stderr, "exhunt: %s: %v\n", path, err)
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: ExitError, msg: fmt.Sprintf("evtx: %d of %d files could not be read", failed, fs.NArg())}
	}
	return nil
}

// evtxFlags defines the flags of evtx dump and stat.
func (fs *flagSet) evtxFlags() *int {
	return fs.Int("workers", 0, "chunks parsed at once per file (0: one per CPU)")
}

func evtxFile(ctx context.Context, path, mode string, workers int, w *bufio.Writer, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r, err := evtx.Open(f, st.Size(), evtx.Options{Name: path})
	if err != nil {
		return err
	}
	var first, last evtx.Event
	stats, err := r.Events(ctx, workers, func(e *evtx.Event) error {
		if mode == "stat" {
			if first.Time.IsZero() || e.Time.Before(first.Time) {
				first.Time = e.Time
			}
			if e.Time.After(last.Time) {
				last.Time = e.Time
			}
			return nil
		}
		doc, err := e.JSON()
		if err != nil {
			fmt.Fprintf(stderr, "exhunt: %s record %d: %v\n", path, e.RecordID, err)
			return nil
		}
		fmt.Fprintf(w, `{"file":%q,"record":%d,"event":`, path, e.RecordID)
		w.Write(doc)
		w.WriteString("}\n")
		return nil
	})
	for _, p := range stats.Corrupt {
		fmt.Fprintf(stderr, "exhunt: %s\n", p)
	}
	if stats.MoreProblems > 0 {
		fmt.Fprintf(stderr, "exhunt: %s: %d more problems\n", path, stats.MoreProblems)
	}
	if mode == "stat" {
		fmt.Fprintf(w, "%s\tchunks %d\trecords %d\tdamaged %d", path, stats.Chunks, stats.Records, len(stats.Corrupt)+stats.MoreProblems)
		if !first.Time.IsZero() {
			fmt.Fprintf(w, "\t%s .. %s", first.Time.Format("2006-01-02T15:04:05Z"), last.Time.Format("2006-01-02T15:04:05Z"))
		}
		if stats.Dirty {
			w.WriteString("\tdirty")
		}
		w.WriteString("\n")
	}
	return err
}
