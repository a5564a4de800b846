//go:build unix

package hunt

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) this process has used:
// a measure that other work on the machine does not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
