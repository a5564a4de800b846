package evidence

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
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
	base := filepath.Base(abs)
	return b.zip(ctx, zipSite{
		idx: idx, source: source, label: base, gapFile: source,
		anc: []string{base[:len(base)-len(".zip")]}, root: base,
		arc: diskArchive(abs), size: size, depth: 1, opt: opt,
	})
}

// zipSite is one archive being listed: a zip given as a root, one found in
// a walked folder, or one nested in another zip.
type zipSite struct {
	idx     int
	source  string // the root as given
	label   string // the zip's display path, the prefix of its members' Rel
	gapFile string // the zip as named in a gap about the whole archive
	// anc are the components above the members, for classify: the zip's
	// own name without ".zip" last (unless it is a generic one like "logs")
	anc []string
	// root is the server root of members whose path names none
	root  string
	arc   archive
	size  int64
	depth int // 1 for a zip on disk
	opt   Options
}

const (
	// maxZipDepth bounds zips within zips (a zip on disk is depth 1).
	maxZipDepth = 4
	// defaultNestedBytes is the budget, per discovery, of compressed nested
	// zips inflated into memory to be read (a stored one is read in place
	// and costs nothing).
	defaultNestedBytes = 256 << 20
	// maxNestedZips bounds the zips within zips listed per discovery.
	maxNestedZips = 10000
	// maxRecovered bounds the members recovered from local headers.
	maxRecovered = 100000
)

// nested opens a zip found at rel below a walked folder (a server's zip
// beside server folders, a collection's zip).
func (w *walker) nested(rel []string, abs string, info fs.FileInfo) {
	stem := rel[len(rel)-1]
	stem = stem[:len(stem)-len(".zip")]
	anc := append(append([]string{}, w.anc...), rel[:len(rel)-1]...)
	root := w.display(rel[:len(rel)-1])
	if !isGeneric(stem) {
		anc = append(anc, stem)
		root = w.display(rel)
	}
	w.b.zip(w.ctx, zipSite{
		idx: w.idx, source: w.source, label: w.display(rel), gapFile: w.display(rel),
		anc: anc, root: root, arc: diskArchive(abs), size: info.Size(), depth: 1, opt: w.opt,
	})
}

