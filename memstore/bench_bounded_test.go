package memstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// BenchmarkPairedBounded is BenchmarkPaired on a store full to its
// MaxSessions, where Find and Commit keep eviction's bookkeeping and each
// Commit of a new token evicts one session (the plain map, unbounded, just
// grows: it is the same-moment reference, not the same work).
func BenchmarkPairedBounded(b *testing.B) {
	toks := benchTokens(benchSessions)
	reqs := requestTokens(toks)
	data := make([]byte, benchDataSize)
	bounded := impl{"memstore", func(b *testing.B) storetest.Store {
		s := mustNew(b, memstore.Config{MaxSessions: benchSessions, CleanupInterval: -1})
		b.Cleanup(s.StopCleanup)
		return s
	}}
	ops := []struct {
		name string
		op   func(s storetest.Store, name string, i int)
	}{
		{"FindHit", func(s storetest.Store, _ string, i int) {
			s.Find(reqs[(i*7919)%len(reqs)]) // a miss once evicted: fine
		}},
		{"Commit", func(s storetest.Store, _ string, i int) {
			if err := s.Commit(reqs[(i*7919)%len(reqs)], data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}},
		{"CommitNew", func(s storetest.Store, name string, i int) {
			if err := s.Commit(fmt.Sprintf("new-%s-%030d", name, i), data, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}},
	}
	for _, o := range ops {
		b.Run("op="+o.name, func(b *testing.B) {
			stores := []namedStore{
				{"memstore", filled(b, bounded, toks)},
				{"plainmap", filled(b, impls[1], toks)},
			}
			per := rotate(b, stores, o.op)
			b.ReportMetric(per[0]/per[1], "memstore/plainmap")
		})
	}
}
