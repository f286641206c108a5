// spawn: create n goroutines, each doing one atomic add and wg.Done; the
// spawning loop runs in main, which then waits for all of them.
package main

import (
	"flag"
	"sync"
	"sync/atomic"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 1000000, "goroutines to spawn")
	flag.Parse()

	var counter int64
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func() {
			atomic.AddInt64(&counter, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	wall := time.Since(t0)

	if counter != int64(*n) {
		res.Fail("spawn: counter=%d want %d", counter, *n)
	}
	res.Print("spawn", int64(*n), int64(*n), wall)
}
