package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// Options are what a store's own test can do that the suite cannot do
// through the store's methods. Pass them to RunWithOptions.
type Options struct {
	// WriteBehind, if set, writes a live session row for token directly,
	// bypassing the store, the way a writer that ignores tombstones would
	// (an older replica, or SCS's own store during a rolling upgrade). The
	// suite then checks that a token with a tombstone is never served, even
	// once cleanup has removed the tombstone. s is the store the factory
	// returned.
	WriteBehind func(t *testing.T, s Store, token string, data []byte, expiry time.Time)
	// Indexed, if set, runs the Index subtests: like newStore, it returns a
	// fresh, empty store reading the time from now, with its per-user index
	// on and reading owners with storetest.Owner. The store must implement
	// sessionstore.UserIndex.
	Indexed func(t *testing.T, now func() time.Time) Store
	// Touching, if set, runs the Touch subtests: like newStore, it returns
	// a fresh, empty store reading the time from now, with its
	// Config.TouchWindow set to storetest.TouchWindow.
	Touching func(t *testing.T, now func() time.Time) Store
	// TouchReplica, if set with Touching, returns another store on the
	// backend of s (a replica in another process, with its own local view),
	// configured as Touching configures s.
	TouchReplica func(t *testing.T, s Store, now func() time.Time) Store
}

// RunWithOptions is RunWithClock with the extra abilities of o.
func RunWithOptions(t *testing.T, newStore func(t *testing.T, now func() time.Time) Store, o Options) {
	t.Helper()
	s := suite{opts: o, newStore: func(t *testing.T) (Store, *Clock) {
		c := NewClock(time.Now().Truncate(time.Microsecond))
		return newStore(t, c.Now), c
	}}
	s.run(t)
}

// cleanup runs the store's DeleteExpired, if it has one.
func (e *env) cleanup() {
	e.t.Helper()
	if d, ok := e.store.(ExpiredDeleter); ok {
		if _, err := d.DeleteExpired(context.Background()); err != nil {
			e.t.Fatalf("DeleteExpired: %v", err)
		}
	}
}

// lateCommit commits tok as a request that loaded it before its Delete
// would when it ends: with a new expiry, idle from now. It must be a no-op.
func (e *env) lateCommit(tok string, idle time.Duration) {
	e.t.Helper()
	if err := e.store.Commit(tok, []byte("signed-in"), e.now().Add(idle)); err != nil {
		e.t.Fatalf("late Commit after Delete: %v, want nil (a no-op)", err)
	}
	e.notFound(tok)
	if it, ok := e.store.(IterableStore); ok {
		all, err := it.All()
		if err != nil {
			e.t.Fatal(err)
		}
		if _, ok := all[tok]; ok {
			e.t.Fatal("All returns the deleted session after a late Commit")
		}
	}
}

