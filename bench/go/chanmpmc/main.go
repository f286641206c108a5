// chanmpmc: p producers and c consumers share one buffered chan int64.
package main

import (
	"flag"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int64("n", 10000000, "messages in total")
	np := flag.Int64("p", 4, "producers")
	nc := flag.Int64("c", 4, "consumers")
	capacity := flag.Int("cap", 1024, "channel capacity")
	flag.Parse()
	if *np < 1 || *nc < 1 {
		res.Fail("chanmpmc: -p and -c must be >= 1")
	}

	ch := make(chan int64, *capacity)
	sums := make([]int64, *nc)
	var producers, consumers sync.WaitGroup

	t0 := time.Now()
	consumers.Add(int(*nc))
	for c := int64(0); c < *nc; c++ {
		go func(slot *int64) {
			defer consumers.Done()
			var sum int64
			for v := range ch {
				sum += v
			}
			*slot = sum
		}(&sums[c])
	}
	producers.Add(int(*np))
	for k := int64(0); k < *np; k++ {
		// Producer k sends [n*k/p, n*(k+1)/p) in order.
		go func(lo, hi int64) {
			defer producers.Done()
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}(*n*k / *np, *n*(k+1) / *np)
	}
	producers.Wait()
	close(ch)
	consumers.Wait()
	wall := time.Since(t0)

	var total int64
	for _, s := range sums {
		total += s
	}
	if want := *n * (*n - 1) / 2; total != want {
		res.Fail("chanmpmc: sum=%d want %d", total, want)
	}
	res.Print("chanmpmc", *n, *n, wall)
}
