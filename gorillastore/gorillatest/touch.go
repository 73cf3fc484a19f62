package gorillatest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/storetest"
)

// TouchWindow is the Config.TouchWindow the Touch subtests give the stores
// they make (a Maker may instead give it to the store under the adapter).
const TouchWindow = time.Minute

// touchMaxAge is the sliding lifetime the Touch subtests save with, in
// seconds: each Save moves the expiry to now + 30 minutes.
const touchMaxAge = 1800

// RunTouch runs the Touch subtests: coalesced touches (Config.TouchWindow)
// through the gorilla API. setup is as for Run; the Maker must honour
// cfg.TouchWindow, or ignore it and return a store whose backend coalesces
// with a window of TouchWindow itself. Two stores of one Maker share the
// backend, each with its own view, as two replicas do.
func RunTouch(t *testing.T, setup func(t *testing.T, now func() time.Time) Maker) {
	t.Helper()
	env := func(t *testing.T) (Maker, Store, *storetest.Clock) {
		t.Helper()
		c := newClock()
		setupMk := setup(t, c.Now)
		mk := func(t *testing.T, cfg gorillastore.Config) Store {
			cfg.Now, cfg.TouchWindow = c.Now, TouchWindow
			s := setupMk(t, cfg)
			s.MaxAge(touchMaxAge)
			return s
		}
		return mk, mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}}), c
	}
	t.Run("Touch", func(t *testing.T) { testTouch(t, env) })
}

