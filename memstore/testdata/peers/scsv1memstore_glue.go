package memstore

// The glue between SCS v1's stores/memstore/memstore_test.go, copied into a
// temporary module by TestPeerSCSv1Memstore, and our memstore: New builds
// ours (SCS v1's New takes the cleanup interval), and cache stands for the
// go-cache the tests reach into, with Set and Get going through our store's
// Commit and Find. A Set with no expiration keeps the session an hour.
// errTypeAssertionFailed exists only so that TestFindBadData compiles; it
// is skipped.

import (
	"errors"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

var errTypeAssertionFailed = errors.New("type assertion failed: could not convert interface{} to []byte")

type cache struct{ s *memstore.MemStore }

func (c cache) Set(k string, v any, d time.Duration) {
	if d <= 0 {
		d = time.Hour
	}
	b, _ := v.([]byte)
	if err := c.s.Commit(k, b, time.Now().Add(d)); err != nil {
		panic(err)
	}
}

func (c cache) Get(k string) (any, bool) {
	b, ok, err := c.s.Find(k)
	if err != nil {
		panic(err)
	}
	if !ok {
		return nil, false
	}
	return b, true
}

type store struct {
	*memstore.MemStore
	cache cache
}

func New(cleanupInterval time.Duration) *store {
	s := memstore.NewWithCleanupInterval(cleanupInterval)
	return &store{MemStore: s, cache: cache{s}}
}
