// Package evidence finds Exchange and IIS log files in collected evidence and
// groups them per server.
//
// Evidence arrives in many shapes: an Exchange install folder, a copy of one,
// a triage collection (KAPE, Velociraptor, CyLR) holding several drives and
// servers, a single log, or a zip of any of these. Discover recognises log
// files by their Windows path (case-insensitively), derives the server each
// belongs to from the folders above the well-known install and IIS paths, and
// reports everything it could not read as a finding.Gap instead of failing.
//
// Evidence may come from a compromised host, so everything here is treated as
// hostile: zips are read in place and never extracted, member names that try
// to escape are refused, decompression is capped, symlinks are not followed out
// of the hunted root, and file contents are not read during discovery.
package evidence

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exhunt/exhunt/internal/finding"
)

// Kind is the log source a file belongs to.
type Kind string

// Log sources, with the path (below the install or IIS log folder) each is
// found at.
const (
	HTTPProxy   Kind = "httpproxy"    // Logging/HttpProxy/<Protocol>/HttpProxy_*.log; Sub is the protocol folder
	ECPServer   Kind = "ecp-server"   // Logging/ECP/Server/*.log
	ECPActivity Kind = "ecp-activity" // Logging/ECP/Activity/*.log
	OABGen      Kind = "oabgenerator" // Logging/OABGeneratorLog/**/*.log
	RpsHTTP     Kind = "rps-http"     // Logging/CmdletInfra/**/Rps_Http*.log
	RpsCmdlet   Kind = "rps-cmdlet"   // Logging/CmdletInfra/**/Rps_Cmdlet*.log
	EWS         Kind = "ews"          // Logging/Ews/*.log
	IIS         Kind = "iis"          // LogFiles/W3SVC<N>/*.log; Sub is "W3SVC<N>"
	EVTX        Kind = "evtx"         // *.evtx anywhere (winevt/Logs or loose); Sub is the file's base name
)

// File is one log file found in the evidence.
type File struct {
	Kind Kind
	// Sub is the HttpProxy protocol folder as written ("Owa", "Ecp") or the
	// IIS site folder upper-cased ("W3SVC1"); "" for other kinds.
	Sub string
	// Rel is the display path: relative to the hunted root and '/'-separated;
	// "<zip base name>!<member path>" for members of a zip given as a root;
	// the absolute path ('/'-separated) for files found by Live.
	Rel string
	// Path is the file's Windows path on the server for host files and
	// msert logs (see Kind HostFile), "" for logs: the drive letter comes
	// from the collection's drive folder (C: when the layout has none and
	// the folder only exists at a drive's root), and a path whose start is
	// not in the evidence begins with "…".
	Path string
	// Size is the size as stored: compressed for .gz files and zip members.
	Size    int64
	ModTime time.Time
	// Created is the creation time where the evidence keeps it (Windows
	// file systems, NTFS timestamps in zips); zero elsewhere.
	Created time.Time

	src      source // where the stored bytes come from
	gz       bool   // the stored bytes are gzip
	maxBytes int64  // Options.MaxFileBytes
}

// source opens the stored (not gunzipped) bytes of a file.
type source interface {
	open(f *File) (io.ReadCloser, error)
}

// Server is the evidence of one Exchange server.
type Server struct {
	// Name is derived from the folder names (a per-server folder, a zip's
	// name, the hunted folder's name or the host name for Live); "" when
	// nothing names the server, so the caller can name it from host names
	// in the logs.
	Name string
	// Root is the display path of the server's root: "." when it is the
	// hunted root, "<zip base name>" or "<zip base name>!<path>" in a zip.
	Root string
	// Source is the root argument, as given to Discover, the server was found
	// under ("live" for Live). Servers from different roots are never merged.
	Source string
	Files  []*File // sorted by Kind, Sub, Rel
}

// Set is what Discover found.
type Set struct {
	Servers []*Server     // sorted by Name, then Root
	Gaps    []finding.Gap // input that was skipped, with the reason
}

