package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/exhunt/exhunt/internal/finding"
)

// liveDir is a folder Live walks.
type liveDir struct {
	path string
	what string // "log folder", "web root"...: names it in gaps
	// optional folders exist on some servers only (C:\root, a Temporary
	// ASP.NET Files folder of a framework not installed): no gap when missing.
	optional bool
}

// liveSet walks the log folders and the places the file hunt reads on the
// machine exhunt runs on: everything is one server, named host. Folder
// paths are given (Live finds them in the registry and the environment) so
// that this part is testable on any platform. File.Rel is the absolute
// path, '/'-separated, since there is no hunted root to be relative to.
func liveSet(ctx context.Context, host string, dirs []liveDir, gaps []finding.Gap, opt Options) (*Set, error) {
	opt = opt.withDefaults()
	b := newBuilder()
	b.gaps = append(b.gaps, gaps...)
	p := placement{source: "live", root: ".", name: host}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := d.path
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if !d.optional {
				b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: d.what + " does not exist"})
			}
			continue
		case err != nil:
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "cannot read " + d.what + ": " + errReason(err)})
			continue
		case !st.IsDir():
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: d.what + " is not a folder"})
			continue
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "cannot resolve " + d.what + ": " + errReason(err)})
			continue
		}
		w := newWalker(ctx, b, abs, opt)
		w.display = func(rel []string) string {
			return strings.Join(append([]string{filepath.ToSlash(abs)}, rel...), "/")
		}
		w.place = func(class, []string) placement { return p }
		if err := w.walk(); err != nil {
			return nil, err
		}
	}
	return b.set(), nil
}