// RunAdapterTouch runs the Touch subtests on gorillastore.NewWithConfig
// over stores from newStore, which must return a fresh, empty store that
// reads the time from now. With own set, the adapter is made with no
// TouchWindow and newStore's store must coalesce with TouchWindow itself.
func RunAdapterTouch(t *testing.T, own bool, newStore func(t *testing.T, now func() time.Time) gorillastore.CtxStore) {
	t.Helper()
	RunTouch(t, func(t *testing.T, now func() time.Time) Maker {
		backend := newStore(t, now)
		return func(t *testing.T, cfg gorillastore.Config) Store {
			if own {
				cfg.TouchWindow = 0
			}
			s, err := gorillastore.NewWithConfig(backend, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// resave loads the session of cookie c from s, lets change alter its
// values, and saves it, as a request does. It returns the cookie the
// response set, or c if it set none.
func resave(t *testing.T, s Store, c *http.Cookie, change func(*sessions.Session)) *http.Cookie {
	t.Helper()
	sess, r := load(t, s, "sid", c)
	if sess.IsNew {
		t.Fatal("the session is gone")
	}
	if change != nil {
		change(sess)
	}
	w := httptest.NewRecorder()
	if err := s.Save(r, w, sess); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if nc := responseCookie(w, "sid"); nc != nil {
		return nc
	}
	return c
}

// live reports whether the session of c loads at the clock's time.
func live(t *testing.T, s Store, c *http.Cookie) bool {
	t.Helper()
	sess, _ := load(t, s, "sid", c)
	return !sess.IsNew
}

func touchValues(sess *sessions.Session, n int) {
	sess.Values["user_id"] = "alice"
	sess.Values["csrf"] = "7oMz0bZnQpR1"
	sess.Values["count"] = n
}

func testTouch(t *testing.T, env envFunc) {
	// first saves a new session of three values and returns its cookie
	// and the expiry it asked for.
	first := func(t *testing.T, s Store, clk *storetest.Clock) (*http.Cookie, time.Time) {
		t.Helper()
		sess, r := load(t, s, "sid")
		touchValues(sess, 1)
		return save(t, s, r, sess), clk.Now().Add(touchMaxAge * time.Second)
	}

	t.Run("UnchangedIsCoalesced", func(t *testing.T) {
		// Requests that only read the session, each a second after the
		// last, within the window of the first Save: none writes, so the
		// session ends at the first Save's expiry, not 20 s later.
		_, s, clk := env(t)
		c, exp := first(t, s, clk)
		for range 20 {
			clk.Advance(time.Second)
			c = resave(t, s, c, nil)
		}
		clk.Set(exp.Add(time.Millisecond))
		if live(t, s, c) {
			t.Fatal("unchanged Saves within the window moved the stored expiry: they were written")
		}
	})

	t.Run("ChangeIsWritten", func(t *testing.T) {
		_, s, clk := env(t)
		c, _ := first(t, s, clk)
		for n := 2; n < 12; n++ {
			clk.Advance(time.Millisecond)
			c = resave(t, s, c, func(sess *sessions.Session) { sess.Values["count"] = n })
			if sess, _ := load(t, s, "sid", c); sess.Values["count"] != n {
				t.Fatalf("count = %v, want %d", sess.Values["count"], n)
			}
		}
		// A value saved with gob, and a flash.
		c = resave(t, s, c, func(sess *sessions.Session) { sess.Values["list"] = []any{"a", 1}; sess.AddFlash("hi") })
		c = resave(t, s, c, func(sess *sessions.Session) { sess.Values["list"] = []any{"a", 2} })
		if sess, _ := load(t, s, "sid", c); fmt.Sprint(sess.Values["list"]) != "[a 2]" || len(sess.Flashes()) != 1 {
			t.Fatalf("values = %v, want list [a 2] and one flash", sess.Values)
		}
	})

	t.Run("ExpiryBounds", func(t *testing.T) {
		// Unchanged Saves at irregular intervals: after each run, the
		// session lives until within the window below the last requested
		// expiry, and not past it.
		_, s, clk := env(t)
		steps := []time.Duration{time.Second, 20 * time.Second, 30 * time.Second, 15 * time.Second, 59 * time.Second,
			time.Minute, 61 * time.Second, time.Millisecond, 2 * time.Minute, 59999 * time.Millisecond}
		for k := 1; k <= len(steps); k++ {
			c, req := first(t, s, clk)
			for _, step := range steps[:k] {
				clk.Advance(step)
				c = resave(t, s, c, nil)
				req = clk.Now().Add(touchMaxAge * time.Second)
			}
			end := clk.Now()
			clk.Set(req.Add(-TouchWindow)) // the stored expiry is after it
			if !live(t, s, c) {
				t.Fatalf("after %d steps: gone at the requested expiry minus the window", k)
			}
			clk.Set(req.Add(time.Millisecond))
			if live(t, s, c) {
				t.Fatalf("after %d steps: live past the requested expiry", k)
			}
			clk.Set(end)
		}
	})

	t.Run("EarlierExpiryIsWritten", func(t *testing.T) {
		// A shorter MaxAge moves the expiry earlier: written.
		_, s, clk := env(t)
		c, _ := first(t, s, clk)
		clk.Advance(time.Second)
		c = resave(t, s, c, func(sess *sessions.Session) { sess.Options.MaxAge = 600 })
		clk.Advance(600*time.Second + time.Millisecond)
		if live(t, s, c) {
			t.Fatal("the session outlived the shorter MaxAge of its last Save")
		}
	})

	t.Run("ShortLifetimeIsWritten", func(t *testing.T) {
		// A MaxAge shorter than the window: every Save is written.
		_, s, clk := env(t)
		sess, r := load(t, s, "sid")
		touchValues(sess, 1)
		sess.Options.MaxAge = 30
		c := save(t, s, r, sess)
		clk.Advance(20 * time.Second)
		c = resave(t, s, c, nil)
		clk.Advance(11 * time.Second)
		if !live(t, s, c) {
			t.Fatal("a Save with less than the window to live was skipped")
		}
	})

	t.Run("DeleteIsFinal", func(t *testing.T) {
		// A logout, here or on another store value over the same backend,
		// between a slow request's load and its unchanged Save: the
		// session stays gone, then and after the window.
		for _, where := range []string{"same store", "replica"} {
			mk, s, clk := env(t)
			del := s
			if where == "replica" {
				del = mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}})
			}
			c, _ := first(t, s, clk)
			clk.Advance(time.Second)
			slow, slowReq := load(t, s, "sid", c)
			logout, logoutReq := load(t, del, "sid", c)
			logout.Options.MaxAge = -1
			if err := del.Save(logoutReq, httptest.NewRecorder(), logout); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			if err := s.Save(slowReq, httptest.NewRecorder(), slow); err != nil {
				t.Fatalf("%s: Save after the logout: %v", where, err)
			}
			if live(t, s, c) {
				t.Fatalf("%s: an unchanged Save brought the session back", where)
			}
			clk.Advance(2 * TouchWindow)
			if err := s.Save(slowReq, httptest.NewRecorder(), slow); err != nil {
				t.Fatalf("%s: Save after the logout and the window: %v", where, err)
			}
			if live(t, s, c) {
				t.Fatalf("%s: a Save after the window brought the session back", where)
			}
		}
	})

	t.Run("OtherReplicaChangeIsSeen", func(t *testing.T) {
		// B changes the session A wrote; A loads B's values, and a Save of
		// A's that puts back A's old values is a change: written.
		mk, a, clk := env(t)
		b := mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}})
		c, _ := first(t, a, clk)
		clk.Advance(time.Second)
		c = resave(t, b, c, func(sess *sessions.Session) { sess.Values["count"] = 2 })
		clk.Advance(time.Second)
		c = resave(t, a, c, func(sess *sessions.Session) {
			if sess.Values["count"] != 2 {
				t.Fatalf("A loaded count %v, want B's 2", sess.Values["count"])
			}
			sess.Values["count"] = 1
		})
		if sess, _ := load(t, b, "sid", c); sess.Values["count"] != 1 {
			t.Fatalf("B loads count %v after A set it back to 1: A's change was lost", sess.Values["count"])
		}
	})
}
