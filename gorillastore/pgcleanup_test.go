package gorillastore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

func TestPGStoreCleanup(t *testing.T) {
	clk := newClock()
	var deleted atomic.Int64
	s := newTestPGStore(t, testPool(t), PGConfig{
		Config:           Config{Now: clk.Now},
		CleanupBatchSize: 2,
		OnCleanup: func(n int64, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			deleted.Add(n)
		},
	})
	s.MaxAge(60)
	for range 5 {
		sess, r := load(t, s, "sid")
		save(t, s, r, sess)
	}
	live, r := load(t, s, "sid")
	live.Options.MaxAge = 3 * 3600
	c := save(t, s, r, live)
	dead, r := load(t, s, "sid")
	c2 := save(t, s, r, dead)
	dead, r = load(t, s, "sid", c2)
	dead.Options.MaxAge = -1
	save(t, s, r, dead) // a tombstone, for the tombstone lifetime
	// Past the tombstone's lifetime and the clock skew allowance.
	clk.Advance(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)

	if n, err := s.CountExpiredSessions(context.Background()); err != nil || n != 5 {
		t.Fatalf("CountExpiredSessions = %d, %v; want 5", n, err)
	}
	quit, done := s.StartCleanup(10 * time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); deleted.Load() < 6; {
		if time.Now().After(deadline) {
			t.Fatalf("cleanup deleted %d rows in 10s, want 6 (5 sessions, 1 tombstone)", deleted.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.StopCleanup(quit, done)
	s.StopCleanup(quit, done) // twice is fine
	if n, err := s.CountExpiredSessions(context.Background()); err != nil || n != 0 {
		t.Errorf("CountExpiredSessions after cleanup = %d, %v; want 0", n, err)
	}
	if got, _ := load(t, s, "sid", c); got.IsNew {
		t.Error("cleanup deleted a live session")
	}
	if n := len(rows(t, s)); n != 1 {
		t.Errorf("%d rows left, want 1", n)
	}

	// Close stops loops the caller forgot, and a closed store starts none.
	s.StartCleanup(time.Hour)
	s.Close()
	quit, done = s.StartCleanup(time.Millisecond)
	s.StopCleanup(quit, done)
}

// TestPGStoreCleanupAntonName runs cleanup the way antonlindstrom/pgstore's
// README does: StopCleanup(Cleanup(interval)).
func TestPGStoreCleanupAntonName(t *testing.T) {
	clk := newClock()
	var deleted atomic.Int64
	s := newTestPGStore(t, testPool(t), PGConfig{
		Config: Config{Now: clk.Now},
		OnCleanup: func(n int64, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			deleted.Add(n)
		},
	})
	s.MaxAge(60)
	sess, r := load(t, s, "sid")
	save(t, s, r, sess)
	clk.Advance(2 * time.Minute)
	func() {
		defer s.StopCleanup(s.Cleanup(10 * time.Millisecond))
		for deadline := time.Now().Add(10 * time.Second); deleted.Load() < 1; {
			if time.Now().After(deadline) {
				t.Fatal("Cleanup deleted no expired session in 10s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	if n := len(rows(t, s)); n != 0 {
		t.Errorf("%d rows left, want 0", n)
	}
}

// TestPGStoreCleanupLock: cleanup runs under the PostgreSQL core's
// advisory lock, keyed by the table's OID (the key pgstore's cleanup takes
// on its table): while another session holds it, DeleteExpired deletes
// nothing and returns nil; once it is released, it deletes.
func TestPGStoreCleanupLock(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	pool := testPool(t)
	s := newTestPGStore(t, pool, PGConfig{Config: Config{Now: clk.Now}})
	s.MaxAge(60)
	for range 3 {
		sess, r := load(t, s, "sid")
		save(t, s, r, sess)
	}
	clk.Advance(2 * time.Minute)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('pgstore cleanup ' || $1::regclass::oid::text, 0))`, s.b.table); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("DeleteExpired while another session holds the cleanup lock = %d, %v; want 0, nil", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 3 {
		t.Fatalf("DeleteExpired after the lock is released = %d, %v; want 3", n, err)
	}
}
