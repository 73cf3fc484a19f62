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
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO "+s.names.sessions+" (token, data, expiry) VALUES ($1, $2, $3)",
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
	}})
}

func TestConformanceRealClock(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return newTestStore(t, Config{CleanupInterval: time.Hour, Timeout: 5 * time.Second})
	})
}
