package gormstore_test

import (
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// withPool limits db's connection pool to n connections.
func withPool(t testing.TB, db *gorm.DB, n int) *gorm.DB {
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	return db
}

// TestSmallPool runs concurrent Commits and Deletes, then every other
// operation, on a pool of one and of two connections, on every dialect
// (and with GORM's PrepareStmt on MariaDB): each call must succeed
// quickly. A Delete that prepares a statement through the pool while its
// transaction holds the only connection times out instead.
func TestSmallPool(t *testing.T) {
	for _, d := range dialects {
		for _, conns := range []int{1, 2} {
			for _, prepare := range []bool{false, true} {
				if prepare && d.name != "MariaDB" {
					continue
				}
				name := fmt.Sprintf("%s/conns=%d", d.name, conns)
				if prepare {
					name += "/PrepareStmt"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					db := withPool(t, d.open(t), conns)
					if prepare {
						// GORM's statement cache starts a goroutine that never
						// ends unless its TTL means "no eviction" (ten years).
						db.Config.PrepareStmtTTL = 10 * 365 * 24 * time.Hour
						db = db.Session(&gorm.Session{PrepareStmt: true})
					}
					sqltest.SmallPool(t, sqlDB{db})
				})
			}
		}
	}
}

// TestSQLStorePoolOfOne runs the shared SQL store tests on a pool of one
// connection, on every dialect.
func TestSQLStorePoolOfOne(t *testing.T) {
	var ds []sqltest.Dialect
	for _, d := range dialects {
		ds = append(ds, sqltest.Dialect{
			Name:        d.name,
			Dialect:     dialectOf(d),
			Placeholder: sqlstore.Question,
			Open:        func(t *testing.T) sqltest.DB { return sqlDB{withPool(t, d.open(t), 1)} },
		})
	}
	sqltest.RunStoreTests(t, ds)
}

// TestConformancePoolOfOne runs the conformance suite on a pool of one
// connection, on PostgreSQL and MariaDB, with rows written behind the
// store. SQLite is left out because TestConformance already runs it on one
// connection (SQLite has one writer).
func TestConformancePoolOfOne(t *testing.T) {
	for _, d := range dialects {
		if d.name == "SQLite" {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			conformance(t, d, withPool(t, d.open(t), 1), gormstore.Config{}, false) // bunstore runs Index on one connection
		})
	}
}
