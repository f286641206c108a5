// park: n goroutines block receiving on one channel that is never sent on;
// RSS per parked goroutine is sampled, then close wakes them all.
package main

import (
	"flag"
	"fmt"
	"sync"
	"time"

	"gortbench-go/internal/res"
)

func main() {
	n := flag.Int("n", 100000, "goroutines to park")
	flag.Parse()

	rssBefore := res.CurRSSBytes()
	release := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(*n)
	done.Add(*n)

	// Phase A: spawn and wait until every goroutine is about to block.
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		go func() {
			parked.Done()
			<-release
			done.Done()
		}()
	}
	parked.Wait()
	spawnWall := time.Since(t0)

	rssParked := res.CurRSSBytes()

	// Phase B: wake them all and wait for them to finish.
	t1 := time.Now()
	close(release)
	done.Wait()
	wakeWall := time.Since(t1)

	res.Print("park", int64(*n), int64(*n), spawnWall+wakeWall,
		fmt.Sprintf("bytes_per_g=%.1f", float64(rssParked-rssBefore)/float64(*n)),
		fmt.Sprintf("rss_before_kb=%d", rssBefore/1024),
		fmt.Sprintf("rss_parked_kb=%d", rssParked/1024),
		fmt.Sprintf("spawn_ms=%.3f", float64(spawnWall.Nanoseconds())/1e6),
		fmt.Sprintf("wake_ms=%.3f", float64(wakeWall.Nanoseconds())/1e6))
}
