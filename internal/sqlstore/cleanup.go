package sqlstore

import (
	"context"
	"slices"
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

// purgeChunk is the most tokens one PurgeSessions or PurgeTombstones
// statement lists, well within every dialect's limit on parameters.
const purgeChunk = 500

// DeleteExpired deletes expired sessions, then the tombstones whose expiry
// is at or before Config.Policy.Cutoff(now) together with any session row
// of their tokens, in batches of Config.BatchSize rows, oldest first, each
// batch its own transaction. Every statement touches a bounded number of
// rows, and each batch is bounded by Config.Timeout or DefaultTimeout.
// After each full batch it pauses for as long as the batch took. It returns
// how many rows it deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	s.CheckTombstones(ctx) // a degraded store logs at ERROR and looks for its table again
	now := s.cfg.Now()
	expired := s.st.Time(now)
	total, err := cleanup.Batches(ctx, s.cfg.BatchSize, paced(func(ctx context.Context, size int) (int64, error) {
		var n int64
		err := s.batch(ctx, true, func(ctx context.Context, c Conn) error {
			var err error
			n, err = c.Exec(ctx, s.st.ExpireSessions, expired, size)
			return err
		})
		return n, err
	}))
	if err != nil {
		return total, s.errorf("delete expired", err)
	}
	if !s.tomb.Load() {
		return total, nil
	}
	cutoff := s.st.Time(s.cfg.Policy.Cutoff(now))
	var sessions int64
	n, err := cleanup.Batches(ctx, s.cfg.BatchSize, paced(func(ctx context.Context, size int) (int64, error) {
		var tombs, rows int64
		err := s.batch(ctx, false, func(ctx context.Context, c Conn) error {
			var err error
			tombs, rows, err = s.expireTombstones(ctx, c, cutoff, size)
			return err
		})
		sessions += rows
		return tombs, err
	}))
	total += n + sessions
	if err != nil {
		return total, s.errorf("delete expired", err)
	}
	return total, nil
}

// paced makes batch wait, after each full batch, for as long as that batch
// took: cleanup then holds the database, and on a small pool a connection,
// at most half the time, so that concurrent requests are not queued behind
// batch after batch. The wait ends early when ctx is done.
func paced(batch func(ctx context.Context, size int) (int64, error)) func(ctx context.Context, size int) (int64, error) {
	return func(ctx context.Context, size int) (int64, error) {
		start := time.Now()
		n, err := batch(ctx, size)
		if err != nil || n < int64(size) {
			return n, err
		}
		t := time.NewTimer(time.Since(start))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return n, nil
	}
}

// expireTombstones removes one batch of at most size tombstones that
// expire by cutoff, and the session rows of their tokens, on c (a
// transaction). It returns how many tombstones and how many sessions it
// deleted.
func (s *Store) expireTombstones(ctx context.Context, c Conn, cutoff any, size int) (tombs, sessions int64, err error) {
	rows, err := c.Query(ctx, s.st.ExpireTombstones, cutoff, size)
	if err != nil {
		return 0, 0, err
	}
	var tokens []any
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			rows.Close()
			return 0, 0, err
		}
		tokens = append(tokens, tok)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if s.st.PurgeTombstones == nil {
		tombs = int64(len(tokens)) // ExpireTombstones deleted them
	}
	for chunk := range slices.Chunk(tokens, purgeChunk) {
		if s.st.PurgeTombstones != nil {
			n, err := c.Exec(ctx, s.st.PurgeTombstones(len(chunk)), append([]any{cutoff}, chunk...)...)
			if err != nil {
				return 0, 0, err
			}
			tombs += n
		}
		n, err := c.Exec(ctx, s.st.PurgeSessions(len(chunk)), chunk...)
		if err != nil {
			return 0, 0, err
		}
		sessions += n
	}
	return tombs, sessions, nil
}

// batch runs fn in one transaction, or on the pool when single (fn runs
// one statement). fn runs on ctx bounded by the store's timeout, which it
// must use.
func (s *Store) batch(ctx context.Context, single bool, fn func(ctx context.Context, c Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.bounded())
	defer cancel()
	if single {
		return fn(ctx, s.conn)
	}
	return s.conn.InTx(ctx, func(tx Conn) error { return fn(ctx, tx) })
}
