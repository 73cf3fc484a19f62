package memstore

// The glue between SCS's memstore_test.go, copied into a temporary module
// by TestPeerSCSMemstore, and our memstore: the constructor its tests call
// builds ours. item and items exist only so that the tests poking at SCS's
// unexported map compile; those tests are skipped by name.

import (
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

type item struct {
	object     []byte
	expiration int64
}

type store struct {
	*memstore.MemStore
	items map[string]item
}

func NewWithCleanupInterval(cleanupInterval time.Duration) *store {
	return &store{MemStore: memstore.NewWithCleanupInterval(cleanupInterval), items: map[string]item{}}
}