// zip lists the members of one archive: log and host files are added,
// nested zips are listed in turn within the depth and memory budgets.
func (b *builder) zip(ctx context.Context, z zipSite) error {
	ra, done, err := z.arc.openAt()
	if err != nil {
		b.gap(finding.Gap{File: z.gapFile, Reason: "cannot open zip: " + errReason(err)})
		return nil
	}
	defer done()
	entries, err := zipEntries(ra, z.size)
	if err != nil {
		// No central directory (a zip cut short, a damaged end): what the
		// local headers still describe is read, up to the cut.
		entries = localEntries(ctx, ra, z.size)
		if len(entries) == 0 {
			b.gap(finding.Gap{File: z.gapFile, Reason: "corrupt or truncated zip, not read: " + err.Error()})
			return nil
		}
		b.gap(finding.Gap{File: z.gapFile, Reason: fmt.Sprintf("corrupt or truncated zip (%v): %d members recovered from their local headers; a member cut short is read up to the cut", err, len(entries))})
	}
	skipped := 0
	gap := func(name, server, reason string) {
		if skipped++; skipped <= maxZipGaps {
			b.gap(finding.Gap{Server: server, File: z.label + "!" + name, Reason: reason})
		}
	}
	for i, e := range entries {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		name := strings.ReplaceAll(e.name, `\`, "/")
		comps, ok := memberPath(name)
		if !ok {
			// Never extracted, but a name like "../../SRV9/Logging/..." must
			// not pass for evidence of another place.
			gap(name, "", "unsafe path in zip (absolute or with ..); member skipped")
			continue
		}
		if len(comps) == 0 || strings.HasSuffix(name, "/") || e.dir {
			continue
		}
		member := strings.Join(comps, "/")
		c, ok := classify(z.anc, comps)
		if !ok {
			if isZipName(comps[len(comps)-1]) {
				if err := b.nestedZip(ctx, z, e, comps, gap); err != nil {
					return err
				}
			}
			continue
		}
		root := z.root
		if c.prefix > 0 {
			root = z.label + "!" + strings.Join(comps[:c.prefix], "/")
		}
		p := placement{idx: z.idx, source: z.source, root: root, name: serverName(c, comps[:c.prefix], z.anc)}
		if reason := e.unreadable(); reason != "" {
			gap(member, p.name, reason)
			continue
		}
		if e.off < 0 || e.off > z.size {
			gap(member, p.name, "zip member starts past the end of the archive (truncated zip)")
			continue
		}
		// A member cut short by the end of the archive is read up to the
		// cut; reading it then fails, which reports the gap with its offset.
		csize := min(e.csize, z.size-e.off)
		b.add(p, &File{
			Kind: c.kind, Sub: c.sub, Rel: z.label + "!" + member, Path: c.path, Size: csize,
			ModTime: e.modified, Created: ntfsCreated(e.extra),
			src: zipMember{
				arc: z.arc, off: e.off, csize: csize, usize: e.usize, sized: e.sized,
				crc: e.crc, method: e.method, ratio: z.opt.MaxZipRatio,
			},
			gz: isGzName(name) && !isHostKind(c.kind), maxBytes: z.opt.MaxFileBytes,
		})
	}
	if skipped > maxZipGaps {
		b.gap(finding.Gap{File: z.gapFile, Reason: strconv.Itoa(skipped-maxZipGaps) + " more skipped zip members not listed"})
	}
	return nil
}

// nestedZip lists a zip held in another: a stored one is read in place, a
// compressed one is inflated into memory within the discovery's budget.
func (b *builder) nestedZip(ctx context.Context, z zipSite, e zipHeader, comps []string, gap func(name, server, reason string)) error {
	member := strings.Join(comps, "/")
	if z.depth >= maxZipDepth {
		gap(member, "", fmt.Sprintf("zip nested deeper than %d levels, not opened", maxZipDepth))
		return nil
	}
	// zips of zips multiply: bound how many are listed in all
	if b.nestedZips++; b.nestedZips > maxNestedZips {
		gap(member, "", fmt.Sprintf("more than %d nested zips in the evidence, not opened", maxNestedZips))
		return nil
	}
	if reason := e.unreadable(); reason != "" {
		gap(member, "", reason)
		return nil
	}
	if e.off < 0 || e.off > z.size {
		gap(member, "", "zip member starts past the end of the archive (truncated zip)")
		return nil
	}
	csize := min(e.csize, z.size-e.off)
	stem := comps[len(comps)-1]
	stem = stem[:len(stem)-len(".zip")]
	child := zipSite{
		idx: z.idx, source: z.source, label: z.label + "!" + member, gapFile: z.label + "!" + member,
		anc: append(append([]string{}, z.anc...), comps[:len(comps)-1]...), root: z.label + "!" + strings.Join(comps[:len(comps)-1], "/"),
		depth: z.depth + 1, opt: z.opt,
	}
	if len(comps) == 1 {
		child.root = z.root
	}
	if !isGeneric(stem) {
		child.anc = append(child.anc, stem)
		child.root = child.label
	}
	src := zipMember{arc: z.arc, off: e.off, csize: csize, usize: e.usize, sized: e.sized, crc: e.crc, method: e.method, ratio: z.opt.MaxZipRatio}
	if e.method == zip.Store {
		child.arc, child.size = sectionArchive{outer: z.arc, off: e.off, n: csize}, csize
		return b.zip(ctx, child)
	}
	budget := b.nestedLeft(z.opt)
	if e.sized && e.usize > uint64(budget) {
		gap(member, "", fmt.Sprintf("nested zip of %d bytes is over what is left of the budget for nested archives (%d bytes); extract it and hunt the folder", e.usize, budget))
		return nil
	}
	f := &File{Rel: child.label, maxBytes: budget}
	rc, err := src.open(f)
	if err != nil {
		gap(member, "", "cannot read nested zip: "+err.Error())
		return nil
	}
	data, err := io.ReadAll(&limitReader{r: rc, left: budget, limit: budget})
	rc.Close()
	if err != nil {
		reason := "cannot read nested zip: " + err.Error()
		if errors.Is(err, ErrTooLarge) {
			reason = fmt.Sprintf("nested zip is over what is left of the budget for nested archives (%d bytes); extract it and hunt the folder", budget)
		}
		gap(member, "", reason)
		return nil
	}
	b.nestedUsed += int64(len(data))
	child.arc, child.size = memArchive(data), int64(len(data))
	return b.zip(ctx, child)
}

// nestedLeft is what remains of the budget for inflated nested zips.
func (b *builder) nestedLeft(opt Options) int64 {
	total := opt.MaxNestedBytes
	if total <= 0 {
		total = defaultNestedBytes
	}
	return max(total-b.nestedUsed, 0)
}

// zipHeader is a member as the central directory (or, for a damaged zip,
// its local header) describes it.
type zipHeader struct {
	name          string
	flags, method uint16
	off           int64 // of the member's data
	csize         int64
	usize         uint64
	sized         bool // usize and crc are known
	crc           uint32
	modified      time.Time
	extra         []byte
	dir           bool
}

// unreadable says why a member cannot be read, "" when it can.
func (e zipHeader) unreadable() string {
	switch {
	case e.flags&0x1 != 0:
		return "encrypted zip member, not read"
	case e.method != zip.Store && e.method != zip.Deflate:
		return "unsupported zip compression method " + strconv.Itoa(int(e.method))
	case e.off < 0:
		return "corrupt zip member: bad local header"
	}
	return ""
}

func zipEntries(ra io.ReaderAt, size int64) ([]zipHeader, error) {
	zr, err := zip.NewReader(ra, size)
	// ErrInsecurePath (with GODEBUG=zipinsecurepath=0) still returns a
	// usable reader; member names are checked by the caller either way.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	out := make([]zipHeader, 0, len(zr.File))
	for _, zf := range zr.File {
		e := zipHeader{
			name: zf.Name, flags: zf.Flags, method: zf.Method, csize: int64(min(zf.CompressedSize64, math.MaxInt64)),
			usize: zf.UncompressedSize64, sized: true, crc: zf.CRC32, modified: zf.Modified, extra: zf.Extra,
			dir: zf.Mode().IsDir(),
		}
		// the local header is read only for members that can be read
		if e.unreadable() == "" && !strings.HasSuffix(zf.Name, "/") {
			if e.off, err = zf.DataOffset(); err != nil {
				e.off = -1
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// localEntries recovers members of a zip without a readable central
// directory from their local headers, in order. A member whose sizes are
// in a data descriptor (written after the data) is taken to run to the end
// of the archive: inflating stops at the end of its deflate stream.
func localEntries(ctx context.Context, ra io.ReaderAt, size int64) []zipHeader {
	var out []zipHeader
	sig := []byte("PK\x03\x04")
	buf := make([]byte, 1<<16)
	var hdr [30]byte
	for pos := int64(0); pos < size && len(out) < maxRecovered; {
		if ctx.Err() != nil {
			return out
		}
		n, _ := ra.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if n < 4 {
			break
		}
		i := bytes.Index(buf[:n], sig)
		if i < 0 {
			pos += int64(n - 3)
			continue
		}
		at := pos + int64(i)
		pos = at + 4
		if k, _ := ra.ReadAt(hdr[:], at); k < len(hdr) {
			break
		}
		le := binary.LittleEndian
		nlen, xlen := int64(le.Uint16(hdr[26:])), int64(le.Uint16(hdr[28:]))
		name := make([]byte, nlen+xlen)
		if k, _ := ra.ReadAt(name, at+30); int64(k) < nlen+xlen {
			break
		}
		e := zipHeader{
			name: string(name[:nlen]), extra: name[nlen:], flags: le.Uint16(hdr[6:]), method: le.Uint16(hdr[8:]),
			modified: dosTime(le.Uint16(hdr[12:]), le.Uint16(hdr[10:])),
			off:      at + 30 + nlen + xlen, crc: le.Uint32(hdr[14:]),
			csize: int64(le.Uint32(hdr[18:])), usize: uint64(le.Uint32(hdr[22:])), sized: true,
		}
		if e.method != zip.Store && e.method != zip.Deflate || nlen == 0 {
			continue // a false signature inside compressed data, or unreadable
		}
		if e.flags&0x8 != 0 {
			if e.method == zip.Store {
				continue // its end cannot be found
			}
			e.csize, e.usize, e.crc, e.sized = size-e.off, 0, 0, false
		} else {
			pos = e.off + e.csize
		}
		out = append(out, e)
	}
	return out
}

// dosTime converts an MS-DOS date and time (as in zip headers), in UTC.
func dosTime(date, t uint16) time.Time {
	return time.Date(int(date>>9)+1980, time.Month(date>>5&0xf), int(date&0x1f),
		int(t>>11), int(t>>5&0x3f), int(t&0x1f)*2, 0, time.UTC)
}

// archive is where a zip's bytes are: a file on disk, a stored member of
// another zip, or a nested zip inflated into memory.
type archive interface {
	// openAt gives random access to the archive; done releases it.
	openAt() (ra io.ReaderAt, done func() error, err error)
}

type diskArchive string

func (d diskArchive) openAt() (io.ReaderAt, func() error, error) {
	fh, err := os.Open(string(d))
	if err != nil {
		return nil, nil, err
	}
	return fh, fh.Close, nil
}

type memArchive []byte

func (m memArchive) openAt() (io.ReaderAt, func() error, error) {
	return bytes.NewReader(m), func() error { return nil }, nil
}

type sectionArchive struct {
	outer  archive
	off, n int64
}

func (s sectionArchive) openAt() (io.ReaderAt, func() error, error) {
	ra, done, err := s.outer.openAt()
	if err != nil {
		return nil, nil, err
	}
	return io.NewSectionReader(ra, s.off, s.n), done, nil
}

// memberPath splits a zip member name ('/'-separated) into components and
// reports false for names that are absolute ("/x", "//host/share") or
// drive-relative ("C:x"), or climb with "..". A leading drive ("C:/x", as
// some collectors write C:\x) is kept as the first component: members are
// never extracted, and "C:" then reads as the collection's drive folder,
// which gives the file its Windows path.
func memberPath(name string) ([]string, bool) {
	if strings.HasPrefix(name, "/") {
		return nil, false
	}
	comps := splitSlash(name)
	for i, c := range comps {
		if c == ".." || i == 0 && len(c) > 2 && c[1] == ':' && isLetter(c[0]) {
			return nil, false
		}
	}
	return comps, true
}

// zipMember reads one member in place. archive/zip keeps the *os.File it was
// given, so instead of keeping zips open (or reparsing the central directory
// for every member) the member's data offset is kept and decompressed here.
type zipMember struct {
	arc    archive
	off    int64
	csize  int64
	usize  uint64
	sized  bool // usize and crc are known (not for members recovered from a data-descriptor local header)
	crc    uint32
	method uint16
	ratio  int64
}

func (z zipMember) open(f *File) (io.ReadCloser, error) {
	ra, done, err := z.arc.openAt()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Rel, pathless(err))
	}
	var r io.Reader = io.NewSectionReader(ra, z.off, z.csize)
	closeAll := done
	if z.method == zip.Deflate {
		fr := flate.NewReader(r)
		r = fr
		closeAll = func() error { fr.Close(); return done() }
	}
	limit := f.maxBytes
	if limit <= 0 {
		limit = defaultMaxFileBytes
	}
	if z.ratio > 0 && z.csize <= math.MaxInt64/z.ratio {
		limit = min(limit, max(z.csize, 1)*z.ratio)
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
		if z.member.sized && z.member.usize > uint64(z.limit) {
			z.err = fmt.Errorf("%w: declared size %d", tooLarge(z.limit), z.member.usize)
			return 0, z.err
		}
	}
	n, err := z.r.Read(p)
	z.n += uint64(n)
	z.crc.Write(p[:n])
	switch {
	case !z.member.sized:
		// sizes unknown: the end of the deflate stream is the end
	case z.n > z.member.usize:
		// the bytes up to the error are returned: what was read is kept
		err = fmt.Errorf("%w: member data longer than its declared size (%d bytes)", zip.ErrFormat, z.member.usize)
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
