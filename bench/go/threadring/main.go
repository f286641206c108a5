// threadring: the Benchmarks Game thread-ring. ring goroutines linked by
// unbuffered channels pass a token that starts at n and drops by one per
// pass; the one that receives 0 reports its id.
package main

import (
	"flag"
	"fmt"
	"time"

	"gortbench-go/internal/res"
)

func worker(id int, in <-chan int, out chan<- int, result chan<- int) {
	for {
		t := <-in
		if t == 0 {
			result <- id
			return
		}
		out <- t - 1
	}
}

func main() {
	n := flag.Int("n", 10000000, "token passes")
	ring := flag.Int("ring", 503, "goroutines in the ring")
	flag.Parse()
	if *ring < 1 {
		res.Fail("threadring: -ring must be >= 1")
	}

	// Not timed: build the ring. Goroutine i reads chs[i-1], writes chs[i mod ring].
	chs := make([]chan int, *ring)
	for i := range chs {
		chs[i] = make(chan int)
	}
	result := make(chan int)
	for id := 1; id <= *ring; id++ {
		go worker(id, chs[id-1], chs[id%*ring], result)
	}

	t0 := time.Now()
	chs[0] <- *n
	winner := <-result
	wall := time.Since(t0)

	// After j passes the token holds n-j at goroutine (j mod ring)+1.
	if want := *n%*ring + 1; winner != want {
		res.Fail("threadring: result=%d want %d", winner, want)
	}
	res.Print("threadring", int64(*n), int64(*n), wall, fmt.Sprintf("result=%d", winner))
}
