package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the CPU this process has used (user and system), which a
// benchmark divides by its messages: on a shared machine it is far steadier
// than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
