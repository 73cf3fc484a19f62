package pgstore

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// TestTombstoneConfig checks that a negative TombstoneLifetime or
// ClockSkew is refused, and that Delete writes a tombstone lasting until
// the later of the session's expiry and the Delete time plus the lifetime.
func TestTombstoneConfig(t *testing.T) {
	t.Parallel()
	pool := sharedPool(t)
	for _, cfg := range []Config{{TombstoneLifetime: -time.Second}, {ClockSkew: -time.Second}} {
		if _, err := NewWithConfig(pool, cfg); err == nil || !strings.HasPrefix(err.Error(), "pgstore: config: ") {
			t.Errorf("NewWithConfig(%+v) = %v, want a pgstore: config: error", cfg, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := newTestStore(t, Config{CleanupInterval: -1, TombstoneLifetime: 10 * time.Minute, Now: func() time.Time { return now }})
	for _, c := range []struct {
		expiry, want time.Time
	}{
		{now.Add(2 * time.Second), now.Add(10 * time.Minute)}, // IdleTimeout 2 s: the lifetime
		{now.Add(time.Hour), now.Add(time.Hour)},              // the session's own expiry
	} {
		tok := uniqueName("tomb-")
		if err := s.Commit(tok, []byte("x"), c.expiry); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := pool.QueryRow(context.Background(), "SELECT expiry FROM "+s.core.Names.Tombstones+" WHERE token = $1", tok).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(c.want) {
			t.Errorf("session expiring at +%v: tombstone expiry +%v, want +%v", c.expiry.Sub(now), got.Sub(now), c.want.Sub(now))
		}
	}
}

// TestCleanupByReplicaAhead runs two stores on one table, as two replicas:
// one on time, one whose clock runs 10 minutes ahead. The one ahead runs
// cleanup shortly before the tombstone expires by the other's clock (so
// after it expired by its own); the other then commits a request that
// loaded the session before the logout. The session must stay deleted, and
// the tombstone must still go once it has expired on every clock.
func TestCleanupByReplicaAhead(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		var onTime atomic.Int64
		onTime.Store(time.Now().UnixNano())
		clock := func(ahead time.Duration) func() time.Time {
			return func() time.Time { return time.Unix(0, onTime.Load()).Add(ahead) }
		}
		b := newTestStoreOn(t, d, Config{CleanupInterval: -1, Now: clock(0)})
		a, err := b.reopen(Config{Table: b.core.Names.Display, CleanupInterval: -1, Now: clock(10 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		advance := func(d time.Duration) { onTime.Add(int64(d)) }

		tok := uniqueName("ahead-")
		if err := b.Commit(tok, []byte("signed-in"), clock(0)().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(tok); err != nil {
			t.Fatal(err)
		}
		advance(sessionstore.DefaultTombstoneLifetime - 5*time.Minute) // a's clock: 5 min past the tombstone's expiry
		if _, err := a.DeleteExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(tok, []byte("signed-in"), clock(0)().Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*PostgresStore{a, b} {
			if _, found, err := s.Find(tok); err != nil || found {
				t.Fatalf("Find after cleanup by the replica ahead and a late Commit = %v, %v; want not found", found, err)
			}
		}
		if n := count(t, b.rawPool(), "SELECT count(*) FROM "+b.core.Names.Sessions+" WHERE token = $1", tok); n != 0 {
			t.Fatalf("the late Commit wrote the session back (%d rows)", n)
		}
		// Expired on every clock, and by ClockSkew on the one ahead: it goes.
		advance(5*time.Minute + sessionstore.DefaultClockSkew - 10*time.Minute + time.Second)
		if _, err := a.DeleteExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, b.rawPool(), "SELECT count(*) FROM "+b.core.Names.Tombstones+" WHERE token = $1", tok); n != 0 {
			t.Errorf("tombstone still there once expired by ClockSkew on the clock ahead")
		}
	})
}

// TestOneConnection runs every operation, the tombstone check and cleanup
// of tombstones and of the rows written behind them, on a pool of one
// connection: none may need a second one while it holds the first.
func TestOneConnection(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		ctx := context.Background()
		pool := sharedPool(t) // the test's own statements
		open := d.connect(t, testDSN, 1)
		now := time.Now()
		s, err := open(Config{Table: uniqueName("pgstore_test_"), CreateTable: true, CleanupInterval: -1,
			Timeout: 5 * time.Second, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		defer dropTables(t, sharedPool(t), s)
		if _, err := open(Config{Table: s.core.Names.Display, CleanupInterval: -1}); err != nil {
			t.Fatalf("a second store on the table, checking it: %v", err)
		}
		for _, tok := range []string{"a", "b", "c"} {
			if err := s.Commit(tok, []byte(tok), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete("a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit("a", []byte("late"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO "+s.core.Names.Sessions+" VALUES ('a', 'behind', $1)", now.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Find("a"); found || err != nil {
			t.Fatalf("Find(a) = %v, %v; want not found", found, err)
		}
		all, err := s.All()
		if err != nil || len(all) != 2 {
			t.Fatalf("All = %d sessions, %v; want b and c", len(all), err)
		}
		n := 0
		for _, err := range s.Sessions(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 2 {
			t.Fatalf("Sessions yielded %d, want b and c", n)
		}
		now = now.Add(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)
		if n, err := s.DeleteExpired(ctx); err != nil || n != 4 { // b, c, a's tombstone and the row behind it
			t.Fatalf("DeleteExpired = %d, %v; want 4", n, err)
		}
		if n := count(t, pool, "SELECT count(*) FROM "+s.core.Names.Sessions); n != 0 {
			t.Fatalf("%d rows left after cleanup, want 0", n)
		}
	})
}
