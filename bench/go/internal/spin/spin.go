// Package spin is the compute kernel and latency statistics the CPU-load
// workloads share (schedlat, hog, spawnburst), statement for statement the
// same as bench/spin.h on the gort side.
package spin

import (
	"sort"
	_ "unsafe" // for go:linkname
)

// Nanotime is the runtime's monotonic clock in nanoseconds
// (CLOCK_MONOTONIC through the vDSO, as bench_now on the gort side).
// Unlike time.Now, whose prologue checks the stack guard, runtime.nanotime
// is nosplit: calling it is not a synchronous preemption point, so a loop
// that reads the clock this way can only be preempted asynchronously.
//
//go:linkname Nanotime runtime.nanotime
func Nanotime() int64

// Kernel runs k rounds of a dependent 64-bit xorshift-multiply chain: no
// memory, no calls (it is inlined), nothing to fold or vectorize.
func Kernel(x uint64, k int64) uint64 {
	for i := int64(0); i < k; i++ {
		x ^= x >> 31
		x *= 0x9E3779B97F4A7C15
		x += uint64(i)
	}
	return x
}

// Sink keeps kernel results alive.
var Sink uint64

// Calibrate doubles k until one Kernel run takes >= 2 ms, then takes the
// fastest of 5 runs at that k and scales k to targetNS. At least 1.
func Calibrate(targetNS int64) int64 {
	x := uint64(1)
	k := int64(1024)
	var el int64
	for {
		t := Nanotime()
		x = Kernel(x, k)
		el = Nanotime() - t
		if el >= 2000000 {
			break
		}
		k *= 2
	}
	for r := 0; r < 5; r++ {
		t := Nanotime()
		x = Kernel(x, k)
		if e := Nanotime() - t; e < el {
			el = e
		}
	}
	Sink = x
	iters := int64(float64(k) * float64(targetNS) / float64(el))
	if iters < 1 {
		return 1
	}
	return iters
}

// Sort sorts samples ascending.
func Sort(s []int64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

// Pct is the nearest-rank percentile s[ceil(p*n/100)-1] of sorted s; 0 when
// s is empty.
func Pct(s []int64, p int) int64 {
	n := int64(len(s))
	if n == 0 {
		return 0
	}
	i := (int64(p)*n+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}
