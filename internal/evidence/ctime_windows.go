//go:build windows

package evidence

import (
	"io/fs"
	"syscall"
	"time"
)

// createdTime is the file's creation time, which NTFS keeps.
func createdTime(info fs.FileInfo) time.Time {
	if d, ok := info.Sys().(*syscall.Win32FileAttributeData); ok && d != nil {
		return time.Unix(0, d.CreationTime.Nanoseconds()).UTC()
	}
	return time.Time{}
}