// testTombstone checks the tombstone rule of the contract with the default
// Config (TombstoneLifetime and ClockSkew at their defaults): a Delete
// blocks Commits of its token until the later of the session's expiry and
// the Delete time plus the tombstone lifetime, and cleanup removes the
// tombstone only ClockSkew past that.
func (s suite) testTombstone(t *testing.T) {
	needClock := func(t *testing.T, e *env) {
		if e.clock == nil {
			t.Skip("needs an injected clock (storetest.RunWithClock)")
		}
	}
	life, skew := sessionstore.DefaultTombstoneLifetime, sessionstore.DefaultClockSkew
	t.Run("OutlivesOldExpiry", func(t *testing.T) {
		// SCS with IdleTimeout 2 s: a slow request loads the session, the
		// user signs out, the request ends after the old expiry and after a
		// cleanup run, and commits with now + IdleTimeout.
		e := s.env(t)
		needClock(t, e)
		tok := token()
		e.commit(tok, []byte("signed-in"), e.now().Add(2*time.Second))
		e.del(tok)
		e.wait(3 * time.Second)
		e.cleanup()
		e.lateCommit(tok, 2*time.Second)
	})
	t.Run("HeldForLifetime", func(t *testing.T) {
		e := s.env(t)
		needClock(t, e)
		tok := token()
		e.commit(tok, []byte("signed-in"), e.now().Add(time.Minute))
		e.del(tok)
		e.wait(life - time.Second)
		e.cleanup()
		e.lateCommit(tok, 30*time.Minute)
	})
	t.Run("HeldForSessionExpiry", func(t *testing.T) {
		// A session that outlives the tombstone lifetime keeps its
		// tombstone until its own expiry.
		e := s.env(t)
		needClock(t, e)
		tok := token()
		e.commit(tok, []byte("signed-in"), e.now().Add(life+2*skew+time.Hour))
		e.del(tok)
		e.wait(life + 2*skew)
		e.cleanup()
		e.lateCommit(tok, time.Minute)
	})
	t.Run("CleanupAheadKeepsIt", func(t *testing.T) {
		// A replica whose clock runs ahead (by less than ClockSkew) cleans
		// up just past the tombstone's expiry by its clock; a replica on
		// time then commits a request that started before the logout.
		e := s.env(t)
		needClock(t, e)
		tok := token()
		e.commit(tok, []byte("signed-in"), e.now().Add(time.Minute))
		deleted := e.now()
		e.del(tok)
		e.clock.Set(deleted.Add(life + skew - time.Second))
		e.cleanup()
		e.clock.Set(deleted.Add(life - time.Second))
		e.lateCommit(tok, time.Minute)
	})
	t.Run("EventuallyRemoved", func(t *testing.T) {
		// Tombstones do not pile up: once past its lifetime and the skew
		// allowance, cleanup removes a tombstone and the token is free.
		e := s.env(t)
		needClock(t, e)
		if _, ok := e.store.(ExpiredDeleter); !ok {
			t.Skip("store has no DeleteExpired method")
		}
		tok := token()
		e.commit(tok, []byte("x"), e.now().Add(time.Minute))
		e.del(tok)
		e.wait(life + skew + time.Minute)
		e.cleanup()
		e.commit(tok, []byte("again"), e.now().Add(time.Hour))
		e.found(tok, []byte("again"))
	})
	// behind signs a token in and out, then writes its row back behind
	// the tombstone, as a replica that ignores tombstones would.
	behind := func(t *testing.T) (*env, string) {
		e := s.env(t)
		needClock(t, e)
		if s.opts.WriteBehind == nil {
			t.Skip("the store's test gives no storetest.Options.WriteBehind")
		}
		tok := token()
		e.commit(tok, []byte("signed-in"), e.now().Add(time.Minute))
		e.del(tok)
		s.opts.WriteBehind(t, e.store, tok, []byte("written-behind"), e.now().Add(10*life))
		return e, tok
	}
	t.Run("HidesRowWrittenBehind", func(t *testing.T) {
		e, tok := behind(t)
		e.notFound(tok)
		if it, ok := e.store.(IterableStore); ok {
			all, err := it.All()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := all[tok]; ok {
				t.Fatal("All returns a row written behind a tombstone")
			}
		}
		if it, ok := e.store.(SessionIterator); ok {
			for sess, err := range it.Sessions(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				if sess.Token == tok {
					t.Fatal("Sessions yields a row written behind a tombstone")
				}
			}
		}
		// A late Commit neither shows the row nor, by moving its expiry
		// closer, lets it expire before the check below.
		e.commit(tok, []byte("late"), e.now().Add(10*life))
		e.notFound(tok)
		// Cleanup that removes the tombstone removes the row with it: the
		// logout stays final.
		e.wait(life + skew + time.Minute)
		e.cleanup()
		e.notFound(tok)
	})
	t.Run("LateCommitOverRowWrittenBehind", func(t *testing.T) {
		// As above, but the late Commit comes before any read: a store
		// that updates an existing row without looking for a tombstone
		// (Redis's SET XX, PostgreSQL's MERGE WHEN MATCHED) must still
		// not serve the row.
		e, tok := behind(t)
		e.commit(tok, []byte("late"), e.now().Add(10*life))
		e.notFound(tok)
		if it, ok := e.store.(IterableStore); ok {
			all, err := it.All()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := all[tok]; ok {
				t.Fatal("All returns a row a late Commit wrote over a row written behind a tombstone")
			}
		}
	})
}

// testExpiry checks that every store takes the same range of expiries and
// refuses the rest with a clear error, writing nothing.
func (s suite) testExpiry(t *testing.T) {
	bad := []struct {
		name   string
		expiry time.Time
	}{
		{"Zero", time.Time{}},
		{"Year999", sessionstore.MinExpiry.Add(-time.Microsecond)},
		{"YearMinus300000", time.Date(-300000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Year10000", sessionstore.MaxExpiry.Add(time.Microsecond)},
		{"Unix1Shl62", time.Unix(1<<62, 0)},
	}
	for _, b := range bad {
		t.Run("OutOfRange"+b.name, func(t *testing.T) {
			e := s.env(t)
			tok := token()
			if err := e.store.Commit(tok, []byte("x"), b.expiry); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
				t.Errorf("Commit with expiry %v: %v, want an error matching sessionstore.ErrExpiryOutOfRange", b.expiry, err)
			}
			e.notFound(tok)
			// An existing session is left as it was.
			e.commit(tok, []byte("kept"), e.now().Add(time.Hour))
			if err := e.store.Commit(tok, []byte("lost"), b.expiry); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
				t.Errorf("Commit over a live session with expiry %v: %v, want ErrExpiryOutOfRange", b.expiry, err)
			}
			e.found(tok, []byte("kept"))
		})
	}
	t.Run("MaxExpiryIsLive", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("far"), sessionstore.MaxExpiry)
		e.found(tok, []byte("far"))
		if it, ok := e.store.(SessionIterator); ok {
			for sess, err := range it.Sessions(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				if sess.Token == tok && !sess.Expiry.Equal(sessionstore.MaxExpiry) {
					t.Errorf("Sessions gives expiry %v, want %v", sess.Expiry, sessionstore.MaxExpiry)
				}
			}
		}
		e.del(tok)
		e.notFound(tok)
		e.commit(tok, []byte("far"), sessionstore.MaxExpiry)
		e.notFound(tok)
	})
	t.Run("MinExpiryIsExpired", func(t *testing.T) {
		e := s.env(t)
		tok := token()
		e.commit(tok, []byte("old"), sessionstore.MinExpiry)
		e.notFound(tok)
	})
}
