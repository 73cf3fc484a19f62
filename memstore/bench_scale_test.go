package memstore_test

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/sessionstore/sessionstore/memstore"
)

const scaleSessions = 1_000_000

// BenchmarkHeapPerSession reports the heap bytes each 1 KiB session with a
// 43-byte token costs at one million sessions (metric B/session). Run it
// with -benchtime 1x.
func BenchmarkHeapPerSession(b *testing.B) {
	toks := benchTokens(scaleSessions)
	data := make([]byte, benchDataSize)
	stores := []struct {
		name string
		fill func() any
	}{
		{"impl=plainmap", func() any {
			p := newPlainMap()
			for _, t := range toks {
				p.Commit(t, data, time.Now().Add(time.Hour))
			}
			return p
		}},
		{"impl=scsmemstore", func() any {
			s := scsmem.NewWithCleanupInterval(0)
			for _, t := range toks {
				// SCS's memstore keeps the caller's slice instead of a
				// copy; give it its own, as SCS's codec would.
				s.Commit(t, bytes.Clone(data), time.Now().Add(time.Hour))
			}
			return s
		}},
		{"impl=memstore", func() any {
			s := memstore.NewWithCleanupInterval(0)
			for _, t := range toks {
				s.Commit(t, data, time.Now().Add(time.Hour))
			}
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			var perSession float64
			for b.Loop() {
				before := heapInUse()
				s := st.fill()
				perSession = float64(heapInUse()-before) / scaleSessions
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perSession, "B/session")
		})
	}
	runtime.KeepAlive(toks)
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkCleanupPause fills a store with one million sessions, half of
// them expired, and removes the expired half while a goroutine keeps calling
// Find on live sessions. It reports the longest and the 99.9th-percentile
// latency that goroutine saw (max-ns, p999-ns), how many of its Finds took
// over a millisecond, and how long cleanup took. impl=none is the control:
// the same loop with no store.
func BenchmarkCleanupPause(b *testing.B) {
	toks := benchTokens(scaleSessions)
	data := make([]byte, benchDataSize)

	b.Run("impl=memstore", func(b *testing.B) { memstorePause(b, toks, data) })
	b.Run("impl=plainmap", func(b *testing.B) {
		for b.Loop() {
			p := newPlainMap()
			for i, t := range toks {
				ttl := time.Hour
				if i%2 == 0 {
					ttl = -time.Minute
				}
				p.Commit(t, data, time.Now().Add(ttl))
			}
			settleHeap()
			measurePause(b, toks, p.Find, p.deleteExpired).report(b)
		}
	})
	b.Run("impl=none", func(b *testing.B) { nonePause(b, toks) })
	b.Run("impl=scsmemstore", func(b *testing.B) {
		for b.Loop() {
			// SCS's cleanup cannot be called directly: let its ticker fire
			// once the short sessions have expired.
			start := time.Now()
			s := scsmem.NewWithCleanupInterval(4 * time.Second)
			for i, t := range toks {
				ttl := time.Hour
				if i%2 == 0 {
					ttl = 3 * time.Second
				}
				s.Commit(t, data, start.Add(ttl))
			}
			if time.Since(start) > 3*time.Second {
				b.Skip("filling took too long for SCS's cleanup tick")
			}
			runtime.GC()
			measurePause(b, toks, s.Find, func() {
				time.Sleep(time.Until(start.Add(5 * time.Second)))
			}).report(b)
			s.StopCleanup()
		}
	})
}

// BenchmarkCleanupPausePaired is BenchmarkCleanupPause's impl=memstore
// and its control, impl=none, in turn within each iteration (rotating who
// goes first), so that both see the same machine. It reports each one's
// longest and 99.9th-percentile Find and Finds over a millisecond. Run it
// with -benchtime 1x -count 6 or more.
func BenchmarkCleanupPausePaired(b *testing.B) {
	toks := benchTokens(scaleSessions)
	data := make([]byte, benchDataSize)
	variants := []struct {
		name string
		run  func() pause
	}{
		{"memstore", func() pause { return memstoreCleanup(b, toks, data) }},
		{"none", func() pause { return noneCleanup(b, toks) }},
	}
	got := make([][]pause, len(variants))
	i := 0
	for b.Loop() {
		for j := range variants {
			k := (i + j) % len(variants)
			got[k] = append(got[k], variants[k].run())
		}
		i++
	}
	for k, v := range variants {
		var p pause
		for _, g := range got[k] {
			p.max, p.p999 = max(p.max, g.max), max(p.p999, g.p999)
			p.over += g.over
		}
		b.ReportMetric(float64(p.max), v.name+"-max-ns")
		b.ReportMetric(float64(p.p999), v.name+"-p999-ns")
		b.ReportMetric(float64(p.over), v.name+"-finds>1ms")
	}
}

// memstorePause is BenchmarkCleanupPause's impl=memstore.
func memstorePause(b *testing.B, toks []string, data []byte) {
	for b.Loop() {
		memstoreCleanup(b, toks, data).report(b)
	}
}

// memstoreCleanup fills a store with toks, half of them expired, and
// measures the Finds during DeleteExpired.
func memstoreCleanup(b *testing.B, toks []string, data []byte) pause {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	s := mustNew(b, memstore.Config{CleanupInterval: -1, Now: now})
	for i, t := range toks {
		ttl := time.Hour
		if i%2 == 0 {
			ttl = time.Minute
		}
		s.Commit(t, data, now().Add(ttl))
	}
	clock.Add(int64(2 * time.Minute))
	settleHeap()
	return measurePause(b, toks, s.Find, func() {
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != scaleSessions/2 {
			b.Fatalf("DeleteExpired = %d, %v", n, err)
		}
	})
}

// nonePause is BenchmarkCleanupPause's impl=none: no store. The same loop
// allocates the same 1 KiB per "Find" while the other goroutine keeps a
// processor busy for as long as memstore's cleanup takes. What it sees is
// what the machine (the Go scheduler, the OS, the hypervisor) adds to every
// figure of a store. A ballast as large as memstore's million sessions
// keeps the garbage collector as rare as it is there.
func nonePause(b *testing.B, toks []string) {
	for b.Loop() {
		noneCleanup(b, toks).report(b)
	}
}

// noneCleanup is one run of nonePause.
func noneCleanup(b *testing.B, toks []string) pause {
	ballast := make([]byte, scaleSessions*(benchDataSize+200))
	settleHeap()
	p := measurePause(b, toks, func(string) ([]byte, bool, error) {
		return make([]byte, benchDataSize), true, nil
	}, func() {
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		}
	})
	runtime.KeepAlive(ballast)
	return p
}

