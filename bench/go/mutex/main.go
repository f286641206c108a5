// mutex: g goroutines increment one shared counter under one sync.Mutex.
package main

import (
	"flag"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int64("n", 10000000, "increments in total")
	g := flag.Int64("g", 8, "goroutines")
	flag.Parse()
	if *g < 1 {
		res.Fail("mutex: -g must be >= 1")
	}

	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup

	t0 := time.Now()
	wg.Add(int(*g))
	for i := int64(0); i < *g; i++ {
		// Goroutine i does n*(i+1)/g - n*i/g increments.
		go func(k int64) {
			defer wg.Done()
			for j := int64(0); j < k; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}(*n*(i+1) / *g - *n*i / *g)
	}
	wg.Wait()
	wall := time.Since(t0)

	if counter != *n {
		res.Fail("mutex: counter=%d want %d", counter, *n)
	}
	res.Print("mutex", *n, *n, wall)
}
