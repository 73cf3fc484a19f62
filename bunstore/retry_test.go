package bunstore_test

import (
	"testing"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// TestTransient checks the store's retry classification on a deadlock, a
// serialization failure, a unique violation and an error whose message
// holds the codes, each returned by the real server.
func TestTransient(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *bunDB) {
		if d.name == "SQLite" {
			t.Skip("SQLite serializes writers: it reports no deadlock or serialization failure")
		}
		s := newStore(t, db, bunstore.Config{CleanupInterval: -1})
		sqltest.TestTransient(t, db.DB, dialectOf(d), func(err error) bool { return bunstore.Transient(s, err) })
	})
}
