package redisstorebench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/redisstore"
)

// BenchmarkSessions1M iterates a million sessions with Sessions (SCAN per
// master, pipelined GETs) against the same SCAN with one GET per key (what
// SCS's goredisstore does in All). Run by hand:
//
//	cd bench && REDISSTORE_BENCH_1M=1 go test -run '^$' -bench Sessions1M -benchtime 1x -timeout 30m ./redisstore
func BenchmarkSessions1M(b *testing.B) {
	if os.Getenv("REDISSTORE_BENCH_1M") == "" {
		b.Skip("set REDISSTORE_BENCH_1M=1 (writes a million keys)")
	}
	const n = 1_000_000
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		ctx := context.Background()
		p := fmt.Sprintf("bench1m:%d:session:", time.Now().UnixNano())
		rs, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p})
		if err != nil {
			b.Fatal(err)
		}
		defer dropPrefix(b, c, fmt.Sprintf("bench1m:%s", p[len("bench1m:"):len(p)-len("session:")]))
		exp := time.Now().Add(2 * time.Hour)
		var wg sync.WaitGroup
		const workers = 64
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					if err := rs.Commit(fmt.Sprintf("tok-%07d", i), payload, exp); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			got := 0
			for _, err := range rs.Sessions(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				got++
			}
			sessions := time.Since(start)
			start = time.Now()
			perKey := 0
			scan := func(ctx context.Context, node redis.UniversalClient) error {
				it := node.Scan(ctx, 0, p+"*", 1000).Iterator()
				for it.Next(ctx) {
					if err := c.Get(ctx, it.Val()).Err(); err != nil {
						return err
					}
					perKey++
				}
				return it.Err()
			}
			if cc, ok := c.(*redis.ClusterClient); ok {
				var mu sync.Mutex
				var nodes []*redis.Client
				_ = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
					mu.Lock()
					nodes = append(nodes, n)
					mu.Unlock()
					return nil
				})
				for _, node := range nodes {
					if err := scan(ctx, node); err != nil {
						b.Fatal(err)
					}
				}
			} else if err := scan(ctx, c); err != nil {
				b.Fatal(err)
			}
			oneGet := time.Since(start)
			if got != n || perKey != n {
				b.Fatalf("Sessions saw %d, the GET loop %d; want %d", got, perKey, n)
			}
			b.ReportMetric(sessions.Seconds(), "sessions-s")
			b.ReportMetric(oneGet.Seconds(), "get-per-key-s")
			b.ReportMetric(oneGet.Seconds()/sessions.Seconds(), "speedup")
		}
	})
}
