package pgstore

import "context"

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
	return s.core.DeleteExpired(ctx)
}
