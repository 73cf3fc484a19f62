package pgcore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionstore/sessionstore/internal/cleanup"
)

// errBusy means another process holds this table's cleanup lock.
var errBusy = errors.New("cleanup running elsewhere")

// DeleteExpired deletes expired sessions, then tombstones that expired at
// least the clock skew allowance ago, oldest first, in batches, each batch
// in its own short transaction holding the table's advisory cleanup lock,
// until none remain. A batch of tombstones also deletes the session rows of
// their tokens (rows written behind them, which Find never serves). When
// another process holds the lock it returns what it deleted so far and a
// nil error. A store running without its tombstone table checks on every
// run whether it can now use it, and logs at ERROR while it cannot.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	now := micro(s.now())
	tomb := s.tomb.Load() == TombOn
	if !tomb {
		var why, err error
		tomb, why, err = s.checkTombstones(ctx, true)
		if !tomb {
			s.logDegraded(errors.Join(why, err))
		}
	}
	n, err := cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
		return s.cleanBatch(ctx, "sessions", func(ctx context.Context, tx Conn) (int64, error) {
			return tx.Exec(ctx, s.Q.CleanSessions, now, size)
		})
	})
	if err == nil && tomb {
		cutoff := micro(s.policy.Cutoff(now))
		var hidden, m int64
		m, err = cleanup.Batches(ctx, s.batch, func(ctx context.Context, size int) (int64, error) {
			return s.cleanBatch(ctx, "tombstones", func(ctx context.Context, tx Conn) (int64, error) {
				var tombs, rows int64
				err := tx.QueryRow(ctx, s.Q.CleanTombstones, cutoff, size).Scan(&tombs, &rows)
				hidden += rows
				return tombs, err
			})
		})
		n += m + hidden
	}
	if errors.Is(err, errBusy) {
		s.log.Debug(s.name+": cleanup skipped: another process is cleaning", "table", s.Names.Display)
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("%s: delete expired: %w", s.name, err)
	}
	return n, nil
}

// cleanBatch runs batch, which deletes a bounded number of rows and returns
// how many, in one transaction holding the table's cleanup lock. The batch
// statements skip rows locked by other transactions (FOR UPDATE SKIP
// LOCKED) and check the expiry again on the locked row, in case a Commit
// extended it.
func (s *Store) cleanBatch(ctx context.Context, table string, batch func(context.Context, Conn) (int64, error)) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.bound)
	defer cancel()
	var n int64
	err := s.db.InTx(ctx, func(tx Conn) error {
		var locked bool
		var setting string // set_config's result
		if err := tx.QueryRow(ctx, s.Q.TryLock).Scan(&locked, &setting); err != nil {
			return err
		}
		if !locked {
			return errBusy
		}
		var err error
		n, err = batch(ctx, tx)
		return err
	})
	if err != nil {
		return 0, err
	}
	if s.OnBatch != nil {
		s.OnBatch(table, n)
	}
	return n, nil
}