// Filter keeps the files keep accepts; servers left without files are
// dropped.
func (s *Set) Filter(keep func(*File) bool) {
	servers := s.Servers[:0]
	for _, srv := range s.Servers {
		srv.Files = slices.DeleteFunc(srv.Files, func(f *File) bool { return !keep(f) })
		if len(srv.Files) > 0 {
			servers = append(servers, srv)
		}
	}
	s.Servers = servers
}

// Options tune discovery and reading. The zero value is ready to use.
type Options struct {
	// MaxFileBytes caps the decompressed bytes read from one file; 0 means
	// 16 GiB. Beyond it, reading fails with ErrTooLarge.
	MaxFileBytes int64
	// MaxZipRatio caps decompressed/compressed size for a zip member; 0 means
	// 1000 (deflate cannot exceed about 1032, so only bombs come near it).
	MaxZipRatio int64
	// MaxNestedBytes is the budget of compressed zips within zips inflated
	// into memory to be listed and read, over one discovery; 0 means 256 MiB.
	// Stored nested zips are read in place. Past it, a nested zip is a gap.
	MaxNestedBytes int64
	// FollowSymlinks follows symlinks that stay inside the hunted root.
	// Symlinks leaving the root are never followed and are reported as gaps.
	FollowSymlinks bool
}

const (
	defaultMaxFileBytes = 16 << 30
	defaultMaxZipRatio  = 1000
	// maxDepth bounds folder nesting; real collections stay far below it and
	// hostile trees (or bind-mount cycles) must not recurse forever.
	maxDepth = 128
	// maxZipGaps bounds the gaps listed for one zip so that a hostile archive
	// with millions of bad names cannot flood the report.
	maxZipGaps = 100
)

func (o Options) withDefaults() Options {
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = defaultMaxFileBytes
	}
	if o.MaxZipRatio <= 0 {
		o.MaxZipRatio = defaultMaxZipRatio
	}
	return o
}

var (
	// ErrTooLarge is returned while reading a file whose decompressed size
	// exceeds Options.MaxFileBytes, or a zip member whose compression ratio
	// exceeds Options.MaxZipRatio.
	ErrTooLarge = errors.New("decompressed size exceeds limit")
	// ErrNoLive is returned by Live on platforms where it is not supported.
	ErrNoLive = errors.New("live evidence discovery is only supported on windows")
)

// Discover walks each root and returns the log files found, grouped per
// server. A root may be an Exchange install folder, any folder copied from
// one at any depth, a folder holding one sub-folder per server, a single log
// file, or a .zip of any of these (read in place, never extracted). Zips found
// in a walked folder or inside a zip are listed too (up to a depth of 4 and a
// budget for compressed nested zips, which are inflated into memory), except
// those in places the file hunt reads, which are files to hunt.
//
// Unreadable or unsafe input becomes a gap in the Set; the error is non-nil
// only when ctx is cancelled.
func Discover(ctx context.Context, roots []string, opt Options) (*Set, error) {
	return walkRoots(ctx, roots, opt, newBuilder())
}

// Stream is Discover for a hunt that reads files while the walk goes on:
// the host files and msert logs (the file hunt's, tens of thousands on a
// server) are handed to host as they are found, in walk order, with the
// server they belong to, and are not kept, so memory does not grow with
// their number. Logs are listed in the Set as Discover lists them, and
// every server host was given a file of is in it, with its logs or none.
// host is called from the walking goroutine; it may block.
func Stream(ctx context.Context, roots []string, opt Options, host func(*Server, *File)) (*Set, error) {
	b := newBuilder()
	b.host = host
	return walkRoots(ctx, roots, opt, b)
}

func walkRoots(ctx context.Context, roots []string, opt Options, b *builder) (*Set, error) {
	opt = opt.withDefaults()
	for i, root := range roots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := discoverRoot(ctx, b, i, root, opt); err != nil {
			return nil, err
		}
	}
	return b.set(), nil
}

