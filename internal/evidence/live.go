package evidence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"exhunt/internal/finding"
)

// liveSet walks the log folders of the machine exhunt runs on: everything is
// one server, named host. Folder paths are given (Live finds them in the
// registry) so that this part is testable on any platform. File.Rel is the
// absolute path, '/'-separated, since there is no hunted root to be relative
// to.
func liveSet(ctx context.Context, host string, dirs []string, gaps []finding.Gap, opt Options) (*Set, error) {
	opt = opt.withDefaults()
	b := newBuilder()
	b.gaps = append(b.gaps, gaps...)
	p := placement{source: "live", root: ".", name: host}
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "log folder does not exist"})
			continue
		case err != nil:
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "cannot read log folder: " + errReason(err)})
			continue
		case !st.IsDir():
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "log folder is not a folder"})
			continue
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			b.gap(finding.Gap{Server: host, File: filepath.ToSlash(dir), Reason: "cannot resolve log folder: " + errReason(err)})
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
