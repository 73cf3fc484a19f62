// Package redisstorebench measures redisstore against raw go-redis doing
// the least the same work needs (GET; SET with PXAT; DEL) on the same
// client, and against SCS's goredisstore, on the Redis at
// SESSIONSTORE_REDIS_ADDR (default 127.0.0.1:6379, database 11) and on a
// local Redis Cluster of three masters that the first cluster benchmark
// starts from redis-server.
//
// The benchmarks are paired: each iteration runs every implementation once,
// rotating which goes first, and times each call, so that all see the same
// moment of machine load. Compare the reported ratios (redisstore/raw,
// goredisstore/raw), not ns/op across runs.
//
//	cd bench && go test -run '^$' -bench . -benchtime 20000x -count 6 ./redisstore
//
// REDISSTORE_BENCH_1M=1 adds BenchmarkSessions1M: Sessions over a million
// sessions against one GET per key.
package redisstorebench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/redisstore"
	"github.com/sessionstore/sessionstore/redisstore/redistest"
)

var (
	singleOnce sync.Once
	singleC    *redis.Client
	singleErr  error

	clusterOnce sync.Once
	clusterDir  string
	cluster     *redistest.Cluster
	clusterC    *redis.ClusterClient
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if singleC != nil {
		singleC.Close()
	}
	if clusterC != nil {
		clusterC.Close()
	}
	if cluster != nil {
		cluster.Stop()
		os.RemoveAll(clusterDir)
	}
	os.Exit(code)
}

func single(b *testing.B) *redis.Client {
	singleOnce.Do(func() {
		singleC = redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: 11, PoolSize: 128})
		singleErr = singleC.Ping(context.Background()).Err()
	})
	if singleErr != nil {
		testenv.Unavailable(b, "Redis at 127.0.0.1:6379", "set "+testenv.RedisEnv, singleErr)
	}
	return singleC
}

func clusterClient(b *testing.B) *redis.ClusterClient {
	clusterOnce.Do(func() {
		clusterDir, clusterErr = os.MkdirTemp("", "redisstore-bench-")
		if clusterErr == nil {
			cluster, clusterErr = redistest.Start(clusterDir, redistest.Options{Masters: 3})
		}
		if clusterErr == nil {
			clusterC = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), PoolSize: 128})
		}
	})
	if clusterErr != nil {
		testenv.Unavailable(b, "a Redis Cluster started from redis-server", "install redis-server", clusterErr)
	}
	return clusterC
}

// impl is one way of doing the store's three operations.
type impl struct {
	name   string
	find   func(ctx context.Context, tok string) error
	commit func(ctx context.Context, tok string, data []byte, exp time.Time) error
	del    func(ctx context.Context, tok string) error
}

// impls are raw go-redis first (the denominator), redisstore, and, on a
// single server, goredisstore (which takes only a *redis.Client), each
// under its own prefix.
func impls(b *testing.B, c redis.UniversalClient) []impl {
	p := fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	rawPrefix := p + "raw:"
	rs, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "rs:session:"})
	if err != nil {
		b.Fatal(err)
	}
	out := []impl{
		{"raw",
			func(ctx context.Context, tok string) error {
				err := c.Get(ctx, rawPrefix+tok).Err()
				if err == redis.Nil {
					return nil
				}
				return err
			},
			func(ctx context.Context, tok string, data []byte, exp time.Time) error {
				return c.SetArgs(ctx, rawPrefix+tok, data, redis.SetArgs{ExpireAt: exp}).Err()
			},
			func(ctx context.Context, tok string) error { return c.Del(ctx, rawPrefix+tok).Err() },
		},
		{"redisstore",
			func(ctx context.Context, tok string) error { _, _, err := rs.FindCtx(ctx, tok); return err },
			rs.CommitCtx,
			rs.DeleteCtx,
		},
	}
	if sc, ok := c.(*redis.Client); ok {
		g := goredisstore.NewWithPrefix(sc, p+"scs:")
		out = append(out, impl{"goredisstore",
			func(ctx context.Context, tok string) error { _, _, err := g.FindCtx(ctx, tok); return err },
			g.CommitCtx,
			g.DeleteCtx,
		})
	}
	b.Cleanup(func() { dropPrefix(b, c, p) })
	return out
}

