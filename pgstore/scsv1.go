package pgstore

import (
	"time"

	"github.com/sessionstore/sessionstore"
)

// PostgresStore also satisfies SCS v1's Store interface, whose write method is Save.
var _ sessionstore.V1Store = (*PostgresStore)(nil)

// Save is Commit, under the name SCS v1's Store interface gives it. It
// exists so that code written for an SCS v1 store, which calls Save, keeps
// compiling and keeps its meaning, tombstones included: a Save of a token
// deleted earlier is a no-op, as a Commit is.
func (s *PostgresStore) Save(token string, b []byte, expiry time.Time) error {
	return s.Commit(token, b, expiry)
}
