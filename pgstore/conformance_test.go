package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/storetest"
)

// writeBehind inserts a session row directly, the way a writer that ignores
// tombstones (an older replica, SCS's own pgxstore) would.
func writeBehind(t *testing.T, st storetest.Store, token string, data []byte, expiry time.Time) {
	t.Helper()
	s := st.(*PostgresStore)
	if _, err := s.rawPool().Exec(context.Background(), "INSERT INTO "+s.core.Names.Sessions+" (token, data, expiry) VALUES ($1, $2, $3)",
		token, data, expiry); err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the suite on a pgx pool, and on a *sql.DB through
// pgx's stdlib and through lib/pq: the same contract on every handle.
func TestConformance(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour})
		}, storetest.Options{WriteBehind: writeBehind, Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour, Owner: storetest.Owner})
		}, Touching: func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour, TouchWindow: storetest.TouchWindow})
		}, TouchReplica: touchReplica})
	})
}

// touchReplica is another store on s's table, with its own local view.
func touchReplica(t *testing.T, st storetest.Store, now func() time.Time) storetest.Store {
	t.Helper()
	s := st.(*PostgresStore)
	r, err := s.reopen(Config{Table: s.core.Names.Display, Now: now, CleanupInterval: -1, TouchWindow: storetest.TouchWindow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.StopCleanup)
	return r
}

// TestConformanceAsync runs the suite on stores whose Commits do not wait
// for their WAL flush: the contract is the same, with pgx's batch and with
// database/sql's transaction.
func TestConformanceAsync(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour, AsyncCommit: true})
		}, storetest.Options{WriteBehind: writeBehind, Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour, Owner: storetest.Owner, AsyncCommit: true})
		}, Touching: func(t *testing.T, now func() time.Time) storetest.Store {
			return newTestStoreOn(t, d, Config{Now: now, CleanupInterval: time.Hour, TouchWindow: storetest.TouchWindow, AsyncCommit: true})
		}})
	}, "pgx", "stdlib")
}

func TestConformanceRealClock(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return newTestStore(t, Config{CleanupInterval: time.Hour, Timeout: 5 * time.Second})
	})
}

// TestCommitStatementPerDriver checks which statement Commit runs on each
// handle: MERGE where the driver reports its row count (pgx, pool or
// stdlib), the INSERT ... ON CONFLICT form on lib/pq, which reports 0 rows
// for a MERGE, so that Commit would take every write for a tombstoned
// token, retry it twice and forget the local view.
func TestCommitStatementPerDriver(t *testing.T) {
	t.Parallel()
	want := map[string]bool{"pgx": false, "stdlib": false, "pq": true}
	forEachDriver(t, func(t *testing.T, d testDriver) {
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1})
		if got := s.core.Legacy(); got != want[d.name] {
			t.Errorf("legacy statement = %v, want %v", got, want[d.name])
		}
	})
}
