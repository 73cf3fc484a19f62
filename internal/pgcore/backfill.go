package pgcore

import (
	"context"
	"fmt"
	"time"
)

// backfillBatchSize is how many sessions one backfill batch reads.
const backfillBatchSize = 1000

// MigrateIndex turns the per-user index on in an existing table, as
// Migrate does after creating the tables: it adds the columns if they are
// missing, builds the owner index if it is missing or invalid, and
// backfills the owners of the live sessions (see backfill). It is bounded
// by ctx only; each of its statements, by the store's timeout too. A store
// opened with Options.IndexLater runs it before serving the index.
func (s *Store) MigrateIndex(ctx context.Context) error {
	if s.owner == nil {
		return s.errNoIndex("migrate")
	}
	if err := s.migrateIndex(ctx); err != nil {
		return fmt.Errorf("%s: migrate %s: %w", s.name, s.Names.Display, err)
	}
	return nil
}

// migrateIndex is MigrateIndex without its checks.
func (s *Store) migrateIndex(ctx context.Context) error {
	bctx, cancel := context.WithTimeout(ctx, s.bound)
	cols, valid, err := s.probeIndex(bctx, s.db)
	if err == nil && cols < len(s.Names.indexColumns()) {
		_, err = s.db.Exec(bctx, s.Ix.AddColumns)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("adding the index columns: %w", err)
	}
	if valid == nil || !*valid {
		if err := s.buildOwnerIndex(ctx); err != nil {
			return fmt.Errorf("building the owner index: %w", err)
		}
	}
	if err := s.backfill(ctx); err != nil {
		return fmt.Errorf("backfilling the owners: %w", err)
	}
	return nil
}

// buildOwnerIndex builds the owner index with CREATE INDEX CONCURRENTLY,
// which takes no lock that blocks Commit or Delete, where a plain CREATE
// INDEX would block them for as long as it reads the table. It cannot run
// in a transaction, so the replicas are serialised by a session advisory
// lock, on one held connection, instead of the migration's transaction
// lock; holding it, an index still invalid is the leftover of a build that
// failed (IF NOT EXISTS would keep it), and is dropped and built again.
func (s *Store) buildOwnerIndex(ctx context.Context) error {
	return s.db.OnConn(ctx, func(c Conn) error {
		for {
			var ok bool
			if err := c.QueryRow(ctx, s.Ix.IndexLock).Scan(&ok); err != nil {
				return err
			}
			if ok {
				break
			}
			// Another replica is building it. A blocking pg_advisory_lock
			// would deadlock with it: CREATE INDEX CONCURRENTLY waits for
			// every transaction older than its snapshot, the waiting one
			// included.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.bound)
			defer cancel()
			if _, err := c.Exec(uctx, s.Ix.IndexUnlock); err != nil {
				if d, ok := c.(discarder); ok {
					d.Discard(uctx) // closing the session releases its lock
				}
			}
		}()
		_, valid, err := s.probeIndex(ctx, c)
		if err != nil {
			return err
		}
		switch {
		case valid != nil && *valid:
			return nil // another replica built it
		case valid != nil:
			if _, err := c.Exec(ctx, s.Ix.DropInvalidIndex); err != nil {
				return err
			}
		}
		_, err = c.Exec(ctx, s.Ix.CreateIndex)
		return err
	})
}

// backfill records the owner of every live session whose data names
// another owner than the one it is indexed under (none, for a session
// written before the index, or another, for one that a replica without the
// index rewrote), in batches of backfillBatchSize read by keyset (token
// order), each written by one UPDATE that touches only rows still holding
// the data their owner was read from, so that a Commit since the read,
// which wrote its own owner, is never overwritten. A crash between batches
// leaves the done ones indexed and the others as they were; running
// Migrate again finishes. Sessions whose owner Options.Owner cannot read
// are left as they are, and counted in one WARN.
func (s *Store) backfill(ctx context.Context) error {
	size := backfillBatchSize
	if s.BackfillBatch > 0 {
		size = s.BackfillBatch
	}
	var (
		indexed    int64
		unreadable int
		firstErr   error
		after      string // every valid token sorts after ""
		tokens     []string
		datas      [][]byte
		current    []string
	)
	for batch := 0; ; batch++ {
		tokens, datas, current = tokens[:0], datas[:0], current[:0]
		bctx, cancel := context.WithTimeout(ctx, s.bound)
		rows, err := s.db.Query(bctx, s.Ix.BackfillRead, after, micro(s.now()), size)
		if err == nil {
			var tok, owner string
			var data []byte
			err = forEachRow(rows, []any{&tok, &data, &owner}, func() {
				tokens, datas, current = append(tokens, tok), append(datas, data), append(current, owner)
				data = nil
			})
		}
		if err != nil {
			cancel()
			return err
		}
		var wTok, wOwner []string
		var wData [][]byte
		for i, data := range datas {
			owner, err := s.owner.Read(data)
			switch {
			case err != nil:
				unreadable++
				if firstErr == nil {
					firstErr = err
				}
			case owner != current[i]:
				wTok, wOwner, wData = append(wTok, tokens[i]), append(wOwner, owner), append(wData, data)
			}
		}
		if s.OnBackfill != nil {
			s.OnBackfill(batch, tokens)
		}
		if len(wTok) > 0 {
			n, err := s.db.Exec(bctx, s.Ix.BackfillWrite, wTok, wOwner, wData, micro(s.now()))
			if err != nil {
				cancel()
				return err
			}
			indexed += n
		}
		cancel()
		if len(tokens) < size {
			break
		}
		after = tokens[len(tokens)-1]
	}
	if unreadable > 0 {
		s.log.Warn(s.name+": migrate: sessions whose owner could not be read are left out of the per-user index",
			"table", s.Names.Display, "sessions", unreadable, "err", firstErr)
	}
	if indexed > 0 {
		s.log.Info(s.name+": migrate: indexed the owners of existing sessions", "table", s.Names.Display, "sessions", indexed)
	}
	return nil
}
