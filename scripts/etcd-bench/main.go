// etcd-bench: the etcd side of scripts/bench-cluster.sh. It does what `benchmark put` from
// etcd's tools/benchmark does (that tool is not packaged by Debian and the Go module proxy is
// not reachable from the project's machines), through etcd's own Go client, clientv3 3.4, as
// packaged by Debian (golang-etcd-server-dev), built in GOPATH mode:
//
//	GO111MODULE=off GOPATH="$(scripts/fetch-etcd-gopath.sh)" go build -o etcd-bench scripts/etcd-bench/main.go
//	etcd-bench --endpoints 127.0.0.1:2379,... --conns 16 --clients 256 --total 20000 \
//	    --val-size 350 --json figures.json
//
// Like `benchmark put --sequential-keys`: `--conns` clientv3 clients (one gRPC connection each;
// with several endpoints clientv3 balances requests round-robin over them), `--clients`
// goroutines sharing them (goroutine i uses client i % conns), each doing one Put at a time of a
// random value of `--val-size` bytes under a distinct sequential key, until `--total` puts are
// done. Every Put is acknowledged only after a quorum has the entry in its fsynced WAL (etcd's
// default durability). It prints the throughput and the latency percentiles, and writes them as
// JSON in the same shape as `pinfold-bench --json` (puts_per_sec for pins_per_sec).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type report struct {
	Kind        string   `json:"kind"`
	Endpoints   []string `json:"endpoints"`
	Concurrency int      `json:"concurrency"`
	Conns       int      `json:"conns"`
	Count       int      `json:"count"`
	ValSize     int      `json:"val_size"`
	Ok          int      `json:"ok"`
	Errors      int      `json:"errors"`
	ElapsedS    float64  `json:"elapsed_s"`
	PutsPerSec  float64  `json:"puts_per_sec"`
	LatencyMs   latency  `json:"latency_ms"`
	FirstError  *string  `json:"first_error"`
}

// Nearest-rank percentile of sorted values, as pinfold-bench computes it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	conns := flag.Int("conns", 1, "clientv3 clients (gRPC connections)")
	clients := flag.Int("clients", 1, "puts in flight at once")
	total := flag.Int("total", 1000, "number of puts")
	valSize := flag.Int("val-size", 350, "value size in bytes")
	prefix := flag.String("key-prefix", "pin/", "key prefix (keys are prefix + 32-digit sequence)")
	timeout := flag.Duration("timeout", 60*time.Second, "per-put timeout")
	jsonOut := flag.String("json", "", "also write the figures as JSON to this file")
	flag.Parse()
	if *conns < 1 || *clients < 1 || *total < 1 {
		fmt.Fprintln(os.Stderr, "etcd-bench: --conns, --clients and --total must be at least 1")
		os.Exit(2)
	}
	eps := strings.Split(*endpoints, ",")

	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 10 * time.Second})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench: connecting to %v: %v\n", eps, err)
			os.Exit(1)
		}
		defer c.Close()
		cs[i] = c
	}
	// The cluster must answer before the clock starts.
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cs[0].Put(ctx, *prefix+"warmup", "x")
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench: first put: %v\n", err)
			os.Exit(1)
		}
	}

	value := make([]byte, *valSize)
	if _, err := rand.Read(value); err != nil {
		panic(err)
	}
	val := string(value)

	var next int64 = -1
	var mu sync.Mutex
	var all []time.Duration
	errors := 0
	var firstErr *string
	var wg sync.WaitGroup
	start := time.Now()
	workers := *clients
	if workers > *total {
		workers = *total
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(c *clientv3.Client) {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			var first *string
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*total) {
					break
				}
				key := fmt.Sprintf("%s%032d", *prefix, i)
				ctx, cancel := context.WithTimeout(context.Background(), *timeout)
				t0 := time.Now()
				_, err := c.Put(ctx, key, val)
				took := time.Since(t0)
				cancel()
				if err != nil {
					errs++
					if first == nil {
						s := fmt.Sprintf("put %s: %v", key, err)
						first = &s
					}
					continue
				}
				lat = append(lat, took)
			}
			mu.Lock()
			all = append(all, lat...)
			errors += errs
			if firstErr == nil {
				firstErr = first
			}
			mu.Unlock()
		}(cs[w%len(cs)])
	}
	wg.Wait()
	elapsed := time.Since(start)

	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	mean := time.Duration(0)
	if len(all) > 0 {
		mean = sum / time.Duration(len(all))
	}
	max := time.Duration(0)
	if len(all) > 0 {
		max = all[len(all)-1]
	}
	r := report{
		Kind:        "etcd-put",
		Endpoints:   eps,
		Concurrency: *clients,
		Conns:       *conns,
		Count:       *total,
		ValSize:     *valSize,
		Ok:          len(all),
		Errors:      errors,
		ElapsedS:    elapsed.Seconds(),
		PutsPerSec:  float64(len(all)) / math.Max(elapsed.Seconds(), 1e-9),
		LatencyMs: latency{
			P50:  ms(percentile(all, 50)),
			P90:  ms(percentile(all, 90)),
			P95:  ms(percentile(all, 95)),
			P99:  ms(percentile(all, 99)),
			Max:  ms(max),
			Mean: ms(mean),
		},
		FirstError: firstErr,
	}
	fmt.Printf("etcd put: %d puts of %d bytes to %v, %d in flight over %d connections: %d ok, %d errors\n",
		r.Count, r.ValSize, eps, r.Concurrency, r.Conns, r.Ok, r.Errors)
	fmt.Printf("elapsed %.3f s, throughput %.1f puts/s\n", r.ElapsedS, r.PutsPerSec)
	fmt.Printf("latency ms: p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  max %.2f  mean %.2f\n",
		r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P95, r.LatencyMs.P99, r.LatencyMs.Max, r.LatencyMs.Mean)
	if firstErr != nil {
		fmt.Printf("first error: %s\n", *firstErr)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench: writing %s: %v\n", *jsonOut, err)
			os.Exit(1)
		}
	}
	if errors > 0 {
		os.Exit(1)
	}
}
