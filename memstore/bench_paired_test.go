package memstore_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/storetest"
)

// BenchmarkPaired runs each operation on memstore and on the plain map in
// alternating blocks of pairedBlock calls, timing each block, so that both
// see the same moments of machine load. It reports each one's time per
// operation and the ratio memstore/plainmap, which stays meaningful on a
// machine too busy for separate benchmarks' ns/op to be compared.
func BenchmarkPaired(b *testing.B) {
	toks := benchTokens(benchSessions)
	reqs := requestTokens(toks)
	data := make([]byte, benchDataSize)
	ops := []struct {
		name string
		op   func(s storetest.Store, name string, i int)
	}{
		{"FindHit", func(s storetest.Store, _ string, i int) {
			if _, ok, _ := s.Find(reqs[(i*7919)%len(reqs)]); !ok {
				b.Fatal("miss")
			}
		}},
		{"FindMiss", func(s storetest.Store, _ string, i int) {
			if _, ok, _ := s.Find("NotThereNotThereNotThereNotThereNotThere123"); ok {
				b.Fatal("hit")
			}
		}},
		{"Commit", func(s storetest.Store, _ string, i int) {
			// Overwrite with a later expiry, as SCS does on every request.
			if err := s.Commit(reqs[(i*7919)%len(reqs)], data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}},
		{"Delete", commitThenDelete(b, data)},
	}
	for _, o := range ops {
		b.Run("op="+o.name, func(b *testing.B) {
			stores := []namedStore{
				{"memstore", filled(b, impls[0], toks)},
				{"plainmap", filled(b, impls[1], toks)},
			}
			per := rotate(b, stores, o.op)
			b.ReportMetric(per[0]/per[1], "memstore/plainmap")
		})
	}
}

const pairedBlock = 256

// commitThenDelete is the Delete operation of the paired benchmarks: the
// Delete of a session committed just before (the Commit is identical for
// every store), as in BenchmarkDelete.
func commitThenDelete(b *testing.B, data []byte) func(s storetest.Store, name string, i int) {
	return func(s storetest.Store, name string, i int) {
		tok := fmt.Sprintf("del-%s-%030d", name, i)
		if err := s.Commit(tok, data, time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			b.Fatal(err)
		}
	}
}

type namedStore struct {
	name string
	s    storetest.Store
}

// rotate runs op on each store in turn, in blocks of pairedBlock calls,
// changing who goes first block by block, until b.Loop ends. It reports and
// returns each store's time per call.
func rotate(b *testing.B, stores []namedStore, op func(s storetest.Store, name string, i int)) []float64 {
	return rotateWith(b, stores, nil, op)
}

// rotateWith is rotate, calling prepare(i), untimed, for each call i of a
// block before timing that block on each store.
func rotateWith(b *testing.B, stores []namedStore, prepare func(i int), op func(s storetest.Store, name string, i int)) []float64 {
	d := make([]time.Duration, len(stores))
	n := 0
	i := 0
	for b.Loop() {
		if i%pairedBlock == 0 {
			for j := range stores {
				k := (j + i/pairedBlock) % len(stores)
				if prepare != nil {
					for c := range pairedBlock {
						prepare(i + c)
					}
				}
				start := time.Now()
				for c := range pairedBlock {
					op(stores[k].s, stores[k].name, i+c)
				}
				d[k] += time.Since(start)
			}
			n += pairedBlock
		}
		i++
	}
	per := make([]float64, len(stores))
	for k, s := range stores {
		per[k] = float64(d[k].Nanoseconds()) / float64(n)
		b.ReportMetric(per[k], s.name+"-ns/op")
	}
	return per
}

// tombMap is the plain map made to keep the promise memstore's Delete keeps:
// a deleted token's Commit is ignored until the session's expiry. It is the
// least a map that remembers deletions has to do: Delete overwrites the
// entry with a tombstone, and Commit looks before it writes.
type tombMap struct {
	mu sync.RWMutex
	m  map[string]tombItem
}

type tombItem struct {
	data    []byte
	expiry  time.Time
	deleted bool
}

func (p *tombMap) Find(tok string) ([]byte, bool, error) {
	p.mu.RLock()
	it, ok := p.m[tok]
	p.mu.RUnlock()
	if !ok || it.deleted || !it.expiry.After(time.Now()) {
		return nil, false, nil
	}
	return append([]byte(nil), it.data...), true, nil
}

func (p *tombMap) Commit(tok string, b []byte, expiry time.Time) error {
	b = append([]byte(nil), b...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.m[tok]; ok && it.deleted && it.expiry.After(time.Now()) {
		return nil
	}
	p.m[tok] = tombItem{data: b, expiry: expiry}
	return nil
}

func (p *tombMap) Delete(tok string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if it, ok := p.m[tok]; ok && !it.deleted {
		p.m[tok] = tombItem{expiry: it.expiry, deleted: true}
	}
	return nil
}

// BenchmarkDeleteFloor is BenchmarkPaired's Delete with a third store,
// tombMap, in the rotation: tombmap/plainmap is what remembering deletions
// costs by itself, memstore/tombmap what memstore adds to that.
func BenchmarkDeleteFloor(b *testing.B) {
	toks := benchTokens(benchSessions)
	data := make([]byte, benchDataSize)
	tm := &tombMap{m: make(map[string]tombItem)}
	exp := time.Now().Add(time.Hour)
	for _, t := range toks {
		tm.Commit(t, data, exp)
	}
	stores := []namedStore{
		{"memstore", filled(b, impls[0], toks)},
		{"plainmap", filled(b, impls[1], toks)},
		{"tombmap", tm},
	}
	runtime.GC()
	per := rotate(b, stores, commitThenDelete(b, data))
	b.ReportMetric(per[2]/per[1], "tombmap/plainmap")
	b.ReportMetric(per[0]/per[2], "memstore/tombmap")
	b.ReportMetric(per[0]/per[1], "memstore/plainmap")
}
