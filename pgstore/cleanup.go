package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sessionstore/sessionstore/internal/cleanup"
)

// errBusy means another process holds this table's cleanup lock.
var errBusy = errors.New("cleanup running elsewhere")

// DeleteExpired deletes expired sessions, then tombstones that expired at
// least Config.ClockSkew ago (so that a replica whose clock runs ahead by up
// to that much never removes a tombstone another replica still needs),
// oldest first, in batches of Config.CleanupBatchSize rows, each batch in
// its own short transaction, until none remain. A batch of tombstones also
// deletes the session rows of their tokens (rows written behind them by a
// writer that ignores tombstones, which Find never serves), so that such a
// row never reappears. It returns the number of rows deleted. The
// background goroutine calls it; call it yourself (from cron, say) when the
// store was made without one.
//
// Each batch takes a transaction-scoped advisory lock on the table with
// pg_try_advisory_xact_lock: when another replica holds it, that replica is
// already cleaning, and DeleteExpired returns what it deleted so far and a
// nil error instead of competing with it for the same rows.
//
// A store running without its tombstone table (see
// Config.AllowNoTombstones) checks on every run whether it can now use it,
// and logs at ERROR while it cannot.
func (s *PostgresStore) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.now()
	tomb := s.tomb.Load() == tombOn
	if !tomb {
		var why, err error
		tomb, why, err = s.checkTombstones(ctx, true)
		if !tomb {
			s.logDegraded(errors.Join(why, err))
		}
	}
	n, err := cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
		return s.cleanBatch(ctx, "sessions", func(ctx context.Context, tx pgx.Tx) (int64, error) {
			tag, err := tx.Exec(ctx, s.q.cleanSessions, now, size)
			return tag.RowsAffected(), err
		})
	})
	if err == nil && tomb {
		cutoff := s.policy.Cutoff(now)
		var hidden, m int64
		m, err = cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
			return s.cleanBatch(ctx, "tombstones", func(ctx context.Context, tx pgx.Tx) (int64, error) {
				var tombs, rows int64
				err := tx.QueryRow(ctx, s.q.cleanTombstones, cutoff, size).Scan(&tombs, &rows)
				hidden += rows
				return tombs, err
			})
		})
		n += m + hidden
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

// cleanBatch runs batch, which deletes a bounded number of rows and
// returns how many, in one transaction holding the table's cleanup lock. The batch
// statements skip rows locked by other transactions (FOR UPDATE SKIP
// LOCKED) and check the expiry again on the locked row, in case a Commit
// extended it.
func (s *PostgresStore) cleanBatch(ctx context.Context, table string, batch func(context.Context, pgx.Tx) (int64, error)) (int64, error) {
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
	n, err := batch(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	if s.onBatch != nil {
		s.onBatch(table, n)
	}
	return n, nil
}
