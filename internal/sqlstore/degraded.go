package sqlstore

import (
	"context"
	"time"
)

// A store without its tombstone table is degraded: a request in flight at
// logout can bring the session back. It never stays so silently or for
// good: it logs at ERROR when it starts and on every cleanup run, and looks
// for the table again on every cleanup run and on the request path.

// RecheckInterval is how often, at most, a degraded store (one without its
// tombstone table) looks for the table on the request path: it starts using
// a table created behind its back within this long.
const RecheckInterval = time.Minute

// HasTombstones reports whether the tombstone table of st exists and can be
// read through conn.
func HasTombstones(ctx context.Context, conn Conn, st *Statements) bool {
	rows, err := conn.Query(ctx, st.ProbeTombstones)
	if err != nil {
		return false
	}
	rows.Close()
	return rows.Err() == nil
}

func (s *Store) logDegraded() {
	s.cfg.Logger.Error(s.cfg.Name+": no tombstone table: a request in flight at logout can bring the session back;"+
		" create the table (see Migrate) and the store starts using it within a minute",
		"table", s.st.Table+"_tombstones")
}

// CheckTombstones looks for the tombstone table of a degraded store, and
// starts using it if it now exists; while it does not, it logs at ERROR.
// Every cleanup run (DeleteExpired) calls it.
func (s *Store) CheckTombstones(ctx context.Context) {
	if s.tomb.Load() {
		return
	}
	s.probed.Store(s.cfg.Now().UnixNano())
	s.probe(ctx)
	if !s.tomb.Load() {
		s.logDegraded()
	}
}

// recheck is CheckTombstones on the request path: a degraded store looks
// for its tombstone table at most once per RecheckInterval, without logging.
func (s *Store) recheck(ctx context.Context) {
	if s.tomb.Load() {
		return
	}
	now := s.cfg.Now().UnixNano()
	last := s.probed.Load()
	if now-last < int64(RecheckInterval) || !s.probed.CompareAndSwap(last, now) {
		return
	}
	s.probe(ctx)
}

func (s *Store) probe(ctx context.Context) {
	if HasTombstones(ctx, s.conn, s.st) {
		s.tomb.Store(true)
		s.cfg.Logger.Info(s.cfg.Name+": tombstone table found; logouts are final again", "table", s.st.Table+"_tombstones")
	}
}
