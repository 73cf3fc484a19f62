package gorillastore

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// BenchmarkPaired measures PGStore and raw pgx doing the same SQL
// alternately in one loop, each operation timed on its own, so that both see
// the same machine load: on a shared machine this gives a much tighter
// store/raw ratio than separate benchmarks. It reports the median latency of
// each (µs) and their ratio; the mixed load reports means, which is what
// throughput follows.
func BenchmarkPaired(b *testing.B) {
	b.Run("op=Get", func(b *testing.B) {
		e := newBenchEnv(b, "PGStore", 1)
		reqs := e.requests()
		pairLoop(b, func() error { return e.rawGet(0) }, func() error { return e.get(reqs, 0) })
	})
	b.Run("op=Save", func(b *testing.B) {
		e := newBenchEnv(b, "PGStore", 1)
		r := request(e.cookies[0])
		sess, err := e.store.New(r, "sid")
		if err != nil {
			b.Fatal(err)
		}
		w := &discard{h: http.Header{}}
		pairLoop(b, func() error { return e.rawSave(0) }, func() error {
			delete(w.h, "Set-Cookie")
			return e.store.Save(r, w, sess)
		})
	})
	const n = 1000
	for _, g := range []int{8, 64} {
		b.Run(fmt.Sprintf("op=Mixed/goroutines=%d", g), func(b *testing.B) {
			e := newBenchEnv(b, "PGStore", n)
			reqs := e.requests()
			var mu sync.Mutex
			var raw, store []time.Duration
			var workers atomic.Int64
			b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discard{h: http.Header{}}
				var lraw, lstore []time.Duration
				// Which of the pair goes first alternates for the Get pairs
				// and, apart, for the Save pairs: i%10 == 0 implies i even.
				var pairs [2]int
				for i := spread(int(workers.Add(1))); pb.Next(); i++ {
					k := (i * 7919) % n
					rawOp := func() error { return e.rawGet(k) }
					storeOp := func() error { return e.get(reqs, k) }
					kind := 0
					if i%10 == 0 { // one in ten: load and save
						kind = 1
						rawOp = func() error {
							if err := e.rawGet(k); err != nil {
								return err
							}
							return e.rawSave(k)
						}
						storeOp = func() error {
							r := *reqs[k]
							s, err := e.store.Get(&r, "sid")
							if err != nil {
								return err
							}
							s.Values["n"] = i
							delete(w.h, "Set-Cookie")
							return sessions.Save(&r, w)
						}
					}
					dr, ds, err := timePair(pairs[kind], rawOp, storeOp)
					pairs[kind]++
					if err != nil {
						b.Error(err)
						return
					}
					lraw, lstore = append(lraw, dr), append(lstore, ds)
				}
				mu.Lock()
				raw, store = append(raw, lraw...), append(store, lstore...)
				mu.Unlock()
			})
			b.StopTimer()
			report(b, mean(raw), mean(store))
		})
	}
}

// spread is where worker w (1, 2, ...) of a parallel benchmark starts its
// walk through the sessions: 101 steps from the next, so that the workers do
// not load and save the same session at the same moment. (Started together
// from 0, every worker saved the same row at every tenth step, and the
// benchmark measured the row lock of one session.)
func spread(w int) int { return w * 101 }

// pairLoop runs rawOp and storeOp alternately and reports their medians.
func pairLoop(b *testing.B, rawOp, storeOp func() error) {
	var raw, store []time.Duration
	i := 0
	for b.Loop() {
		dr, ds, err := timePair(i, rawOp, storeOp)
		if err != nil {
			b.Fatal(err)
		}
		raw, store = append(raw, dr), append(store, ds)
		i++
	}
	report(b, median(raw), median(store))
}

// timePair times both operations, alternating which runs first.
func timePair(i int, rawOp, storeOp func() error) (raw, store time.Duration, err error) {
	timed := func(op func() error) (time.Duration, error) {
		t0 := time.Now()
		err := op()
		return time.Since(t0), err
	}
	var err2 error
	if i%2 == 0 {
		raw, err = timed(rawOp)
		store, err2 = timed(storeOp)
	} else {
		store, err2 = timed(storeOp)
		raw, err = timed(rawOp)
	}
	if err == nil {
		err = err2
	}
	return raw, store, err
}

func report(b *testing.B, raw, store time.Duration) {
	b.ReportMetric(float64(raw)/1e3, "raw-µs")
	b.ReportMetric(float64(store)/1e3, "PGStore-µs")
	b.ReportMetric(float64(store)/float64(raw), "PGStore/raw")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}
