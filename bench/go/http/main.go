// http: net/http hello-world server (HTTP/1.1, keep-alive) on 127.0.0.1:PORT.
// Every path gets 200, text/plain, "Hello, World!". On SIGINT/SIGTERM it
// prints one result line and exits. -work-us U makes every request compute
// about U microseconds first (spin.Kernel, calibrated at start-up; the
// bench row httpcpu), as docs/examples/http.c's -work-us.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"

	"gortbench-go/internal/res"
	"gortbench-go/internal/spin"
)

func main() {
	port := flag.Int("port", 8080, "TCP port on 127.0.0.1")
	workUS := flag.Int("work-us", 0, "compute per request, in microseconds")
	flag.Parse()
	var workIters int64
	var workSink atomic.Uint64 // the kernel results, kept alive
	if *workUS > 0 {
		workIters = spin.Calibrate(int64(*workUS) * 1000)
	}

	body := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if workIters > 0 {
			workSink.Add(spin.Kernel(uint64(r.ContentLength), workIters))
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		res.Fail("http: %v", err)
	}
	go func() {
		if err := http.Serve(ln, mux); err != nil {
			res.Fail("http: %v", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "http: listening on %s (work: %d rounds a request)\n", ln.Addr(), workIters)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Printf("bench=http-server impl=go procs=%d peak_rss_kb=%d\n", runtime.GOMAXPROCS(0), res.PeakRSSKB())
}
