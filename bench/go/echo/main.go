// echo: TCP echo server on 127.0.0.1:PORT, one goroutine per connection
// reading up to 4 KiB and writing it all back until EOF. On SIGINT/SIGTERM
// it prints one result line and exits.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"gortbench-go/internal/res"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	port := flag.Int("port", 9000, "TCP port on 127.0.0.1")
	flag.Parse()

	// net.Listen sets SO_REUSEADDR and uses somaxconn as the backlog;
	// accepted connections get TCP_NODELAY by default.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		res.Fail("echo: %v", err)
	}
	var accepted int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, "echo: accept:", err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			atomic.AddInt64(&accepted, 1)
			go serve(c)
		}
	}()
	fmt.Fprintf(os.Stderr, "echo: listening on %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Printf("bench=echo-server impl=go procs=%d accepted=%d peak_rss_kb=%d\n",
		runtime.GOMAXPROCS(0), atomic.LoadInt64(&accepted), res.PeakRSSKB())
}
