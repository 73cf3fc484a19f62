package pgstorebench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The Paired benchmarks run raw pgx, pgstore and SCS's pgxstore in turn
// within each iteration (rotating who goes first) and time each call, so
// that all three see the same moment of machine load. They report each
// one's time per operation and the ratios pgstore/raw and scs/raw, which
// stay meaningful on a machine too busy for the plain benchmarks' ns/op to
// be compared across sub-benchmarks.

// pairedTimes accumulates the time each impl spent.
type pairedTimes struct {
	mu sync.Mutex
	d  []time.Duration
	n  []int64
}

func newPairedTimes() *pairedTimes {
	return &pairedTimes{d: make([]time.Duration, len(env.impls)), n: make([]int64, len(env.impls))}
}

func (p *pairedTimes) add(d []time.Duration, n []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range d {
		p.d[i] += d[i]
		p.n[i] += n[i]
	}
}

func (p *pairedTimes) report(b *testing.B) {
	per := make([]float64, len(p.d))
	for i, im := range env.impls {
		if p.n[i] == 0 {
			return
		}
		per[i] = float64(p.d[i].Nanoseconds()) / float64(p.n[i])
		b.ReportMetric(per[i]/1e3, im.name+"-µs/op")
	}
	for i := 1; i < len(per); i++ {
		b.ReportMetric(per[i]/per[0], env.impls[i].name+"/raw")
		for j, vs := range env.impls {
			if vs.name == env.impls[i].vs {
				b.ReportMetric(per[i]/per[j], env.impls[i].name+"/"+vs.name)
			}
		}
	}
}

// pairedOps are the single operations, each given the impl and a sequence
// number.
var pairedOps = []struct {
	name string
	op   func(ctx context.Context, im impl, i int) error
}{
	{"FindHit", func(ctx context.Context, im impl, i int) error {
		_, found, err := im.find(ctx, env.tokens[(i*7919)%sessions])
		if err == nil && !found {
			err = fmt.Errorf("%s: session not found", im.name)
		}
		return err
	}},
	{"FindMiss", func(ctx context.Context, im impl, i int) error {
		_, found, err := im.find(ctx, "missing-7e3ac2f1d5b94b1f8a6e0c2d4f6a8b0c1d2")
		if err == nil && found {
			err = fmt.Errorf("%s: missing session found", im.name)
		}
		return err
	}},
	{"Commit", func(ctx context.Context, im impl, i int) error {
		return im.commit(ctx, env.tokens[(i*7919)%sessions], payload1K, time.Now().Add(24*time.Hour))
	}},
	{"CommitNew", func(ctx context.Context, im impl, i int) error {
		return im.commit(ctx, fmt.Sprintf("paired-new-%s-%d-%d", im.name, runID, i), payload1K, time.Now().Add(time.Minute))
	}},
	{"Delete", func(ctx context.Context, im impl, i int) error {
		return im.del(ctx, env.del.take())
	}},
}

var (
	payload1K = payload()
	runID     = rand.Uint64()
)

func BenchmarkPaired(b *testing.B) {
	setup(b)
	for _, o := range pairedOps {
		b.Run("op="+o.name, func(b *testing.B) {
			ctx := context.Background()
			times := newPairedTimes()
			d := make([]time.Duration, len(env.impls))
			n := make([]int64, len(env.impls))
			env.del.ensure(b, 3000)
			i, left := 0, 3000
			for b.Loop() {
				if left < len(env.impls) {
					b.StopTimer()
					env.del.ensure(b, 20_000)
					left = 20_000
					b.StartTimer()
				}
				left -= len(env.impls)
				i++
				for j := range env.impls {
					k := (i + j) % len(env.impls)
					start := time.Now()
					if err := o.op(ctx, env.impls[k], i); err != nil {
						b.Fatal(err)
					}
					d[k] += time.Since(start)
					n[k]++
				}
			}
			times.add(d, n)
			times.report(b)
		})
	}
	b.Run("op=All", func(b *testing.B) {
		ctx := context.Background()
		times := newPairedTimes()
		d := make([]time.Duration, len(env.impls))
		n := make([]int64, len(env.impls))
		// Each iteration runs every rotation, so that every impl goes first,
		// second and third equally often even when b.Loop runs once.
		for b.Loop() {
			for i := range len(env.impls) * len(env.impls) {
				k := (i/len(env.impls) + i) % len(env.impls)
				runtime.GC() // each starts with the previous map collected
				start := time.Now()
				all, err := env.impls[k].all(ctx)
				d[k] += time.Since(start)
				n[k]++
				if err != nil || len(all) < sessions {
					b.Fatalf("%s: All = %d sessions, %v", env.impls[k].name, len(all), err)
				}
			}
		}
		times.add(d, n)
		times.report(b)
	})
	for _, g := range []int{8, 64} {
		b.Run(fmt.Sprintf("op=Mixed/goroutines=%d", g), func(b *testing.B) {
			env.del.ensure(b, int64(b.N/50+1000))
			times := newPairedTimes()
			b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
				d := make([]time.Duration, len(env.impls))
				n := make([]int64, len(env.impls))
				defer times.add(d, n)
				for k := r.IntN(len(env.impls)); pb.Next(); k = (k + 1) % len(env.impls) {
					im := env.impls[k]
					tok := env.tokens[r.IntN(sessions)]
					start := time.Now()
					var err error
					switch x := r.IntN(100); {
					case x < 90:
						_, _, err = im.find(ctx, tok)
					case x < 99:
						err = im.commit(ctx, tok, payload1K, time.Now().Add(24*time.Hour))
					default:
						err = im.del(ctx, env.del.take())
					}
					d[k] += time.Since(start)
					n[k]++
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			times.report(b)
		})
	}
}
