// ratelimit.go: five queued requests served at most one per 20 ms tick
// of a time.Tick limiter. The Go twin of ratelimit.c
// (docs/porting-from-go.md).
package main

import (
	"fmt"
	"time"
)

func main() {
	requests := make(chan int, 5)
	for i := 1; i <= 5; i++ {
		requests <- i
	}
	close(requests)
	limiter := time.Tick(20 * time.Millisecond)
	start := time.Now()
	for req := range requests {
		<-limiter
		fmt.Println("request", req)
	}
	fmt.Println("took at least 100ms:", time.Since(start) >= 100*time.Millisecond)
}
