// Package res prints the one result line every benchmark program writes to
// stdout, and reads the process's memory figures that go into it.
package res

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// PeakRSSKB is getrusage(RUSAGE_SELF).ru_maxrss: the whole process's peak
// resident set, in KiB on Linux.
func PeakRSSKB() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Maxrss
}

// CurRSSBytes is the resident set now: field 2 of /proc/self/statm (pages)
// times the page size.
func CurRSSBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		Fail("read /proc/self/statm: %v", err)
	}
	var total, resident int64
	if _, err := fmt.Sscan(string(data), &total, &resident); err != nil {
		Fail("parse /proc/self/statm: %v", err)
	}
	return resident * int64(os.Getpagesize())
}

// Print writes
//
//	bench=NAME impl=go procs=P n=N ns_per_op=F ops_per_s=F peak_rss_kb=K ops=OPS wall_ms=F [extra...]
//
// where n is the -n flag and ops is what the timed wall is divided by.
func Print(name string, n, ops int64, wall time.Duration, extra ...string) {
	ns := float64(wall.Nanoseconds())
	var b strings.Builder
	fmt.Fprintf(&b, "bench=%s impl=go procs=%d n=%d ns_per_op=%.2f ops_per_s=%.1f peak_rss_kb=%d ops=%d wall_ms=%.3f",
		name, runtime.GOMAXPROCS(0), n, ns/float64(ops), float64(ops)*1e9/ns, PeakRSSKB(), ops, ns/1e6)
	for _, e := range extra {
		b.WriteByte(' ')
		b.WriteString(e)
	}
	fmt.Println(b.String())
}

// Fail writes "FAIL: ..." on stderr and exits with status 1.
func Fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}
