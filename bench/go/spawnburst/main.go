// spawnburst: a burst of spawns while every P computes. 4 x GOMAXPROCS
// workers compute chunks of spin.Kernel calibrated to ~50 us, each chunk
// followed by one non-blocking channel operation (select with default)
// and a clock read, until the burst is over (or -cap). main sleeps until
// -delay after it began spawning them, then spawns n goroutines, passing each the clock read just before its
// go statement; the child's first action reads the clock again. ops = n,
// wall = first spawn to last child done; capped=1 when the burst ended
// after -cap, so (partly) without the load. Same definition as
// bench/bench_spawnburst.c.
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
	n := flag.Int("n", 100000, "goroutines spawned in the burst")
	workers := flag.Int("w", 0, "computing workers (0: 4 x procs)")
	chunk := flag.Duration("chunk", 50*time.Microsecond, "compute between channel operations (calibrated)")
	delay := flag.Duration("delay", 10*time.Millisecond, "sleep before the burst")
	capD := flag.Duration("cap", 5*time.Second, "the workers stop by then anyway")
	flag.Parse()
	if *workers == 0 {
		*workers = 4 * runtime.GOMAXPROCS(0)
	}
	iters := spin.Calibrate(chunk.Nanoseconds())
	lat := make([]int64, *n)
	ch := make(chan int64, 64)
	var left, chunks atomic.Int64
	var stop atomic.Bool
	var mix atomic.Uint64 // the workers' kernel results, kept alive
	var wg, burst sync.WaitGroup
	var tLast int64
	left.Store(int64(*n))

	t0 := spin.Nanotime()
	want := t0 + delay.Nanoseconds()
	capDeadline := t0 + capD.Nanoseconds()
	wg.Add(*workers)
	for i := 0; i < *workers; i++ {
		go func(id int) {
			x := uint64(id) + 1
			var c int64
			for {
				x = spin.Kernel(x, iters)
				v := int64(x)
				if c&1 != 0 {
					select {
					case v = <-ch:
					default:
					}
				} else {
					select {
					case ch <- v:
					default:
					}
				}
				c++
				if stop.Load() || spin.Nanotime() >= capDeadline {
					break
				}
			}
			mix.Add(x)
			chunks.Add(c)
			wg.Done()
		}(i)
	}

	if now := spin.Nanotime(); now < want {
		time.Sleep(time.Duration(want - now))
	}
	tFirst := spin.Nanotime()
	burst.Add(1)
	for i := 0; i < *n; i++ {
		go func(tSpawn int64, i int) {
			t := spin.Nanotime()
			lat[i] = t - tSpawn
			if left.Add(-1) == 0 {
				tLast = spin.Nanotime()
				burst.Done()
			}
		}(spin.Nanotime(), i)
	}
	burst.Wait()
	stop.Store(true)
	wg.Wait()

	capped := 0 // the burst ended after the workers' cap: it ran (partly) unloaded
	if tLast >= capDeadline {
		capped = 1
	}
	spin.Sort(lat)
	res.Print("spawnburst", int64(*n), int64(*n), time.Duration(tLast-tFirst),
		fmt.Sprintf("p50_us=%.1f", float64(spin.Pct(lat, 50))/1e3),
		fmt.Sprintf("p99_us=%.1f", float64(spin.Pct(lat, 99))/1e3),
		fmt.Sprintf("max_us=%.1f", float64(lat[len(lat)-1])/1e3),
		fmt.Sprintf("spawner_late_us=%.1f", float64(tFirst-want)/1e3),
		fmt.Sprintf("capped=%d", capped),
		fmt.Sprintf("workers=%d", *workers),
		fmt.Sprintf("chunk_iters=%d", iters),
		fmt.Sprintf("chunks=%d", chunks.Load()))
}
