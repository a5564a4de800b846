package evidence

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
)

// Open returns the file's content, gunzipped for .gz files; zip members are
// read in place from the zip. Reading more than Options.MaxFileBytes (or,
// for a zip member, more than Options.MaxZipRatio times its compressed size)
// fails with an error wrapping ErrTooLarge. Errors name the file by Rel.
// The caller closes the reader. Open is safe for concurrent use.
func (f *File) Open() (io.ReadCloser, error) {
	if f.src == nil {
		return nil, fmt.Errorf("open %s: file was not found by discovery", f.Rel)
	}
	raw, err := f.src.open(f)
	if err != nil {
		return nil, err
	}
	var r io.Reader = raw
	if f.gz {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("open %s: %w", f.Rel, errOrCorrupt(err))
		}
		r = zr
	}
	max := f.maxBytes
	if max <= 0 {
		max = defaultMaxFileBytes
	}
	return &readCloser{
		Reader: &namedReader{r: &limitReader{r: r, left: max, limit: max}, name: f.Rel},
		close:  raw.Close,
	}, nil
}

// errOrCorrupt turns the io.EOF gzip reports for an empty or cut header into
// an error that cannot be mistaken for a clean end.
func errOrCorrupt(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("gzip: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// diskFile is a log given as a root on its own.
type diskFile struct{ path string }

func (d diskFile) open(f *File) (io.ReadCloser, error) {
	fh, err := os.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Rel, pathless(err))
	}
	return fh, nil
}

// rootedFile is a file found below a walked root. Open checks that the file
// opened is the one discovery saw, so a path swapped for a symlink (or
// another file) after discovery cannot lead out of the root. One open and
// one fstat per file: os.Root would walk every path component with a
// syscall, which dominated the cost of hunting many small logs.
type rootedFile struct {
	path string
	info fs.FileInfo
}

func (d rootedFile) open(f *File) (io.ReadCloser, error) {
	fh, err := os.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Rel, pathless(err))
	}
	if d.info != nil && d.info.Mode()&fs.ModeSymlink == 0 {
		st, err := fh.Stat()
		if err != nil || !os.SameFile(st, d.info) {
			fh.Close()
			return nil, fmt.Errorf("open %s: the file was replaced after it was found", f.Rel)
		}
	}
	return fh, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// namedReader puts the file's name (for a zip member, zip!member) and the
// offset in its content where reading broke off on read errors.
type namedReader struct {
	r    io.Reader
	name string
	off  int64
}

func (n *namedReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	n.off += int64(k)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %s at offset %d: %w", n.name, n.off, err)
	}
	return k, err
}

// limitReader fails with ErrTooLarge once more than limit bytes come out of
// r. Unlike io.LimitReader it does not end silently: a truncated log would
// pass for a complete one.
type limitReader struct {
	r     io.Reader
	left  int64
	limit int64
	err   error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Ask for one byte more than allowed, to tell "exactly at the limit"
	// from "beyond it".
	if l.left < math.MaxInt64 && int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = 0
		l.err = tooLarge(l.limit)
		return n, l.err
	}
	l.left -= int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
}
