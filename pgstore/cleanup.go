package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionstore/sessionstore/internal/cleanup"
)

// errBusy means another process holds this table's cleanup lock.
var errBusy = errors.New("cleanup running elsewhere")

// DeleteExpired deletes expired sessions, then expired tombstones, oldest
// first, in batches of Config.CleanupBatchSize rows, each batch in its own
// short transaction, until none remain. It returns the number of rows
// deleted. The background goroutine calls it; call it yourself (from cron,
// say) when the store was made without one.
//
// Each batch takes a transaction-scoped advisory lock on the table with
// pg_try_advisory_xact_lock: when another replica holds it, that replica is
// already cleaning, and DeleteExpired returns what it deleted so far and a
// nil error instead of competing with it for the same rows.
func (s *PostgresStore) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
		return s.cleanBatch(ctx, "sessions", s.q.cleanSessions, now, size)
	})
	if err == nil && s.tomb.Load() == tombOn {
		var m int64
		m, err = cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
			return s.cleanBatch(ctx, "tombstones", s.q.cleanTombstones, now, size)
		})
		n += m
	}
	if errors.Is(err, errBusy) {
		s.log.Debug("pgstore: cleanup skipped: another process is cleaning", "table", s.names.display)
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("pgstore: delete expired: %w", err)
	}
	return n, nil
}

// cleanBatch deletes up to size rows of stmt's table that expired at or
// before now, in one transaction holding the table's cleanup lock. Rows
// locked by other transactions are skipped (FOR UPDATE SKIP LOCKED), and the
// expiry is checked again on the locked row, in case a Commit extended it.
func (s *PostgresStore) cleanBatch(ctx context.Context, table, stmt string, now time.Time, size int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	var locked bool
	if err := tx.QueryRow(ctx, s.q.tryLock).Scan(&locked, nil); err != nil {
		return 0, err
	}
	if !locked {
		return 0, errBusy
	}
	tag, err := tx.Exec(ctx, stmt, now, size)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	if s.onBatch != nil {
		s.onBatch(table, tag.RowsAffected())
	}
	return tag.RowsAffected(), nil
}