func dropPrefix(b *testing.B, c redis.UniversalClient, p string) {
	ctx := context.Background()
	drop := func(ctx context.Context, n *redis.Client) error {
		for _, pat := range []string{p + "*", "tombstone:" + p + "*"} {
			it := n.Scan(ctx, 0, pat, 1000).Iterator()
			var keys []string
			for it.Next(ctx) {
				if keys = append(keys, it.Val()); len(keys) == 500 {
					delKeys(ctx, n, keys)
					keys = keys[:0]
				}
			}
			delKeys(ctx, n, keys)
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		_ = cc.ForEachMaster(ctx, drop)
	} else {
		_ = drop(ctx, c.(*redis.Client))
	}
}

func delKeys(ctx context.Context, n *redis.Client, keys []string) {
	pipe := n.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	pipe.Exec(ctx)
}

func token() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// payload is the size of a small SCS session (a user ID, a CSRF token and
// a flash message, gob-encoded).
var payload = func() []byte { b := make([]byte, 200); rand.Read(b); return b }()

// paired accumulates the time each impl spent.
type paired struct {
	mu sync.Mutex
	d  []time.Duration
	n  []int64
}

func (p *paired) add(d []time.Duration, n []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d == nil {
		p.d, p.n = make([]time.Duration, len(d)), make([]int64, len(d))
	}
	for i := range d {
		p.d[i] += d[i]
		p.n[i] += n[i]
	}
}

func (p *paired) report(b *testing.B, ims []impl) {
	if len(p.n) == 0 || p.n[0] == 0 {
		return
	}
	per := make([]float64, len(ims))
	for i, im := range ims {
		per[i] = float64(p.d[i].Nanoseconds()) / float64(p.n[i])
		b.ReportMetric(per[i]/1e3, im.name+"-µs/op")
	}
	for i := 1; i < len(ims); i++ {
		b.ReportMetric(per[i]/per[0], ims[i].name+"/"+ims[0].name)
	}
	b.ReportMetric(0, "ns/op") // the per-impl figures above are the result
}

// topologies runs f on the single server and on the cluster.
func topologies(b *testing.B, f func(b *testing.B, c redis.UniversalClient)) {
	b.Run("single", func(b *testing.B) { f(b, single(b)) })
	b.Run("cluster", func(b *testing.B) { f(b, clusterClient(b)) })
}

// seed commits n sessions of payload through every impl and returns their
// tokens.
func seed(b *testing.B, ims []impl, n int) []string { return seedWith(b, ims, n, payload) }

func seedWith(b *testing.B, ims []impl, n int, payload []byte) []string {
	ctx := context.Background()
	toks := make([]string, n)
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	const workers = 32
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				toks[i] = token()
				for _, im := range ims {
					if err := im.commit(ctx, toks[i], payload, exp); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return toks
}

// run times op for every impl once per iteration, rotating the order.
func run(b *testing.B, ims []impl, op func(ctx context.Context, im impl, i int) error) {
	ctx := context.Background()
	var p paired
	d := make([]time.Duration, len(ims))
	n := make([]int64, len(ims))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range ims {
			j := (i + k) % len(ims)
			start := time.Now()
			if err := op(ctx, ims[j], i); err != nil {
				b.Fatal(err)
			}
			d[j] += time.Since(start)
			n[j]++
		}
	}
	b.StopTimer()
	p.add(d, n)
	p.report(b, ims)
}

func BenchmarkFind(b *testing.B) {
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		ims := impls(b, c)
		toks := seed(b, ims, 2000)
		run(b, ims, func(ctx context.Context, im impl, i int) error { return im.find(ctx, toks[i%len(toks)]) })
	})
}

func BenchmarkCommit(b *testing.B) {
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		ims := impls(b, c)
		toks := seed(b, ims, 2000)
		exp := time.Now().Add(time.Hour)
		run(b, ims, func(ctx context.Context, im impl, i int) error {
			return im.commit(ctx, toks[i%len(toks)], payload, exp)
		})
	})
}

// BenchmarkCommitLarge is BenchmarkCommit with sessions of 8 KiB: Commit's
// SET ... XX GET reads the old value back, which a raw SET does not.
func BenchmarkCommitLarge(b *testing.B) {
	large := make([]byte, 8<<10)
	rand.Read(large)
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		ims := impls(b, c)
		toks := seedWith(b, ims, 2000, large)
		exp := time.Now().Add(time.Hour)
		run(b, ims, func(ctx context.Context, im impl, i int) error {
			return im.commit(ctx, toks[i%len(toks)], large, exp)
		})
	})
}

// BenchmarkDelete deletes live sessions: redisstore writes a tombstone for
// each.
func BenchmarkDelete(b *testing.B) {
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		ims := impls(b, c)
		toks := seed(b, ims, b.N)
		run(b, ims, func(ctx context.Context, im impl, i int) error { return im.del(ctx, toks[i]) })
	})
}

// BenchmarkMixed is 90% Find, 9% Commit and 1% Delete over 10,000
// sessions, at 8 and 64 goroutines; each goroutine runs every impl in turn.
func BenchmarkMixed(b *testing.B) {
	for _, g := range []int{8, 64} {
		b.Run(fmt.Sprintf("g%d", g), func(b *testing.B) {
			topologies(b, func(b *testing.B, c redis.UniversalClient) {
				ims := impls(b, c)
				toks := seed(b, ims, 10000)
				exp := time.Now().Add(time.Hour)
				var p paired
				per := (b.N + g - 1) / g
				var wg sync.WaitGroup
				b.ResetTimer()
				for w := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						d := make([]time.Duration, len(ims))
						n := make([]int64, len(ims))
						for i := range per {
							x := w*per + i
							tok := toks[(x*7919)%len(toks)]
							for k := range ims {
								j := (x + k) % len(ims)
								im := ims[j]
								start := time.Now()
								var err error
								switch r := x % 100; {
								case r < 90:
									err = im.find(ctx, tok)
								case r < 99:
									err = im.commit(ctx, tok, payload, exp)
								default:
									err = im.del(ctx, tok)
								}
								d[j] += time.Since(start)
								n[j]++
								if err != nil {
									b.Error(err)
									return
								}
							}
						}
						p.add(d, n)
					}()
				}
				wg.Wait()
				b.StopTimer()
				p.report(b, ims)
			})
		})
	}
}
