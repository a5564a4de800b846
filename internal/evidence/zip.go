package evidence

import (
	"archive/zip"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// zipRoot lists the log members of a zip given as a root. Only the central
// directory (and the local header of each recognised member) is read; the
// zip is closed again, and File.Open reopens it to read one member in place.
func zipRoot(ctx context.Context, b *builder, idx int, source, abs string, size int64, opt Options) error {
	fh, err := os.Open(abs)
	if err != nil {
		b.gap(finding.Gap{File: source, Reason: "cannot open zip: " + errReason(err)})
		return nil
	}
	defer fh.Close()
	zr, err := zip.NewReader(fh, size)
	// ErrInsecurePath (with GODEBUG=zipinsecurepath=0) still returns a
	// usable reader; member names are checked below either way.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		b.gap(finding.Gap{File: source, Reason: "corrupt or truncated zip, not read: " + err.Error()})
		return nil
	}

	base := filepath.Base(abs)
	anc := []string{base[:len(base)-len(".zip")]}
	skipped := 0
	gap := func(name, server, reason string) {
		if skipped++; skipped <= maxZipGaps {
			b.gap(finding.Gap{Server: server, File: base + "!" + name, Reason: reason})
		}
	}
	for i, zf := range zr.File {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		name := strings.ReplaceAll(zf.Name, `\`, "/")
		comps, ok := memberPath(name)
		if !ok {
			// Never extracted, but a name like "../../SRV9/Logging/..." must
			// not pass for evidence of another place.
			gap(name, "", "unsafe path in zip (absolute or with ..); member skipped")
			continue
		}
		if len(comps) == 0 || strings.HasSuffix(name, "/") || zf.Mode().IsDir() {
			continue
		}
		// Nested zips are never opened as archives; one in a place the
		// file hunt reads is read as bytes.
		c, ok := classify(anc, comps)
		if !ok {
			continue
		}
		root := base
		if c.prefix > 0 {
			root += "!" + strings.Join(comps[:c.prefix], "/")
		}
		p := placement{idx: idx, source: source, root: root, name: serverName(c, comps[:c.prefix], anc)}
		rel := base + "!" + strings.Join(comps, "/")

		switch {
		case zf.Flags&0x1 != 0:
			gap(strings.Join(comps, "/"), p.name, "encrypted zip member, not read")
			continue
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			gap(strings.Join(comps, "/"), p.name, "unsupported zip compression method "+strconv.Itoa(int(zf.Method)))
			continue
		}
		off, err := zf.DataOffset()
		if err != nil {
			gap(strings.Join(comps, "/"), p.name, "corrupt zip member: "+err.Error())
			continue
		}
		if zf.CompressedSize64 > uint64(size) || off < 0 || off > size-int64(zf.CompressedSize64) {
			gap(strings.Join(comps, "/"), p.name, "zip member extends past the end of the archive (truncated zip)")
			continue
		}
		b.add(p, &File{
			Kind: c.kind, Sub: c.sub, Rel: rel, Path: c.path, Size: int64(zf.CompressedSize64),
			ModTime: zf.Modified, Created: ntfsCreated(zf.Extra),
			src: zipMember{
				zip: abs, off: off, csize: int64(zf.CompressedSize64), usize: zf.UncompressedSize64,
				crc: zf.CRC32, method: zf.Method, ratio: opt.MaxZipRatio,
			},
			gz: isGzName(name) && !isHostKind(c.kind), maxBytes: opt.MaxFileBytes,
		})
	}
	if skipped > maxZipGaps {
		b.gap(finding.Gap{File: source, Reason: strconv.Itoa(skipped-maxZipGaps) + " more skipped zip members not listed"})
	}
	return nil
}

// memberPath splits a zip member name ('/'-separated) into components and
// reports false for names that are absolute ("/x", "C:/x", "C:x") or climb
// with "..".
func memberPath(name string) ([]string, bool) {
	if strings.HasPrefix(name, "/") {
		return nil, false
	}
	comps := splitSlash(name)
	for i, c := range comps {
		if c == ".." || i == 0 && len(c) >= 2 && c[1] == ':' && isLetter(c[0]) {
			return nil, false
		}
	}
	return comps, true
}

// zipMember reads one member in place. archive/zip keeps the *os.File it was
// given, so instead of keeping zips open (or reparsing the central directory
// for every member) the member's data offset is kept and decompressed here.
type zipMember struct {
	zip    string
	off    int64
	csize  int64
	usize  uint64
	crc    uint32
	method uint16
	ratio  int64
}

func (z zipMember) open(f *File) (io.ReadCloser, error) {
	fh, err := os.Open(z.zip)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Rel, pathless(err))
	}
	var r io.Reader = io.NewSectionReader(fh, z.off, z.csize)
	closeAll := fh.Close
	if z.method == zip.Deflate {
		fr := flate.NewReader(r)
		r = fr
		closeAll = func() error { fr.Close(); return fh.Close() }
	}
	limit := f.maxBytes
	if limit <= 0 {
		limit = defaultMaxFileBytes
	}
	if z.ratio > 0 && z.csize <= math.MaxInt64/z.ratio {
		limit = min(limit, z.csize*z.ratio)
	}
	return &readCloser{
		Reader: &zipCheck{r: &limitReader{r: r, left: limit, limit: limit}, member: z, limit: limit, crc: crc32.NewIEEE()},
		close:  closeAll,
	}, nil
}

// zipCheck enforces what the central directory declares: a declared size
// beyond the limit is refused before inflating anything, and the data must
// have the declared size and CRC (as archive/zip checks).
type zipCheck struct {
	r       io.Reader
	member  zipMember
	limit   int64
	n       uint64
	crc     hash.Hash32
	started bool
	err     error
}

func (z *zipCheck) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if !z.started {
		z.started = true
		if z.member.usize > uint64(z.limit) {
			z.err = fmt.Errorf("%w: declared size %d", tooLarge(z.limit), z.member.usize)
			return 0, z.err
		}
	}
	n, err := z.r.Read(p)
	z.n += uint64(n)
	z.crc.Write(p[:n])
	switch {
	case z.n > z.member.usize:
		err = fmt.Errorf("%w: member data longer than its declared size", zip.ErrFormat)
	case err == io.EOF && z.n < z.member.usize:
		err = fmt.Errorf("zip member shorter than its declared size: %w", io.ErrUnexpectedEOF)
	case err == io.EOF && z.member.crc != 0 && z.crc.Sum32() != z.member.crc:
		err = zip.ErrChecksum
	}
	if err != nil {
		z.err = err
	}
	return n, err
}

// ntfsCreated reads the creation time from a member's NTFS extra field
// (tag 0x000a, attribute 1: modification, access and creation times as
// FILETIMEs), which Windows tools write; zero when absent or malformed.
func ntfsCreated(extra []byte) time.Time {
	for len(extra) >= 4 {
		tag := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if size > len(extra) {
			return time.Time{}
		}
		field := extra[:size]
		extra = extra[size:]
		if tag != 0x000a || len(field) < 4 {
			continue
		}
		attrs := field[4:] // 4 reserved bytes
		for len(attrs) >= 4 {
			atag := binary.LittleEndian.Uint16(attrs)
			asize := int(binary.LittleEndian.Uint16(attrs[2:]))
			attrs = attrs[4:]
			if asize > len(attrs) {
				return time.Time{}
			}
			if atag == 1 && asize >= 24 {
				return fileTime(binary.LittleEndian.Uint64(attrs[16:24]))
			}
			attrs = attrs[asize:]
		}
	}
	return time.Time{}
}

// fileTime converts a Windows FILETIME (100 ns ticks since 1601) to UTC;
// zero, pre-1970 and post-9999 values give the zero time (a year past 9999
// cannot be written as JSON).
func fileTime(ft uint64) time.Time {
	const ticksTo1970 = 116444736000000000
	const ticksTo10000 = (253402300800 + 11644473600) * 10000000
	if ft <= ticksTo1970 || ft >= ticksTo10000 {
		return time.Time{}
	}
	d := ft - ticksTo1970
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}
