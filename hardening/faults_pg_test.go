package hardening

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/pgstore"
)

// ownPool opens a pool of its own on the local PostgreSQL, configured by
// edit, so that a test may exhaust it or change its settings.
func ownPool(t *testing.T, edit func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	shared := postgres(t) // fails or skips when PostgreSQL is down
	cfg := shared.Config().Copy()
	edit(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newPGStore returns a store on a table of its own, and the table's name.
func newPGStore(t *testing.T, pool *pgxpool.Pool) (*pgstore.PostgresStore, string) {
	t.Helper()
	table := uniqueName("hardening_fault")
	s, err := pgstore.NewWithConfig(pool, pgstore.Config{Table: table, CreateTable: true, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.StopCleanup(); dropTables(t, postgres(t), table, table+"_tombstones") })
	return s, table
}

// With every connection of the pool taken, operations fail with an error
// when their context ends: never "not found" for a live session, never a
// silent success. Released, the store serves again without being rebuilt.
func TestPoolExhausted(t *testing.T) {
	pool := ownPool(t, func(c *pgxpool.Config) { c.MaxConns = 2 })
	s, _ := newPGStore(t, pool)
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("live", []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	var held []*pgxpool.Conn
	for range 2 {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, found, err := s.FindCtx(ctx, "live"); err == nil {
		t.Fatalf("FindCtx on an exhausted pool: found=%v, nil error; want an error", found)
	}
	if err := s.CommitCtx(ctx, "live", []byte("v2"), exp); err == nil {
		t.Fatal("CommitCtx on an exhausted pool returned nil")
	}
	for _, c := range held {
		c.Release()
	}
	got, found, err := s.Find("live")
	if err != nil || !found || string(got) != "v1" {
		t.Fatalf("after release: Find = %q, %v, %v; want the committed v1", got, found, err)
	}
	if err := s.Commit("live", []byte("v3"), exp); err != nil {
		t.Fatal(err)
	}
}

// A statement timeout (a row locked by a stuck transaction) fails the
// Commit with the database's error; Find keeps answering (MVCC); after the
// lock is gone the store works and cleanup resumes.
func TestStatementTimeout(t *testing.T) {
	pool := ownPool(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["statement_timeout"] = "300"
	})
	s, table := newPGStore(t, pool)
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("locked", []byte("v1"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("old", []byte("x"), time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A transaction on another pool holds the row.
	tx, err := postgres(t).Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM "`+table+`" WHERE token = 'locked' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	err = s.Commit("locked", []byte("v2"), exp)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("Commit of a locked row: %v; want the statement timeout (57014)", err)
	}
	if got, found, err := s.Find("locked"); err != nil || !found || string(got) != "v1" {
		t.Fatalf("Find of a locked row = %q, %v, %v; want v1", got, found, err)
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("locked", []byte("v3"), exp); err != nil {
		t.Fatalf("Commit after the lock went: %v", err)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("DeleteExpired after the fault = %d, %v; want 1", n, err)
	}
}
