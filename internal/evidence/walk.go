package evidence

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// walker walks one folder root.
type walker struct {
	ctx      context.Context
	idx      int    // the root's index in Discover's roots
	source   string // the root as given
	zips     bool   // list the zips found (not in a live hunt)
	b        *builder
	opt      Options
	absRoot  string   // the root, absolute
	realRoot string   // the root with symlinks resolved, to test link targets
	anc      []string // components of absRoot, for classify
	// display turns path components below the root into File.Rel.
	display func(rel []string) string
	// place assigns a recognised file to a server.
	place func(c class, rel []string) placement
	// visited holds the resolved paths of folders and files already seen, so
	// that followed symlinks neither loop nor list a file twice. Without
	// following there are no cycles, and the map is not kept.
	visited map[string]bool
}

func walkRoot(ctx context.Context, b *builder, idx int, source, abs string, opt Options) error {
	w := newWalker(ctx, b, abs, opt)
	w.idx, w.source, w.zips = idx, source, true
	w.display = func(rel []string) string {
		if len(rel) == 0 {
			return "."
		}
		return strings.Join(rel, "/")
	}
	w.place = func(c class, rel []string) placement {
		root := "."
		if c.prefix > 0 {
			root = strings.Join(rel[:c.prefix], "/")
		}
		return placement{idx: idx, source: source, root: root, name: serverName(c, rel[:c.prefix], w.anc)}
	}
	return w.walk()
}

func newWalker(ctx context.Context, b *builder, abs string, opt Options) *walker {
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		resolved = abs
	}
	return &walker{ctx: ctx, b: b, opt: opt, absRoot: abs, realRoot: resolved, anc: splitPath(abs), visited: map[string]bool{}}
}

func (w *walker) walk() error { return w.dir(w.absRoot, w.realRoot, nil, 0) }

func (w *walker) gap(rel []string, server, reason string) {
	w.b.gap(finding.Gap{Server: server, File: w.display(rel), Reason: reason})
}

// dir walks the folder abs, whose symlink-free path is resolved and whose path
// below the root is rel.
func (w *walker) dir(abs, resolved string, rel []string, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if depth > maxDepth {
		w.gap(rel, "", "folder nesting deeper than "+strconv.Itoa(maxDepth)+" levels; not walked")
		return nil
	}
	if w.opt.FollowSymlinks {
		if w.visited[resolved] {
			return nil
		}
		w.visited[resolved] = true
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		// ReadDir returns what it read before failing; use it.
		w.gap(rel, "", "cannot read folder: "+errReason(err))
	}
	for i, e := range entries {
		if i%1024 == 1023 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		name := e.Name()
		childAbs := filepath.Join(abs, name)
		childResolved := filepath.Join(resolved, name)
		childRel := append(rel[:len(rel):len(rel)], name)
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			if err := w.symlink(childAbs, childRel, depth); err != nil {
				return err
			}
		case t.IsDir():
			if err := w.dir(childAbs, childResolved, childRel, depth+1); err != nil {
				return err
			}
		case t.IsRegular():
			w.file(childAbs, childResolved, childRel, nil)
		}
		// Devices, sockets, pipes and Windows junctions (ModeIrregular)
		// are not evidence we read.
	}
	return nil
}

// file records a regular file if it is a recognised log. info is nil when
// the file was reached without a symlink (it is then Lstat'ed here).
func (w *walker) file(abs, resolved string, rel []string, info fs.FileInfo) {
	name := rel[len(rel)-1]
	// Zips where the file hunt looks (ProgramData) are attacker staging,
	// read as bytes; others are evidence archives, listed in turn.
	c, ok := classify(w.anc, rel)
	if !ok {
		if isZipName(name) && w.zips {
			if info == nil {
				var err error
				if info, err = os.Stat(abs); err != nil {
					w.gap(rel, "", "cannot stat zip: "+errReason(err))
					return
				}
			}
			if w.opt.FollowSymlinks {
				if w.visited[resolved] {
					return
				}
				w.visited[resolved] = true
			}
			w.nested(rel, abs, info) // cancellation is seen by the walk
		}
		return
	}
	if w.opt.FollowSymlinks {
		if w.visited[resolved] {
			return
		}
		w.visited[resolved] = true
	}
	p := w.place(c, rel)
	if info == nil {
		var err error
		if info, err = os.Lstat(abs); err != nil {
			w.gap(rel, p.name, "cannot stat file: "+errReason(err))
			return
		}
	}
	// Files are not opened here: a file that cannot be read fails in Open,
	// and the hunt reports it as a gap. Opening tens of thousands of log
	// files twice costs more than the rest of discovery.
	w.b.add(p, &File{
		Kind: c.kind, Sub: c.sub, Rel: w.display(rel), Path: c.path, Size: info.Size(),
		ModTime: info.ModTime(), Created: createdTime(info),
		src: rootedFile{path: abs, info: info}, gz: isGzName(name) && !isHostKind(c.kind), maxBytes: w.opt.MaxFileBytes,
	})
}

// symlink checks where a link points and follows it if allowed.
func (w *walker) symlink(abs string, rel []string, depth int) error {
	target, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.gap(rel, "", "symlink loop or unresolvable target: "+errReason(err))
			return nil
		}
		// Dangling: nothing to read, but a link pointing out of the root
		// (e.g. to C:\ on the original host) is still worth telling.
		if t, err := os.Readlink(abs); err == nil {
			if !filepath.IsAbs(t) {
				t = filepath.Join(filepath.Dir(abs), t)
			}
			if !within(w.absRoot, t) && !within(w.realRoot, t) {
				w.gap(rel, "", "symlink target outside the hunted root")
			}
		}
		return nil
	}
	if !within(w.realRoot, target) {
		w.gap(rel, "", "symlink target outside the hunted root")
		return nil
	}
	if !w.opt.FollowSymlinks {
		// The target is inside the root and is walked on its own.
		return nil
	}
	st, err := os.Stat(target)
	if err != nil {
		w.gap(rel, "", "cannot stat symlink target: "+errReason(err))
		return nil
	}
	switch {
	case st.IsDir():
		return w.dir(target, target, rel, depth+1)
	case st.Mode().IsRegular():
		w.file(target, target, rel, st)
	}
	return nil
}

// within reports whether path p is root or below it.
func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(r) {
		return false
	}
	return r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}
