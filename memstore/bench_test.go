package memstore_test

// Benchmarks: this store against a plain map behind one sync.RWMutex (the
// floor any in-memory store is measured against) and SCS's own memstore, in
// the same run. Compare runs with benchstat.

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	scsmem "github.com/alexedwards/scs/v2/memstore"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

const (
	benchSessions = 100_000
	benchDataSize = 1 << 10
)

// plainMap is the baseline: one map, one RWMutex, copies in and out.
type plainMap struct {
	mu sync.RWMutex
	m  map[string]plainItem
}

type plainItem struct {
	data   []byte
	expiry time.Time
}

func newPlainMap() *plainMap { return &plainMap{m: make(map[string]plainItem)} }

func (p *plainMap) Find(tok string) ([]byte, bool, error) {
	p.mu.RLock()
	it, ok := p.m[tok]
	p.mu.RUnlock()
	if !ok || !it.expiry.After(time.Now()) {
		return nil, false, nil
	}
	return append([]byte(nil), it.data...), true, nil
}

func (p *plainMap) Commit(tok string, b []byte, expiry time.Time) error {
	b = append([]byte(nil), b...)
	p.mu.Lock()
	p.m[tok] = plainItem{b, expiry}
	p.mu.Unlock()
	return nil
}

func (p *plainMap) Delete(tok string) error {
	p.mu.Lock()
	delete(p.m, tok)
	p.mu.Unlock()
	return nil
}

func (p *plainMap) deleteExpired() {
	p.mu.Lock()
	now := time.Now()
	for k, it := range p.m {
		if !it.expiry.After(now) {
			delete(p.m, k)
		}
	}
	p.mu.Unlock()
}

type impl struct {
	name string
	new  func(b *testing.B) storetest.Store
}

var impls = []impl{
	{"memstore", func(b *testing.B) storetest.Store {
		s := memstore.NewWithCleanupInterval(time.Hour)
		b.Cleanup(s.StopCleanup)
		return s
	}},
	{"plainmap", func(*testing.B) storetest.Store { return newPlainMap() }},
	{"scsmemstore", func(b *testing.B) storetest.Store {
		s := scsmem.NewWithCleanupInterval(time.Hour)
		b.Cleanup(s.StopCleanup)
		return s
	}},
}

func benchTokens(n int) []string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = fmt.Sprintf("%043d", i) // SCS tokens are 43 bytes
	}
	return toks
}

// requestTokens returns copies of toks: a request's token is a string of its
// own (parsed from a cookie), never the very string the store was given, so
// comparing them reads memory instead of short-cutting on equal pointers.
func requestTokens(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.Clone(t)
	}
	return out
}

// filled returns a store of im holding a 1 KiB session for each token,
// after a garbage collection, so that every store is measured on the same
// heap: call it inside the sub-benchmark, before b.Loop.
func filled(b *testing.B, im impl, toks []string) storetest.Store {
	s := im.new(b)
	data := make([]byte, benchDataSize)
	exp := time.Now().Add(time.Hour)
	for _, t := range toks {
		if err := s.Commit(t, data, exp); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	return s
}

func BenchmarkFind(b *testing.B) {
	toks := benchTokens(benchSessions)
	reqs := requestTokens(toks)
	for _, im := range impls {
		b.Run("hit/impl="+im.name, func(b *testing.B) {
			s := filled(b, im, toks)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok, _ := s.Find(reqs[i%len(reqs)]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
		b.Run("miss/impl="+im.name, func(b *testing.B) {
			s := filled(b, im, toks)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, _ := s.Find("NotThereNotThereNotThereNotThereNotThere123"); ok {
					b.Fatal("hit")
				}
			}
		})
	}
}

func BenchmarkCommit(b *testing.B) {
	toks := benchTokens(benchSessions)
	reqs := requestTokens(toks)
	data := make([]byte, benchDataSize)
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			s := filled(b, im, toks)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Overwrite with a later expiry, as SCS does on every request.
				if err := s.Commit(reqs[i%len(reqs)], data, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDelete measures a Delete of a session committed just before it
// (the Commit is part of each iteration, identical for every store).
func BenchmarkDelete(b *testing.B) {
	toks := benchTokens(benchSessions)
	data := make([]byte, benchDataSize)
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			s := filled(b, im, toks)
			b.ReportAllocs()
			i := 0
			exp := time.Now().Add(time.Hour)
			for b.Loop() {
				tok := fmt.Sprintf("del-%039d", i)
				if err := s.Commit(tok, data, exp); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(tok); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkMixed is 90% Find, 9% Commit, 1% Delete then Commit of a fresh
// token, from all GOMAXPROCS*parallelism goroutines, over 100k sessions.
func BenchmarkMixed(b *testing.B) {
	toks := benchTokens(benchSessions)
	reqs := requestTokens(toks)
	data := make([]byte, benchDataSize)
	for _, par := range []int{1, 8} {
		for _, im := range impls {
			b.Run(fmt.Sprintf("p%d/impl=%s", par*runtime.GOMAXPROCS(0), im.name), func(b *testing.B) {
				s := filled(b, im, toks)
				var fresh atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					r := rand.New(rand.NewPCG(rand.Uint64(), 1))
					exp := time.Now().Add(time.Hour)
					for pb.Next() {
						tok := reqs[r.IntN(len(reqs))]
						switch op := r.IntN(100); {
						case op < 90:
							s.Find(tok)
						case op < 99:
							s.Commit(tok, data, exp)
						default:
							s.Delete(tok)
							s.Commit(fmt.Sprintf("new-%039d", fresh.Add(1)), data, exp)
						}
					}
				})
			})
		}
	}
}
