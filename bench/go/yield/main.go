// yield: two goroutines call runtime.Gosched n times each.
package main

import (
	"flag"
	"runtime"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 1000000, "Gosched calls per goroutine")
	flag.Parse()

	const gs = 2
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(gs)
	for g := 0; g < gs; g++ {
		go func() {
			defer wg.Done()
			for i := 0; i < *n; i++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)

	res.Print("yield", int64(*n), gs*int64(*n), wall)
}
