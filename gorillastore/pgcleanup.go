package gorillastore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionstore/sessionstore/internal/cleanup"
)

// StartCleanup runs a background goroutine that deletes expired sessions
// (and expired tombstones) about every interval (±20% jitter), in bounded
// batches, one replica at a time. Stop it with StopCleanup(quit, done), or
// with Close. An interval <= 0 runs no cleanup; StopCleanup still works.
func (s *PGStore) StartCleanup(interval time.Duration) (quit chan<- struct{}, done <-chan struct{}) {
	q, d := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closing:
		close(d) // the store is closed: nothing to run
		return q, d
	default:
	}
	var hook cleanup.Hook
	if s.cfg.OnCleanup != nil {
		hook = cleanup.Hook(s.cfg.OnCleanup)
	}
	loop := cleanup.Start(cleanup.Config{
		Name:      "gorillastore",
		Interval:  interval,
		Logger:    s.cfg.Logger,
		OnCleanup: hook,
	}, s.DeleteExpired)
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		defer close(d)
		select {
		case <-q:
		case <-s.closing:
		}
		loop.Stop()
	}()
	return q, d
}

// StopCleanup stops the cleanup that StartCleanup returned quit and done for,
// and returns when it has exited. It is safe to call more than once.
func (s *PGStore) StopCleanup(quit chan<- struct{}, done <-chan struct{}) {
	if quit == nil || done == nil {
		return
	}
	select {
	case quit <- struct{}{}:
	case <-done:
	}
	<-done
}

// DeleteExpired deletes expired sessions and tombstones now, in batches of
// PGConfig.CleanupBatchSize rows, each in its own short transaction, and
// returns how many rows it deleted; each batch is bounded by
// PGConfig.Timeout or DefaultTimeout. A tombstone goes once it has been
// expired for PGConfig.ClockSkew by this store's clock, and with it any
// session row under its key. Use it to run cleanup from a cron job instead
// of StartCleanup. While another replica is cleaning (it holds the table's
// advisory cleanup lock), it deletes nothing more and returns a nil error.
//
// A store running without tombstones (PGConfig.AllowNoTombstones) logs at
// ERROR on every run and checks whether the tombstone table has appeared.
func (s *PGStore) DeleteExpired(ctx context.Context) (int64, error) {
	return s.b.core.DeleteExpired(ctx)
}

// CountExpiredSessions returns the number of expired sessions that cleanup
// has not deleted yet.
func (s *PGStore) CountExpiredSessions(ctx context.Context) (int64, error) {
	ctx, cancel := s.b.withTimeout(ctx)
	defer cancel()
	var n int64
	if err := s.b.db.QueryRow(ctx, s.b.countExpiredSQL, micro(s.cfg.Now())).Scan(&n); err != nil {
		return 0, fmt.Errorf("gorillastore: count expired sessions: %w", err)
	}
	return n, nil
}

// Cleanup is StartCleanup under the name antonlindstrom/pgstore gives it,
// so that its users' `defer store.StopCleanup(store.Cleanup(5 *
// time.Minute))` compiles unchanged and runs this store's batched cleanup.
func (s *PGStore) Cleanup(interval time.Duration) (quit chan<- struct{}, done <-chan struct{}) {
	return s.StartCleanup(interval)
}
