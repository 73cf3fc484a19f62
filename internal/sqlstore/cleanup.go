package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/sessionstore/sessionstore/internal/cleanup"
)

// StartCleanup starts the background cleanup loop; StopCleanup stops it.
func (s *Store) StartCleanup(interval time.Duration, hook cleanup.Hook) {
	s.loop = cleanup.Start(cleanup.Config{
		Name:      s.cfg.Name,
		Interval:  interval,
		Logger:    s.cfg.Logger,
		OnCleanup: hook,
	}, s.DeleteExpired)
}

// StopCleanup stops the cleanup loop and waits for it to exit.
func (s *Store) StopCleanup() { s.loop.Stop() }

// DeleteExpired deletes expired sessions and tombstones in batches, each
// its own transaction, and returns how many rows it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	s.CheckTombstones(ctx) // a degraded store logs at ERROR and looks for its table again
	now := s.st.Time(s.cfg.Now())
	var total int64
	if s.tomb.Load() {
		n, err := s.conn.Exec(ctx, s.st.Purge, now)
		if err != nil {
			return 0, s.errorf("delete expired", err)
		}
		total += n
	}
	for _, q := range []string{s.st.ExpireSessions, s.st.ExpireTombstones} {
		if q == s.st.ExpireTombstones && !s.tomb.Load() {
			break
		}
		n, err := cleanup.Batches(ctx, s.cfg.BatchSize, func(ctx context.Context, size int) (int64, error) {
			return s.expireBatch(ctx, q, now, size)
		})
		total += n
		if err != nil {
			return total, s.errorf("delete expired", err)
		}
	}
	return total, nil
}

// errLocked stops a PostgreSQL cleanup batch when another replica holds
// the cleanup lock.
var errLocked = errors.New("cleanup lock held elsewhere")

func (s *Store) expireBatch(ctx context.Context, q string, now any, size int) (int64, error) {
	if s.st.TryLock == "" {
		return s.conn.Exec(ctx, q, now, size)
	}
	var n int64
	err := s.conn.InTx(ctx, func(tx Conn) error {
		rows, err := tx.Query(ctx, s.st.TryLock, LockKey(s.st.Table))
		if err != nil {
			return err
		}
		locked := false
		if rows.Next() {
			err = rows.Scan(&locked)
		}
		rows.Close()
		if err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !locked {
			return errLocked
		}
		n, err = tx.Exec(ctx, q, now, size)
		return err
	})
	if errors.Is(err, errLocked) {
		return 0, nil // another replica is cleaning up
	}
	return n, err
}
