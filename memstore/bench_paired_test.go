package memstore_test

import (
	"fmt"
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
	const pairedBlock = 256
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
		{"Delete", func(s storetest.Store, name string, i int) {
			// A session committed just before (the Commit is identical
			// for both), as in BenchmarkDelete.
			tok := fmt.Sprintf("del-%s-%030d", name, i)
			if err := s.Commit(tok, data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := s.Delete(tok); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for _, o := range ops {
		b.Run("op="+o.name, func(b *testing.B) {
			stores := []struct {
				name string
				s    storetest.Store
			}{
				{"memstore", filled(b, impls[0], toks)},
				{"plainmap", filled(b, impls[1], toks)},
			}
			var d [2]time.Duration
			var n [2]int
			i := 0
			for b.Loop() {
				if i%pairedBlock == 0 {
					// Alternate who goes first, block by block.
					for j := range stores {
						k := (j + i/pairedBlock) % len(stores)
						start := time.Now()
						for c := range pairedBlock {
							o.op(stores[k].s, stores[k].name, i+c)
						}
						d[k] += time.Since(start)
						n[k] += pairedBlock
					}
				}
				i++
			}
			per := [2]float64{}
			for k := range stores {
				per[k] = float64(d[k].Nanoseconds()) / float64(n[k])
				b.ReportMetric(per[k], stores[k].name+"-ns/op")
			}
			b.ReportMetric(per[0]/per[1], "memstore/plainmap")
		})
	}
}
