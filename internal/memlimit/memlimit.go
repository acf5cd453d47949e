// Package memlimit chooses a run's soft memory limit. Near it the garbage
// collector works harder, so a run that would outgrow its memory is slowed
// rather than killed, and the night's report is not lost. Go sets none
// by itself: without one the heap may double before a collection.
package memlimit

import (
	"strconv"
	"strings"
)

// cgroupFiles hold a container's memory limit: cgroup v2's, then v1's, as
// a container sees its own cgroup.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// unlimited: cgroup v1 reports no limit as a number near 2^63.
const unlimited = 1 << 62

// Soft is the soft limit for this process: 90 % of the Lambda function's
// memory, else of its container's; 0 when GOMEMLIMIT is set (the runtime
// applies it) or no limit is known.
func Soft(getenv func(string) string, readFile func(string) ([]byte, error)) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	if mb, err := strconv.ParseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil && mb > 0 {
		return OfMB(mb)
	}
	for _, name := range cgroupFiles {
		data, err := readFile(name)
		if err != nil {
			continue
		}
		// "max" (v2) or a number past any machine (v1) is no limit.
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || n <= 0 || n >= unlimited {
			return 0
		}
		return n / 10 * 9
	}
	return 0
}

// OfMB is the soft limit for mb megabytes of memory: 90 % of it, the rest
// for the runtime, goroutine stacks and buffers outside the heap.
func OfMB(mb int64) int64 {
	return mb << 20 * 9 / 10
}
