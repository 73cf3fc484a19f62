package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// tombRecheck is how often, at most, a store running without its tombstone
// table checks on the request path whether the table now exists. Every
// cleanup run checks too.
const tombRecheck = time.Minute

// Tombstone table states.
const (
	tombUnknown int32 = iota // not checked yet (New, with the database unreachable)
	tombOn                   // the table exists and the role may use it
	tombOff                  // it does not, or the role may not: checked again later
)

// errNoPrivilege is why a tombstone table that exists cannot be used.
var errNoPrivilege = errors.New("the role lacks SELECT, INSERT, UPDATE or DELETE on the tombstone table")

// tombFast reports without a round trip whether Find, Commit and Delete use
// the tombstone table; ok is false when that has to be checked first (see
// useTombstones). On a healthy store it is one atomic load.
func (s *PostgresStore) tombFast() (on, ok bool) {
	switch s.tomb.Load() {
	case tombOn:
		return true, true
	case tombOff:
		return false, s.mono().UnixNano() < s.tombNext.Load()
	}
	return false, false
}

// useTombstones reports whether Find, Commit and Delete use the tombstone
// table, checking with the database when that is not known yet, or when a
// store running without it is due to check again (at most once every
// tombRecheck). An error means the answer is not known: the operation then
// fails, and the next one asks again.
func (s *PostgresStore) useTombstones(ctx context.Context) (bool, error) {
	if on, ok := s.tombFast(); ok {
		return on, nil
	}
	on, _, err := s.checkTombstones(ctx, false)
	return on, err
}

// checkTombstones finds out whether the store can use its tombstone table,
// creating it if it is missing and the role may, and whether the server has
// MERGE. why is set when the table cannot be used (the store then runs
// without it, and checks again tombRecheck later); err when the database
// could not say. force (construction, Migrate, each cleanup run) checks
// even when a check is not due, waiting for one in progress; otherwise a
// request finding another check in progress goes on without the table.
func (s *PostgresStore) checkTombstones(ctx context.Context, force bool) (on bool, why, err error) {
	if force {
		s.tombMu.Lock()
	} else if s.tomb.Load() != tombOff {
		s.tombMu.Lock() // the first use: everyone waits for the answer
	} else if !s.tombMu.TryLock() {
		return false, nil, nil
	}
	defer s.tombMu.Unlock()
	prev := s.tomb.Load()
	if !force {
		if on, ok := s.tombFast(); ok {
			return on, nil, nil
		}
	}
	why, err = s.probeTombstones(ctx)
	switch {
	case err != nil && prev != tombOff:
		return prev == tombOn, nil, err
	case err != nil: // no answer: stay without the table, ask again later
		s.tombNext.Store(s.mono().Add(tombRecheck).UnixNano())
		return false, nil, err
	case why != nil:
		s.tombNext.Store(s.mono().Add(tombRecheck).UnixNano())
		s.tomb.Store(tombOff)
		if prev == tombOn {
			s.log.Error("pgstore: the tombstone table can no longer be used; a request in flight at logout can bring the session back",
				"table", s.names.display, "err", why)
		}
		return false, why, nil
	}
	s.tomb.Store(tombOn)
	if prev == tombOff {
		s.log.Info("pgstore: the tombstone table is in use again; logouts are final", "table", s.names.display)
	}
	return true, nil, nil
}

// probeTombstones asks the database whether the tombstone table exists and
// the role may use it, and creates it if it is missing. why says why it
// cannot be used; err is a failure to find out.
func (s *PostgresStore) probeTombstones(ctx context.Context) (why, err error) {
	var exists, usable, merge bool
	if err := s.pool.QueryRow(ctx, s.q.probe).Scan(&exists, &usable, &merge); err != nil {
		return nil, err
	}
	s.legacy.Store(!merge)
	switch {
	case exists && !usable:
		return errNoPrivilege, nil
	case !exists:
		if _, err := s.pool.Exec(ctx, s.q.createTombstones); err != nil {
			if isPermanent(err) {
				return fmt.Errorf("creating the tombstone table: %w", err), nil
			}
			return nil, err
		}
	}
	return nil, nil
}

// logDegraded logs, at ERROR, that the store runs without tombstones.
func (s *PostgresStore) logDegraded(why error) {
	s.log.Error("pgstore: running without tombstones: a request in flight at logout can bring the session back; create the tombstone table (see Migrate)",
		"table", s.names.display, "err", why)
}

// isPermanent reports whether err means the tombstone table cannot be
// created by this role: no privilege, or a read-only transaction.
func isPermanent(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42501", "25006": // insufficient_privilege, read_only_sql_transaction
		return true
	}
	return false
}
