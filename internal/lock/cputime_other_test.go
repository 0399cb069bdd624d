//go:build !unix

package lock

import "time"

// cpuTime returns 0 where there is no getrusage: the CPU figures are left out.
func cpuTime() time.Duration { return 0 }
