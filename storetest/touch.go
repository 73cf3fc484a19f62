package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// TouchWindow is the Config.TouchWindow of the stores that
// Options.Touching builds.
const TouchWindow = time.Minute

// idle is the idle timeout the Touch subtests commit with, as SCS's
// IdleTimeout would: each Commit moves the expiry to now + idle.
const idle = 30 * time.Minute

// tenv is one Touch subtest's store.
type tenv struct {
	*env
	replica Store // another store on the same backend, or nil
}

func (s suite) touchEnv(t *testing.T) *tenv {
	t.Helper()
	if s.opts.Touching == nil {
		t.Skip("the store's test gives no storetest.Options.Touching")
	}
	c := NewClock(time.Now().Truncate(time.Microsecond))
	st := s.opts.Touching(t, c.Now)
	e := &tenv{env: &env{t: t, store: st, clock: c}}
	if s.opts.TouchReplica != nil {
		e.replica = s.opts.TouchReplica(t, st, c.Now)
	}
	return e
}

// stored returns the expiry the store holds for tok, from its Sessions
// iterator, or skips the subtest if the store has none.
func (e *tenv) stored(tok string) time.Time {
	e.t.Helper()
	it, ok := e.store.(SessionIterator)
	if !ok {
		e.t.Skipf("%T has no Sessions iterator to read stored expiries", e.store)
	}
	for s, err := range it.Sessions(context.Background()) {
		if err != nil {
			e.t.Fatalf("Sessions: %v", err)
		}
		if s.Token == tok {
			return s.Expiry
		}
	}
	e.t.Fatalf("Sessions: %.20q is not listed", tok)
	return time.Time{}
}

// bounded asserts that tok's stored expiry lies within the window below
// the requested one: never later, never earlier by TouchWindow or more.
func (e *tenv) bounded(tok string, requested time.Time) {
	e.t.Helper()
	got := e.stored(tok)
	// Stores keep expiry to the microsecond (Redis to the millisecond).
	if got.After(requested) || requested.Sub(got) >= TouchWindow+time.Millisecond {
		e.t.Fatalf("stored expiry %s, requested %s: want within (requested - %v, requested]",
			got.Format(time.RFC3339Nano), requested.Format(time.RFC3339Nano), TouchWindow)
	}
}