func discoverRoot(ctx context.Context, b *builder, idx int, root string, opt Options) error {
	st, err := os.Stat(root)
	if err != nil {
		reason := "cannot read root: " + errReason(err)
		if errors.Is(err, os.ErrNotExist) {
			reason = "root does not exist"
		}
		b.gap(finding.Gap{File: root, Reason: reason})
		return nil
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		b.gap(finding.Gap{File: root, Reason: "cannot resolve root: " + errReason(err)})
		return nil
	}
	switch {
	case st.IsDir():
		return walkRoot(ctx, b, idx, root, abs, opt)
	case !st.Mode().IsRegular():
		b.gap(finding.Gap{File: root, Reason: "root is not a regular file or folder"})
	case isZipName(abs):
		return zipRoot(ctx, b, idx, root, abs, st.Size(), opt)
	case isLogName(filepath.Base(abs)):
		fileRoot(b, idx, root, abs, st, opt)
	default:
		b.gap(finding.Gap{File: root, Reason: "root is not a folder, .zip or .log file"})
	}
	return nil
}

// fileRoot adds a single log file given as a root. Its folders may not say
// what it is (a log copied out on its own), so the file name decides then.
func fileRoot(b *builder, idx int, root, abs string, st os.FileInfo, opt Options) {
	comps := splitPath(abs)
	c, ok := classify(comps[:len(comps)-1], comps[len(comps)-1:])
	if !ok {
		c.kind, ok = kindFromName(filepath.Base(abs))
	}
	if !ok {
		b.gap(finding.Gap{File: root, Reason: "not a recognised Exchange or IIS log file name"})
		return
	}
	fh, err := os.Open(abs)
	if err != nil {
		b.gap(finding.Gap{File: root, Reason: "cannot open file: " + errReason(err)})
		return
	}
	fh.Close()
	name := filepath.Base(abs)
	b.add(placement{idx: idx, source: root, root: "."}, &File{
		Kind: c.kind, Sub: c.sub, Rel: name, Size: st.Size(), ModTime: st.ModTime(),
		src: diskFile{path: abs}, gz: isGzName(name), maxBytes: opt.MaxFileBytes,
	})
}

// placement says which server a file belongs to.
type placement struct {
	idx    int    // index of the root in Discover's roots
	source string // the root as given
	root   string // display path of the server root
	name   string
}

// builder collects files and gaps and turns them into a sorted Set.
type builder struct {
	servers map[string]*Server
	gaps    []finding.Gap
	// nestedUsed counts the bytes of nested zips held in memory,
	// nestedZips the zips within zips listed
	nestedUsed int64
	nestedZips int
	// host, when set, takes host files instead of the servers' lists
	host func(*Server, *File)
}

func newBuilder() *builder { return &builder{servers: map[string]*Server{}} }

func (b *builder) gap(g finding.Gap) { b.gaps = append(b.gaps, g) }

func (b *builder) add(p placement, f *File) {
	// Windows paths are case-insensitive, so "SRV1/C" and "srv1/c" in a zip
	// made on Windows are the same server.
	key := strconv.Itoa(p.idx) + "\x00" + strings.ToLower(p.root)
	s := b.servers[key]
	if s == nil {
		s = &Server{Name: p.name, Root: p.root, Source: p.source}
		b.servers[key] = s
	} else if p.root < s.Root {
		// Keep the spelling stable whatever the walk order.
		s.Root, s.Name = p.root, p.name
	}
	if b.host != nil && isHostKind(f.Kind) {
		b.host(s, f)
		return
	}
	s.Files = append(s.Files, f)
}

func (b *builder) set() *Set {
	s := &Set{Gaps: b.gaps}
	idx := map[*Server]int{}
	for key, srv := range b.servers {
		n, _ := strconv.Atoi(key[:strings.IndexByte(key, 0)])
		idx[srv] = n
		slices.SortFunc(srv.Files, func(a, b *File) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Sub, b.Sub), cmp.Compare(a.Rel, b.Rel))
		})
		s.Servers = append(s.Servers, srv)
	}
	slices.SortFunc(s.Servers, func(a, b *Server) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Root, b.Root), cmp.Compare(idx[a], idx[b]))
	})
	return s
}

// errReason is err without the path an *fs.PathError repeats, so that gap
// reasons do not carry absolute paths of the analyst's machine.
func errReason(err error) string { return pathless(err).Error() }

// pathless strips the *fs.PathError wrapper, keeping the cause for errors.Is.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