// garbage keeps settleHeap's allocations from being optimised away.
var garbage []byte

// settleHeap brings the heap of a freshly filled store to the state of a
// server that has been serving it: one garbage collection triggered by
// short-lived request garbage (1 KiB, like a Find's copy), not by the fill,
// then a full collection so that measuring starts with nothing left to sweep.
//
// Without it, the finder's garbage is the first the heap has seen: the
// number of spans (runtime-managed runs of pages) climbs past anything the
// fill reached, and when it passes 1.5 times the previous most, the runtime
// copies its table of every span (about 1 MiB at one million sessions) into
// freshly mapped pages while holding the heap lock. The Find whose
// allocation triggers that copy takes about 1.2 ms on the 2-core sandbox,
// whatever the store does. A server with a million sessions went through
// that long before: its span count already covers the garbage between two
// collections.
func settleHeap() {
	if gcOff := debug.SetGCPercent(-1); gcOff < 0 {
		runtime.GC() // GOGC=off: no collection would ever come
		return
	} else {
		debug.SetGCPercent(gcOff)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for start := ms.NumGC; ms.NumGC == start; runtime.ReadMemStats(&ms) {
		for range 1 << 16 {
			garbage = make([]byte, benchDataSize)
		}
	}
	garbage = nil
	runtime.GC()
}

// pause is what the finding goroutine of measurePause saw.
type pause struct {
	max, p999 time.Duration
	over      int // Finds that took over a millisecond
	took      time.Duration
}

// report reports p as the metrics of b.
func (p pause) report(b *testing.B) {
	b.ReportMetric(float64(p.over), "finds>1ms")
	b.ReportMetric(float64(p.max), "max-ns")
	b.ReportMetric(float64(p.p999), "p999-ns")
	b.ReportMetric(float64(p.took.Milliseconds()), "cleanup-ms")
}

// measurePause runs cleanup while one goroutine keeps calling find on live
// tokens (odd indexes), and returns what that goroutine saw.
func measurePause(b *testing.B, toks []string, find func(string) ([]byte, bool, error), cleanup func()) pause {
	var stop atomic.Bool
	var wg sync.WaitGroup
	lat := make([]time.Duration, 0, 1<<22)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; !stop.Load(); i += 2 {
			t0 := time.Now()
			find(toks[(i*7919)%len(toks)|1])
			lat = append(lat, time.Since(t0))
		}
	}()
	t0 := time.Now()
	cleanup()
	took := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	slices.Sort(lat)
	over, _ := slices.BinarySearch(lat, time.Millisecond+1)
	b.Logf("%d finds during cleanup of %v", len(lat), took)
	return pause{max: lat[len(lat)-1], p999: lat[len(lat)*999/1000], over: len(lat) - over, took: took}
}
