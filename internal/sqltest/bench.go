package sqltest

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Store is what the benchmarks exercise: scs.Store plus All.
type Store interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
	All() (map[string][]byte, error)
}

// Target is one implementation under benchmark: a store on its own, fresh
// table, and a way to bulk-load that table.
type Target struct {
	Name  string // sub-benchmark label: impl=Name
	Store Store
	// Fill inserts a session for every token, with data and expiry.
	Fill func(tokens []string, data []byte, expiry time.Time) error
}

// Sessions is the number of live sessions each target's table holds.
const Sessions = 100_000

// Data is the session data every benchmark stores: about the size of a
// small SCS session (gob-encoded deadline and a few values).
var Data = []byte(fmt.Sprintf("%0200d", 7))

// Tokens returns n SCS-shaped tokens (43 bytes of base64), deterministic
// per seed.
func Tokens(seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 0x5e55))
	out := make([]string, n)
	b := make([]byte, 32)
	for i := range out {
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		out[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return out
}

// Bench runs the benchmarks on every target, interleaved: each operation
// runs on every target in turn, so that the load other processes put on
// the machine hits them alike. Compare with benchstat -col /impl.
func Bench(b *testing.B, targets []Target) {
	tokens := Tokens(1, Sessions)
	expiry := time.Now().Add(24 * time.Hour)
	for _, t := range targets {
		if err := t.Fill(tokens, Data, expiry); err != nil {
			b.Fatalf("%s: fill: %v", t.Name, err)
		}
	}
	each := func(name string, fn func(b *testing.B, s Store, t Target)) {
		b.Run(name, func(b *testing.B) {
			for _, t := range targets {
				b.Run("impl="+t.Name, func(b *testing.B) {
					b.ReportAllocs()
					fn(b, t.Store, t)
				})
			}
		})
	}
	each("FindHit", func(b *testing.B, s Store, _ Target) {
		i := 0
		for b.Loop() {
			if _, ok, err := s.Find(tokens[i%len(tokens)]); err != nil || !ok {
				b.Fatalf("Find: %v, %v", ok, err)
			}
			i += 7919
		}
	})
	misses := Tokens(2, 10_000)
	each("FindMiss", func(b *testing.B, s Store, _ Target) {
		i := 0
		for b.Loop() {
			if _, ok, err := s.Find(misses[i%len(misses)]); err != nil || ok {
				b.Fatalf("Find: %v, %v", ok, err)
			}
			i++
		}
	})
	each("Commit", func(b *testing.B, s Store, _ Target) {
		i := 0
		for b.Loop() {
			if err := s.Commit(tokens[i%len(tokens)], Data, expiry.Add(time.Duration(i))); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
	})
	seed := uint64(100)
	each("Delete", func(b *testing.B, s Store, t Target) {
		var chunk []string
		i := 0
		for b.Loop() {
			if i == len(chunk) {
				b.StopTimer()
				seed++
				chunk, i = Tokens(seed, 1000), 0
				if err := t.Fill(chunk, Data, expiry); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if err := s.Delete(chunk[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	each("All100k", func(b *testing.B, s Store, _ Target) {
		for b.Loop() {
			all, err := s.All()
			if err != nil || len(all) < Sessions*99/100 {
				b.Fatalf("All: %d sessions, %v", len(all), err)
			}
		}
	})
	for _, g := range []int{8, 64} {
		each(fmt.Sprintf("Mixed90-9-1/goroutines=%d", g), func(b *testing.B, s Store, _ Target) {
			mixed(b, s, tokens, expiry, g)
		})
	}
}

// mixed runs 90% Find, 9% Commit, 1% Delete of random sessions from
// goroutines goroutines.
func mixed(b *testing.B, s Store, tokens []string, expiry time.Time, goroutines int) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((goroutines + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		for pb.Next() {
			tok := tokens[r.IntN(len(tokens))]
			var err error
			switch n := r.IntN(100); {
			case n < 90:
				_, _, err = s.Find(tok)
			case n < 99:
				err = s.Commit(tok, Data, expiry)
			default:
				err = s.Delete(tok)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// StallStore is what CleanupStall exercises.
type StallStore interface {
	Commit(token string, b []byte, expiry time.Time) error
	DeleteExpired(ctx context.Context) (int64, error)
}

// StallTarget is one database under CleanupStall: a store on its own,
// fresh table, and ways to bulk-load that table and its tombstone table.
type StallTarget struct {
	Name  string
	Store StallStore
	// Fill inserts a session for every token, with data and expiry.
	Fill func(tokens []string, data []byte, expiry time.Time) error
	// FillTombstones inserts a tombstone for every token, with expiry.
	FillTombstones func(tokens []string, expiry time.Time) error
}

// The table CleanupStall cleans: StallSessions sessions of which
// StallExpired have expired, and StallTombstones tombstones past the
// cleanup cutoff (without session rows).
const (
	StallSessions   = 1_000_000
	StallExpired    = 500_000
	StallTombstones = 50_000
	// StallWriters is the number of goroutines committing during the run.
	StallWriters = 8
)

// Explicit reports whether the -bench pattern names name itself, so that
// a benchmark too slow for `make bench` runs only when asked for by name.
func Explicit(name string) bool {
	f := flag.Lookup("test.bench")
	return f != nil && strings.Contains(f.Value.String(), name)
}

// CleanupStall measures how long concurrent Commits take while one
// DeleteExpired removes StallExpired expired sessions (and StallTombstones
// tombstones) from a table of StallSessions, against the same Commit loop,
// for the same length of time, on the same table reloaded to the same
// state, without cleanup. The Commits update random live sessions. It
// reports the longest and the 99th-percentile
// Commit of each phase (max-ms/cleanup, p99-ms/cleanup, max-ms/control,
// p99-ms/control), their ratios, and how long one cleanup took
// (cleanup-s). It takes minutes: run it by name, with -benchtime 1x.
func CleanupStall(b *testing.B, t StallTarget) {
	tokens := Tokens(7, StallSessions)
	expired, live := tokens[:StallExpired], tokens[StallExpired:]
	tombs := Tokens(8, StallTombstones)
	far := time.Now().Add(240 * time.Hour)
	past := time.Now().Add(-240 * time.Hour) // before any cleanup cutoff
	load := func() {
		b.Helper()
		if err := t.Fill(expired, Data, past); err != nil {
			b.Fatalf("%s: fill expired: %v", t.Name, err)
		}
		if err := t.FillTombstones(tombs, past); err != nil {
			b.Fatalf("%s: fill tombstones: %v", t.Name, err)
		}
	}
	if err := t.Fill(live, Data, far); err != nil {
		b.Fatalf("%s: fill live: %v", t.Name, err)
	}
	var cleanup, control []time.Duration
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		load()
		b.StartTimer()
		start := time.Now()
		cleanup = append(cleanup, commitDuring(b, t.Store, live, far, func() {
			n, err := t.Store.DeleteExpired(context.Background())
			if err != nil || n != StallExpired+StallTombstones {
				b.Errorf("%s: DeleteExpired = %d, %v; want %d", t.Name, n, err, StallExpired+StallTombstones)
			}
		})...)
		d := time.Since(start)
		took += d
		b.StopTimer()
		load()
		control = append(control, commitDuring(b, t.Store, live, far, func() { time.Sleep(d) })...)
		if _, err := t.Store.DeleteExpired(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	took /= time.Duration(b.N)
	cMax, cP99 := quantiles(cleanup)
	kMax, kP99 := quantiles(control)
	b.ReportMetric(ms(cMax), "max-ms/cleanup")
	b.ReportMetric(ms(cP99), "p99-ms/cleanup")
	b.ReportMetric(ms(kMax), "max-ms/control")
	b.ReportMetric(ms(kP99), "p99-ms/control")
	b.ReportMetric(float64(cMax)/float64(kMax), "max-ratio")
	b.ReportMetric(float64(cP99)/float64(kP99), "p99-ratio")
	b.ReportMetric(took.Seconds(), "cleanup-s")
	b.ReportMetric(float64(len(cleanup)), "commits/cleanup")
	b.ReportMetric(float64(len(control)), "commits/control")
}

// commitDuring runs StallWriters goroutines that commit random live
// sessions until during returns, and returns every Commit's latency.
func commitDuring(b *testing.B, s StallStore, live []string, expiry time.Time, during func()) []time.Duration {
	stop := make(chan struct{})
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for w := range StallWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 0xc0))
			var mine []time.Duration
			defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if err := s.Commit(live[r.IntN(len(live))], Data, expiry.Add(time.Duration(i))); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
		}()
	}
	during()
	close(stop)
	wg.Wait()
	return all
}

// quantiles returns the largest and the 99th-percentile duration of d.
func quantiles(d []time.Duration) (max, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)-1], d[len(d)*99/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
