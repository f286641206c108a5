// skynet: a div-ary tree of goroutines over n leaves. Leaves send their
// number; inner nodes receive div values on an unbuffered channel, sum them
// and send the sum up.
package main

import (
	"flag"
	"fmt"
	"time"

	"gortbench-go/internal/res"
)

func skynet(out chan<- int64, num, size, div int64) {
	if size == 1 {
		out <- num
		return
	}
	children := make(chan int64)
	step := size / div
	for i := int64(0); i < div; i++ {
		go skynet(children, num+i*step, step, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-children
	}
	out <- sum
}

func main() {
	n := flag.Int64("n", 1000000, "leaves (a power of -div)")
	div := flag.Int64("div", 10, "children per inner node")
	flag.Parse()
	if *div < 2 {
		res.Fail("skynet: -div must be >= 2")
	}

	// ops: every goroutine of the tree, root included.
	var ops int64
	for level := *n; ; level /= *div {
		ops += level
		if level == 1 {
			break
		}
		if level < 1 || level%*div != 0 {
			res.Fail("skynet: -n %d is not a power of %d", *n, *div)
		}
	}

	t0 := time.Now()
	out := make(chan int64)
	go skynet(out, 0, *n, *div)
	result := <-out
	wall := time.Since(t0)

	if want := *n * (*n - 1) / 2; result != want {
		res.Fail("skynet: result=%d want %d", result, want)
	}
	res.Print("skynet", *n, ops, wall, fmt.Sprintf("result=%d", result))
}
