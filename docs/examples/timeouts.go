// timeouts.go: two slow results, one that misses its 50 ms deadline and
// one that makes its 300 ms one, and a ticker that counts three ticks.
// The Go twin of timeouts.c (docs/porting-from-go.md).
package main

import (
	"fmt"
	"time"
)

func slow(d time.Duration, msg string, out chan<- string) {
	time.Sleep(d)
	out <- msg
}

func main() {
	c1 := make(chan string, 1)
	go slow(100*time.Millisecond, "result 1", c1)
	select {
	case res := <-c1:
		fmt.Println(res)
	case <-time.After(50 * time.Millisecond):
		fmt.Println("timeout 1")
	}

	c2 := make(chan string, 1)
	go slow(100*time.Millisecond, "result 2", c2)
	select {
	case res := <-c2:
		fmt.Println(res)
	case <-time.After(300 * time.Millisecond):
		fmt.Println("timeout 2")
	}

	tick := time.Tick(10 * time.Millisecond)
	for i := 1; i <= 3; i++ {
		t := <-tick
		late := "more"
		if time.Since(t) < time.Second {
			late = "< 1s"
		}
		fmt.Println("tick", i, "late by", late)
	}
}
