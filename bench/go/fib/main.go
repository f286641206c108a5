// fib: calls with argument >= cutoff compute fib(m-1) in a new goroutine
// (result through a 1-slot channel) and fib(m-2) themselves; smaller calls
// recurse serially.
package main

import (
	"flag"
	"fmt"
	"time"

	"gortbench-go/internal/res"
)

func fibSerial(m int) int64 {
	if m < 2 {
		return int64(m)
	}
	return fibSerial(m-1) + fibSerial(m-2)
}

func fib(m, cutoff int) int64 {
	if m < cutoff {
		return fibSerial(m)
	}
	ch := make(chan int64, 1)
	go func() { ch <- fib(m-1, cutoff) }()
	y := fib(m-2, cutoff)
	return <-ch + y
}

func main() {
	n := flag.Int("n", 32, "fib argument")
	cutoff := flag.Int("cutoff", 4, "calls with argument >= cutoff spawn (>= 2)")
	flag.Parse()
	if *cutoff < 2 || *n < 0 {
		res.Fail("fib: need -cutoff >= 2 and -n >= 0")
	}

	// Expected value and goroutine count: s(m) = 0 for m < cutoff, else
	// 1 + s(m-1) + s(m-2).
	f := make([]int64, *n+2)
	s := make([]int64, *n+2)
	f[1] = 1
	for m := 2; m <= *n; m++ {
		f[m] = f[m-1] + f[m-2]
		if m >= *cutoff {
			s[m] = 1 + s[m-1] + s[m-2]
		}
	}

	t0 := time.Now()
	result := fib(*n, *cutoff)
	wall := time.Since(t0)

	if result != f[*n] {
		res.Fail("fib: result=%d want %d", result, f[*n])
	}
	ops := s[*n]
	if ops == 0 {
		ops = 1
	}
	res.Print("fib", int64(*n), ops, wall, fmt.Sprintf("result=%d", result), fmt.Sprintf("cutoff=%d", *cutoff))
}
