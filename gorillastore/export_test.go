package gorillastore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore"
)

// Test helpers for the external test package.

// PoolForTest is testPool.
func PoolForTest(t *testing.T) DBConn { return testPool(t) }

// TableName is tableName.
func TableName() string { return tableName() }

// DropTables drops the tables of s.
func DropTables(t *testing.T, s *PGStore) {
	if err := s.b.dropSchema(context.Background()); err != nil {
		t.Errorf("drop tables: %v", err)
	}
}

// BackendForTest is the session table of a PGStore, on a fresh table, as a
// CtxStore.
func BackendForTest(t *testing.T, now func() time.Time) CtxStore {
	return newTestBackend(t, testPool(t), now)
}

// IndexedBackendForTest is BackendForTest with the per-user index on,
// reading owners with owner.
func IndexedBackendForTest(t *testing.T, now func() time.Time, owner sessionstore.OwnerFunc) CtxStore {
	b := newTestIndexedBackend(t, testPool(t), now, owner)
	return b
}

// PoolOfOneForTest is a pool of one connection to the test database.
func PoolOfOneForTest(t *testing.T) DBConn {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	testPool(t) // skips, or fails in CI, if the database is down
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
