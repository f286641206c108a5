// pingpong: a pinger and a ponger bounce an int over two unbuffered channels.
package main

import (
	"flag"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 1000000, "round trips")
	flag.Parse()

	ping := make(chan int)
	pong := make(chan int)
	var wg sync.WaitGroup
	bad := 0

	t0 := time.Now()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < *n; i++ {
			ping <- i
			if v := <-pong; v != i {
				bad++
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < *n; i++ {
			v := <-ping
			pong <- v
		}
	}()
	wg.Wait()
	wall := time.Since(t0)

	if bad != 0 {
		res.Fail("pingpong: %d wrong replies", bad)
	}
	res.Print("pingpong", int64(*n), int64(*n), wall)
}
