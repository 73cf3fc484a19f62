package pgcore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TombRecheck is how often, at most, a store running without its tombstone
// table checks on the request path whether the table now exists. Every
// cleanup run checks too.
const TombRecheck = time.Minute

// Tombstone table states (TombState).
const (
	TombUnknown int32 = iota // not checked yet (the database was unreachable at Open)
	TombOn                   // the table exists and the role may use it
	TombOff                  // it does not, or the role may not: checked again later
)

// errNoPrivilege is why a tombstone table that exists cannot be used.
var errNoPrivilege = errors.New("the role lacks SELECT, INSERT, UPDATE or DELETE on the tombstone table")

// TombState is the state of the tombstone table: TombUnknown, TombOn or
// TombOff.
func (s *Store) TombState() int32 { return s.tomb.Load() }

// tombFast reports without a round trip whether Find, Commit and Delete use
// the tombstone table; ok is false when that has to be checked first (see
// useTombstones). On a healthy store it is one atomic load.
func (s *Store) tombFast() (on, ok bool) {
	switch s.tomb.Load() {
	case TombOn:
		return true, true
	case TombOff:
		return false, s.Mono().UnixNano() < s.tombNext.Load()
	}
	return false, false
}

// UseTombstones reports whether Find, Commit and Delete use the tombstone
// table, checking with the database when that is not known yet, or when a
// store running without it is due to check again (at most once every
// TombRecheck). An error means the answer is not known: the operation then
// fails, and the next one asks again.
func (s *Store) UseTombstones(ctx context.Context) (bool, error) { return s.useTombstones(ctx) }

func (s *Store) useTombstones(ctx context.Context) (bool, error) {
	if on, ok := s.tombFast(); ok {
		return on, nil
	}
	on, _, err := s.checkTombstones(ctx, false)
	return on, err
}

// checkTombstones finds out whether the store can use its tombstone table,
// creating it if it is missing and the role may, and whether the server has
// MERGE. why is set when the table cannot be used (the store then runs
// without it, and checks again TombRecheck later); err when the database
// could not say. force (Open, Migrate, each cleanup run) checks even when a
// check is not due, waiting for one in progress; otherwise a request
// finding another check in progress goes on without the table.
func (s *Store) checkTombstones(ctx context.Context, force bool) (on bool, why, err error) {
	if force {
		s.tombMu.Lock()
	} else if s.tomb.Load() != TombOff {
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
	case err != nil && prev != TombOff:
		return prev == TombOn, nil, err
	case err != nil: // no answer: stay without the table, ask again later
		s.tombNext.Store(s.Mono().Add(TombRecheck).UnixNano())
		return false, nil, err
	case why != nil:
		s.tombNext.Store(s.Mono().Add(TombRecheck).UnixNano())
		s.tomb.Store(TombOff)
		if prev == TombOn {
			s.log.Error(s.name+": the tombstone table can no longer be used; a request in flight at logout can bring the session back",
				"table", s.Names.Display, "err", why)
		}
		return false, why, nil
	}
	s.tomb.Store(TombOn)
	if prev == TombOff {
		s.log.Info(s.name+": the tombstone table is in use again; logouts are final", "table", s.Names.Display)
	}
	return true, nil, nil
}

// probeTombstones asks the database whether the tombstone table exists and
// the role may use it, and creates it if it is missing; it also decides
// whether Commit runs MERGE (the server has it and the driver reports its
// row count) or its older form. why says why it
// cannot be used; err is a failure to find out.
func (s *Store) probeTombstones(ctx context.Context) (why, err error) {
	var exists, usable, merge bool
	if err := s.db.QueryRow(ctx, s.Q.Probe).Scan(&exists, &usable, &merge); err != nil {
		return nil, err
	}
	if merge {
		if m, ok := s.db.(MergeReporter); ok {
			if merge, err = m.ReportsMerge(ctx); err != nil {
				return nil, err
			}
		}
	}
	s.legacy.Store(!merge)
	switch {
	case exists && !usable:
		return errNoPrivilege, nil
	case !exists:
		if _, err := s.db.Exec(ctx, s.Q.CreateTombstones); err != nil {
			if isPermanent(err) {
				return fmt.Errorf("creating the tombstone table: %w", err), nil
			}
			return nil, err
		}
	}
	return nil, nil
}

// logDegraded logs, at ERROR, that the store runs without tombstones.
func (s *Store) logDegraded(why error) {
	s.log.Error(s.name+": running without tombstones: a request in flight at logout can bring the session back; create the tombstone table (see Migrate)",
		"table", s.Names.Display, "err", why)
}
