package bunstore

import (
	"time"

	"github.com/sessionstore/sessionstore"
)

// BunStore also satisfies SCS v1's Store interface, whose write method is Save.
var _ sessionstore.V1Store = (*BunStore)(nil)

// Save is Commit, under the name SCS v1's Store interface gives it. It
// exists so that code written for an SCS v1 store, which calls Save, keeps
// compiling and keeps its meaning, tombstones included: a Save of a token
// deleted earlier is a no-op, as a Commit is.
func (b *BunStore) Save(token string, bb []byte, expiry time.Time) error {
	return b.Commit(token, bb, expiry)
}
