// kvhttp: the Go twin of docs/examples/kvhttp.c: a net/http key-value
// service over Redis, through a small RESP client over net.Conn with its
// own pool (no external modules).
//
//	GET /k/KEY             Redis GET: 200 and the value, 404 when absent
//	PUT or POST /k/KEY     Redis SET KEY <body>: 200 "OK"
//	GET or POST /incr/KEY  Redis INCR: 200 and the new value
//
// Flags as the C side: -port, -redis (a Unix socket path, or HOST:PORT),
// -pool (connections kept open and idle, 64). No pool connection within
// 1 s gets 503, a connection that fails mid-command 502 (and is closed,
// not reused), a Redis error reply 500. On SIGINT/SIGTERM it prints one
// result line and exits.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gortbench-go/internal/res"
)

const cmdTimeout = 2 * time.Second

// conn is one Redis connection with its buffered reader and writer.
type conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// pool keeps up to max connections open: slots counts them, idle holds
// those not in use.
type pool struct {
	network, addr string
	slots         chan struct{}
	idle          chan *conn
}

func newPool(addr string, max int) *pool {
	network := "tcp"
	if strings.Contains(addr, "/") {
		network = "unix"
	}
	return &pool{network, addr, make(chan struct{}, max), make(chan *conn, max)}
}

var errTimeout = errors.New("pool: timed out")

// get returns an idle connection, else opens one while fewer than max are
// open, else waits for one until the deadline.
func (p *pool) get(deadline time.Time) (*conn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}:
		nc, err := net.DialTimeout(p.network, p.addr, cmdTimeout)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return &conn{nc, bufio.NewReader(nc), bufio.NewWriter(nc)}, nil
	case <-t.C:
		return nil, errTimeout
	}
}

// put returns c to the pool; broken closes it and frees its slot.
func (p *pool) put(c *conn, broken bool) {
	if broken {
		c.c.Close()
		<-p.slots
		return
	}
	p.idle <- c // never blocks: at most max connections exist
}

// reply is one RESP reply: a bulk or simple string, an integer, nil, or
// an error reply.
type reply struct {
	kind byte // '$', '+', ':', '-'
	str  []byte
	num  int64
	nil  bool
}

// do sends one command and reads its reply; an error means the
// connection is unusable.
func (c *conn) do(args ...[]byte) (reply, error) {
	c.c.SetDeadline(time.Now().Add(cmdTimeout))
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n", len(a))
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return reply{}, errors.New("resp: bad line")
	}
	body := line[1 : len(line)-2]
	rep := reply{kind: line[0]}
	switch line[0] {
	case '+', '-':
		rep.str = append([]byte(nil), body...)
	case ':':
		rep.num, err = strconv.ParseInt(string(body), 10, 64)
	case '$':
		n, e := strconv.Atoi(string(body))
		if e != nil {
			return reply{}, e
		}
		if n < 0 {
			rep.nil = true
			break
		}
		rep.str = make([]byte, n+2)
		if _, err = io.ReadFull(c.r, rep.str); err == nil {
			rep.str = rep.str[:n]
		}
	default:
		err = errors.New("resp: unexpected reply type")
	}
	return rep, err
}

func main() {
	port := flag.Int("port", 8080, "TCP port on 127.0.0.1")
	addr := flag.String("redis", "127.0.0.1:6379", "Unix socket path or HOST:PORT")
	size := flag.Int("pool", 64, "connections kept open and idle")
	flag.Parse()
	p := newPool(*addr, *size)

	redisDo := func(w http.ResponseWriter, args ...[]byte) {
		w.Header().Set("Content-Type", "text/plain")
		c, err := p.get(time.Now().Add(time.Second))
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "redis unavailable: %v\n", err)
			return
		}
		rep, err := c.do(args...)
		p.put(c, err != nil)
		switch {
		case err != nil:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "redis: %v\n", err)
		case rep.nil:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("not found\n"))
		case rep.kind == ':':
			w.Write(strconv.AppendInt(nil, rep.num, 10))
		case rep.kind == '-':
			w.WriteHeader(http.StatusInternalServerError)
			w.Write(rep.str)
		default:
			w.Write(rep.str)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/k/", func(w http.ResponseWriter, r *http.Request) {
		key := []byte(r.URL.Path[3:])
		switch r.Method {
		case "GET", "HEAD":
			redisDo(w, []byte("GET"), key)
		case "PUT", "POST":
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			redisDo(w, []byte("SET"), key, body)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/incr/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" && r.Method != "POST" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		redisDo(w, []byte("INCR"), []byte(r.URL.Path[6:]))
	})

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		res.Fail("kvhttp: %v", err)
	}
	go func() {
		if err := http.Serve(ln, mux); err != nil {
			res.Fail("kvhttp: %v", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "kvhttp: listening on %s (redis %s, pool %d)\n", ln.Addr(), *addr, *size)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	fmt.Printf("bench=kvhttp-server impl=go procs=%d peak_rss_kb=%d\n", runtime.GOMAXPROCS(0), res.PeakRSSKB())
}
