// alive: n goroutines spin on runtime.Gosched until released. main spawns
// them, waits until all have started, sets release, waits for all to
// finish. ops = n (ns_per_op is the time per goroutine).
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 10000, "goroutines")
	flag.Parse()

	var started, done sync.WaitGroup
	var release atomic.Int32
	var yields atomic.Int64
	started.Add(*n)
	done.Add(*n)

	t0 := time.Now()
	for i := 0; i < *n; i++ {
		go func() {
			var y int64
			started.Done()
			for release.Load() == 0 {
				runtime.Gosched()
				y++
			}
			yields.Add(y)
			done.Done()
		}()
	}
	started.Wait()
	t1 := time.Now()
	release.Store(1)
	done.Wait()
	t2 := time.Now()

	res.Print("alive", int64(*n), int64(*n), t2.Sub(t0),
		fmt.Sprintf("start_ms=%.3f", float64(t1.Sub(t0).Nanoseconds())/1e6),
		fmt.Sprintf("drain_ms=%.3f", float64(t2.Sub(t1).Nanoseconds())/1e6),
		fmt.Sprintf("yields=%d", yields.Load()))
}
