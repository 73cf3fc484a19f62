package gorillastore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestPGStoreCleanup(t *testing.T) {
	clk := newClock()
	var runs atomic.Int64
	ran := make(chan int64, 100)
	s := newTestPGStore(t, testPool(t), PGConfig{
		Config:           Config{Now: clk.Now},
		CleanupBatchSize: 2,
		OnCleanup: func(n int64, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			runs.Add(1)
			ran <- n
		},
	})
	s.MaxAge(60)
	for range 5 {
		sess, r := load(t, s, "sid")
		save(t, s, r, sess)
	}
	live, r := load(t, s, "sid")
	live.Options.MaxAge = 3600
	c := save(t, s, r, live)
	dead, r := load(t, s, "sid")
	c2 := save(t, s, r, dead)
	dead, r = load(t, s, "sid", c2)
	dead.Options.MaxAge = -1
	save(t, s, r, dead) // a tombstone, expiring with the row
	clk.Advance(time.Minute)

	if n, err := s.CountExpiredSessions(context.Background()); err != nil || n != 5 {
		t.Fatalf("CountExpiredSessions = %d, %v; want 5", n, err)
	}
	quit, done := s.StartCleanup(10 * time.Millisecond)
	var total int64
	for total < 6 {
		select {
		case n := <-ran:
			total += n
		case <-time.After(10 * time.Second):
			t.Fatalf("cleanup deleted %d rows in 10s, want 6 (5 sessions, 1 tombstone)", total)
		}
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
