package gormstore_test

import (
	"testing"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// TestTransient checks the store's retry classification on a deadlock, a
// serialization failure, a unique violation and an error whose message
// holds the codes, each returned by the real server.
func TestTransient(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		if d.name == "SQLite" {
			t.Skip("SQLite serializes writers: it reports no deadlock or serialization failure")
		}
		s := newStore(t, db, gormstore.Config{CleanupInterval: -1})
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqltest.TestTransient(t, sqlDB, dialectOf(d), func(err error) bool { return gormstore.Transient(s, err) })
	})
}
