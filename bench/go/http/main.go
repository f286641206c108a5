// http: net/http hello-world server (HTTP/1.1, keep-alive) on 127.0.0.1:PORT.
// Every path gets 200, text/plain, "Hello, World!". On SIGINT/SIGTERM it
// prints one result line and exits.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"gortbench-go/internal/res"
)

func main() {
	port := flag.Int("port", 8080, "TCP port on 127.0.0.1")
	flag.Parse()

	body := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
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
	fmt.Fprintf(os.Stderr, "http: listening on %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Printf("bench=http-server impl=go procs=%d peak_rss_kb=%d\n", runtime.GOMAXPROCS(0), res.PeakRSSKB())
}
