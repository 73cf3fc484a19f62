package sqltest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"runtime"
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
