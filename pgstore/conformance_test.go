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

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour})
	}, storetest.Options{WriteBehind: writeBehind, Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour, Owner: storetest.Owner})
	}, Touching: func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour, TouchWindow: storetest.TouchWindow})
	}, TouchReplica: touchReplica})
}

// touchReplica is another store on s's table, with its own local view.
func touchReplica(t *testing.T, st storetest.Store, now func() time.Time) storetest.Store {
	t.Helper()
	s := st.(*PostgresStore)
	r, err := NewWithConfig(s.rawPool(), Config{Table: s.core.Names.Display, Now: now, CleanupInterval: -1, TouchWindow: storetest.TouchWindow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.StopCleanup)
	return r
}

// TestConformanceAsync runs the suite on stores whose Commits do not wait
// for their WAL flush: the contract is the same.
func TestConformanceAsync(t *testing.T) {
	t.Parallel()
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour, AsyncCommit: true})
	}, storetest.Options{WriteBehind: writeBehind, Indexed: func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour, Owner: storetest.Owner, AsyncCommit: true})
	}, Touching: func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour, TouchWindow: storetest.TouchWindow, AsyncCommit: true})
	}})
}

func TestConformanceRealClock(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return newTestStore(t, Config{CleanupInterval: time.Hour, Timeout: 5 * time.Second})
	})
}
