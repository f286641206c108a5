// schedlat (and hog, with -hog): timer wake-up lateness under CPU load.
// For a window of n ms, 4 x GOMAXPROCS workers compute chunks of
// spin.Kernel calibrated to ~50 us, each chunk followed by one
// non-blocking channel operation (select with default: send on even
// chunks, receive on odd ones; none with -hog) and a clock read with
// spin.Nanotime (runtime.nanotime, nosplit: not a preemption point, unlike
// time.Now), so with -hog only asynchronous preemption takes their P. One
// sleeper loops on time.Sleep(1ms) recording wake time - (start + 1 ms)
// until its first wake-up past the window. ops = samples. Same definition
// as bench/bench_schedlat.c.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gortbench-go/internal/res"
	"gortbench-go/internal/spin"
)

func main() {
	n := flag.Int64("n", 2000, "window in ms (the sleeper's 1 ms sleeps)")
	workers := flag.Int("w", 0, "computing workers (0: 4 x procs)")
	chunk := flag.Duration("chunk", 50*time.Microsecond, "compute between channel operations (calibrated)")
	hog := flag.Bool("hog", false, "no channel operation: the loops never call the runtime (the hog row)")
	flag.Parse()
	if *workers == 0 {
		*workers = 4 * runtime.GOMAXPROCS(0)
	}
	const sleepNS = int64(time.Millisecond)
	iters := spin.Calibrate(chunk.Nanoseconds())
	lat := make([]int64, 0, *n+16)
	ch := make(chan int64, 64)
	var chunks atomic.Int64
	var mix atomic.Uint64 // the workers' kernel results, kept alive
	var wg, sleeperStarted sync.WaitGroup

	t0 := spin.Nanotime()
	deadline := t0 + *n*1000000
	wg.Add(*workers + 1)
	sleeperStarted.Add(1)
	go func() {
		sleeperStarted.Done()
		for {
			want := spin.Nanotime() + sleepNS
			time.Sleep(time.Duration(sleepNS))
			late := spin.Nanotime() - want
			if len(lat) < cap(lat) {
				lat = append(lat, late)
			}
			if spin.Nanotime() >= deadline {
				break
			}
		}
		wg.Done()
	}()
	sleeperStarted.Wait()
	hogMode := *hog
	for i := 0; i < *workers; i++ {
		go func(id int) {
			x := uint64(id) + 1
			var c int64
			for {
				x = spin.Kernel(x, iters)
				v := int64(x)
				switch {
				case hogMode:
				case c&1 != 0:
					select {
					case v = <-ch:
					default:
					}
				default:
					select {
					case ch <- v:
					default:
					}
				}
				c++
				if spin.Nanotime() >= deadline {
					break
				}
			}
			mix.Add(x)
			chunks.Add(c)
			wg.Done()
		}(i)
	}
	wg.Wait()
	wall := time.Duration(spin.Nanotime() - t0)

	spin.Sort(lat)
	name := "schedlat"
	if *hog {
		name = "hog"
	}
	res.Print(name, *n, int64(len(lat)), wall,
		fmt.Sprintf("p50_us=%.1f", float64(spin.Pct(lat, 50))/1e3),
		fmt.Sprintf("p99_us=%.1f", float64(spin.Pct(lat, 99))/1e3),
		fmt.Sprintf("max_us=%.1f", float64(lat[len(lat)-1])/1e3),
		fmt.Sprintf("samples=%d", len(lat)),
		fmt.Sprintf("workers=%d", *workers),
		fmt.Sprintf("chunk_iters=%d", iters),
		fmt.Sprintf("chunks=%d", chunks.Load()))
}
