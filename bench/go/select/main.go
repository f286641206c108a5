// select: one consumer does a 4-way select receive over four unbuffered
// channels, each fed by its own producer.
package main

import (
	"flag"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

const nchan = 4

func main() {
	n := flag.Int64("n", 4000000, "messages in total")
	flag.Parse()

	var chs [nchan]chan int64
	for i := range chs {
		chs[i] = make(chan int64)
	}
	var wg sync.WaitGroup
	var sum int64

	t0 := time.Now()
	wg.Add(nchan + 1)
	go func() {
		defer wg.Done()
		for got := int64(0); got < *n; got++ {
			select {
			case v := <-chs[0]:
				sum += v
			case v := <-chs[1]:
				sum += v
			case v := <-chs[2]:
				sum += v
			case v := <-chs[3]:
				sum += v
			}
		}
	}()
	for k := int64(0); k < nchan; k++ {
		// Producer k sends [n*k/4, n*(k+1)/4) on chs[k].
		go func(ch chan<- int64, lo, hi int64) {
			defer wg.Done()
			for v := lo; v < hi; v++ {
				ch <- v
			}
		}(chs[k], *n*k/nchan, *n*(k+1)/nchan)
	}
	wg.Wait()
	wall := time.Since(t0)

	if want := *n * (*n - 1) / 2; sum != want {
		res.Fail("select: sum=%d want %d", sum, want)
	}
	res.Print("select", *n, *n, wall)
}