func (s suite) testTouch(t *testing.T) {
	values := func(n int) map[string]any {
		return map[string]any{"user_id": "alice", "csrf": "7oMz0bZnQpR1", "count": n, "theme": "dark"}
	}
	deadline := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	gobData := func(t *testing.T, n int) []byte { return encode(t, deadline, values(n)) }

	t.Run("UnchangedIsCoalesced", func(t *testing.T) {
		// The option must do something: a request that only read the
		// session, a few seconds after the last write, writes nothing (the
		// stored expiry does not move), even though gob wrote the same
		// values in another order.
		e := s.touchEnv(t)
		tok := token()
		first := e.now().Add(idle)
		e.commit(tok, gobData(t, 1), first)
		moved := 0
		for range 20 {
			e.clock.Advance(time.Second)
			if _, ok, err := e.store.Find(tok); err != nil || !ok {
				t.Fatalf("Find: %v, %v", ok, err)
			}
			e.commit(tok, gobData(t, 1), e.now().Add(idle))
			if !e.stored(tok).Equal(first.Truncate(time.Millisecond)) && !e.stored(tok).Equal(first) {
				moved++
			}
		}
		if moved > 0 {
			t.Fatalf("%d of 20 unchanged Commits within the window were written", moved)
		}
	})
	t.Run("ChangeIsWritten", func(t *testing.T) {
		// A change of data is written at once, however small, and whatever
		// the expiry.
		e := s.touchEnv(t)
		tok := token()
		e.commit(tok, gobData(t, 1), e.now().Add(idle))
		for n := 2; n < 12; n++ {
			e.clock.Advance(time.Millisecond)
			data := gobData(t, n)
			e.commit(tok, data, e.now().Add(idle))
			e.found(tok, data)
		}
		// Raw bytes too: another codec's data.
		e.commit(tok, []byte("a"), e.now().Add(idle))
		e.commit(tok, []byte("b"), e.now().Add(idle))
		e.found(tok, []byte("b"))
	})
	t.Run("ExpiryBounds", func(t *testing.T) {
		// Unchanged Commits at irregular intervals: the stored expiry stays
		// within the window below each requested expiry.
		e := s.touchEnv(t)
		tok := token()
		data := gobData(t, 1)
		e.commit(tok, data, e.now().Add(idle))
		for _, step := range []time.Duration{time.Second, 20 * time.Second, 30 * time.Second, 15 * time.Second, 59 * time.Second,
			time.Minute, 61 * time.Second, time.Millisecond, 2 * time.Minute, 59999 * time.Millisecond} {
			e.clock.Advance(step)
			req := e.now().Add(idle)
			e.commit(tok, gobData(t, 1), req)
			e.bounded(tok, req)
		}
	})
	t.Run("EarlierExpiryIsWritten", func(t *testing.T) {
		// An expiry that moves earlier (a shorter lifetime, a clock set
		// back) is always written.
		e := s.touchEnv(t)
		tok := token()
		data := gobData(t, 1)
		e.commit(tok, data, e.now().Add(idle))
		req := e.now().Add(idle - time.Second)
		e.commit(tok, data, req)
		if got := e.stored(tok); got.After(req) {
			t.Fatalf("stored expiry %s after the requested %s", got, req)
		}
	})
	t.Run("ShortLifetimeIsWritten", func(t *testing.T) {
		// A session with less than the window left is written every time,
		// so that it never expires before the request's expiry minus the
		// time it was skipped.
		e := s.touchEnv(t)
		tok := token()
		data := gobData(t, 1)
		e.commit(tok, data, e.now().Add(TouchWindow/2))
		e.clock.Advance(time.Second)
		req := e.now().Add(TouchWindow / 2)
		e.commit(tok, data, req)
		e.bounded(tok, req)
		if got := e.stored(tok); req.Sub(got) > time.Millisecond {
			t.Fatalf("stored expiry %s, want the requested %s", got, req)
		}
	})
	t.Run("ExpiredIsNotFound", func(t *testing.T) {
		// A skipped Commit leaves the stored expiry where it was, and Find
		// goes by that, not by the expiry the skipped Commit asked for: the
		// session ends up to the window early, never late.
		e := s.touchEnv(t)
		tok := token()
		data := gobData(t, 1)
		first := e.now().Add(idle)
		e.commit(tok, data, first)
		e.clock.Advance(30 * time.Second)
		e.commit(tok, gobData(t, 1), e.now().Add(idle)) // skipped
		e.clock.Set(first.Add(time.Millisecond))
		e.notFound(tok)
	})
	t.Run("DeleteIsFinal", func(t *testing.T) {
		// A logout between a request's Find and its unchanged Commit: the
		// Commit is skipped or blocked by the tombstone, never a
		// resurrection, on this store and on another replica.
		for _, where := range []string{"same store", "replica"} {
			e := s.touchEnv(t)
			del := e.store
			if where == "replica" {
				if e.replica == nil {
					continue
				}
				del = e.replica
			}
			tok := token()
			data := gobData(t, 1)
			e.commit(tok, data, e.now().Add(idle))
			e.clock.Advance(time.Second)
			e.found(tok, data)
			if err := del.Delete(tok); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Second)
			e.commit(tok, gobData(t, 1), e.now().Add(idle))
			e.notFound(tok)
			e.clock.Advance(2 * TouchWindow)
			e.commit(tok, gobData(t, 1), e.now().Add(idle))
			e.notFound(tok)
		}
	})
	t.Run("OtherReplicaChangeIsSeen", func(t *testing.T) {
		// Replica B changes the data: A's Find returns B's data (Find
		// never answers from the local view), A's unchanged Commit then
		// keeps it, and A's own change after that is written.
		e := s.touchEnv(t)
		if e.replica == nil {
			t.Skip("the store's test gives no storetest.Options.TouchReplica")
		}
		a, b := e.store, e.replica
		tok := token()
		e.commit(tok, gobData(t, 1), e.now().Add(idle))
		if got, ok, err := a.Find(tok); err != nil || !ok || !sameValues(t, got, gobData(t, 1)) {
			t.Fatalf("A's Find: %v, %v; want the data committed", ok, err)
		}
		e.clock.Advance(time.Second)
		d2 := gobData(t, 2)
		if err := b.Commit(tok, d2, e.now().Add(idle)); err != nil {
			t.Fatal(err)
		}
		got, ok, err := a.Find(tok)
		if err != nil || !ok || !sameValues(t, got, d2) {
			t.Fatalf("A's Find after B's change: %v, %v; want B's data", ok, err)
		}
		e.clock.Advance(time.Second)
		if err := a.Commit(tok, gobData(t, 2), e.now().Add(idle)); err != nil {
			t.Fatal(err)
		}
		got, ok, err = b.Find(tok)
		if err != nil || !ok || !sameValues(t, got, d2) {
			t.Fatalf("B's Find after A's unchanged Commit: %v, %v; want B's data", ok, err)
		}
		// A stale view: A last saw data 2; B writes 3; A commits data 2
		// without reading. The store keeps B's newer data, not A's view.
		if err := b.Commit(tok, gobData(t, 3), e.now().Add(idle)); err != nil {
			t.Fatal(err)
		}
		d4 := gobData(t, 4)
		if err := a.Commit(tok, d4, e.now().Add(idle)); err != nil {
			t.Fatal(err)
		}
		got, ok, err = b.Find(tok)
		if err != nil || !ok || !sameValues(t, got, d4) {
			t.Fatalf("B's Find after A's change: %v, %v; want A's data", ok, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Readers committing unchanged data, writers changing it, and a
		// logout: every change is readable once written, and after the
		// Delete nothing brings the session back.
		e := s.touchEnv(t)
		tok := token()
		e.commit(tok, gobData(t, 0), e.now().Add(idle))
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					n := 0
					if g == 0 {
						n = i // one writer changes the data
					}
					if err := e.store.Commit(tok, gobData(t, n), e.now().Add(idle)); err != nil {
						errs <- err
						return
					}
					if _, _, err := e.store.Find(tok); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		final := gobData(t, 99)
		e.commit(tok, final, e.now().Add(idle))
		got, ok, err := e.store.Find(tok)
		if err != nil || !ok || !sameValues(t, got, final) {
			t.Fatalf("Find after the last change: %v, %v; want it", ok, err)
		}
		e.del(tok)
		var wg2 sync.WaitGroup
		for range 8 {
			wg2.Go(func() {
				for range 10 {
					_ = e.store.Commit(tok, final, e.now().Add(idle))
				}
			})
		}
		wg2.Wait()
		e.notFound(tok)
	})
}

// sameValues reports whether a and b are GobCodec streams of the same
// session.
func sameValues(t *testing.T, a, b []byte) bool {
	t.Helper()
	da, va, err := scs.GobCodec{}.Decode(a)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	db, vb, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return da.Equal(db) && fmt.Sprint(va) == fmt.Sprint(vb)
}
