//go:build !windows

package evidence

import "context"

// Live finds the logs of the Exchange server exhunt runs on. It is only
// supported on Windows; elsewhere it returns ErrNoLive.
func Live(ctx context.Context, opt Options) (*Set, error) {
	return nil, ErrNoLive
}
