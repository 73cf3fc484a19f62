package gorillastore

import (
	"context"
	"testing"
	"time"
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
