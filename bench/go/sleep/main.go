// sleep: n goroutines each call time.Sleep(d) k times.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 100000, "goroutines")
	k := flag.Int("k", 10, "sleeps per goroutine")
	d := flag.Duration("d", time.Millisecond, "one sleep")
	flag.Parse()

	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func() {
			defer wg.Done()
			for j := 0; j < *k; j++ {
				time.Sleep(*d)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)

	ideal := time.Duration(*k) * *d
	res.Print("sleep", int64(*n), int64(*n)*int64(*k), wall,
		fmt.Sprintf("overhead_ms=%.3f", float64((wall-ideal).Nanoseconds())/1e6),
		fmt.Sprintf("sleeps_per_g=%d", *k),
		fmt.Sprintf("sleep_us=%d", d.Microseconds()))
}
