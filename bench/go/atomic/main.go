// atomic: g goroutines increment one shared counter with atomic.AddInt64.
package main

import (
	"flag"
	"sync"
	"sync/atomic"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int64("n", 10000000, "increments in total")
	g := flag.Int64("g", 8, "goroutines")
	flag.Parse()
	if *g < 1 {
		res.Fail("atomic: -g must be >= 1")
	}

	var counter int64
	var wg sync.WaitGroup

	t0 := time.Now()
	wg.Add(int(*g))
	for i := int64(0); i < *g; i++ {
		// Goroutine i does n*(i+1)/g - n*i/g increments.
		go func(k int64) {
			defer wg.Done()
			for j := int64(0); j < k; j++ {
				atomic.AddInt64(&counter, 1)
			}
		}(*n*(i+1) / *g - *n*i / *g)
	}
	wg.Wait()
	wall := time.Since(t0)

	if got := atomic.LoadInt64(&counter); got != *n {
		res.Fail("atomic: counter=%d want %d", got, *n)
	}
	res.Print("atomic", *n, *n, wall)
}
