// yieldmany: n goroutines each call runtime.Gosched k times; main spawns
// them all, then waits. ops = n*k; the timed region includes the spawns.
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
	n := flag.Int("n", 1000, "goroutines")
	k := flag.Int("k", 100, "Gosched calls per goroutine")
	flag.Parse()

	var wg sync.WaitGroup
	var yields int64
	t0 := time.Now()
	wg.Add(*n)
	for g := 0; g < *n; g++ {
		go func() {
			defer wg.Done()
			for i := 0; i < *k; i++ {
				runtime.Gosched()
			}
			atomic.AddInt64(&yields, int64(*k))
		}()
	}
	wg.Wait()
	wall := time.Since(t0)

	if want := int64(*n) * int64(*k); yields != want {
		res.Fail("yieldmany: yields=%d want %d", yields, want)
	}
	res.Print("yieldmany", int64(*n), int64(*n)*int64(*k), wall,
		fmt.Sprintf("yields_per_g=%d", *k))
}
