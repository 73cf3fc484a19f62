package gorillastore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// pastTombstones is a time after which cleanup has removed the tombstone of
// a Delete made that long ago (default lifetime and skew).
const pastTombstones = sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute

// signOut deletes the session of cookie c, as a sign-out request does.
func signOut(t *testing.T, s gorillaStore, c *http.Cookie) {
	t.Helper()
	sess, r := load(t, s, "sid", c)
	if sess.IsNew {
		t.Fatal("sign-out: the session is not there")
	}
	sess.Options.MaxAge = -1
	if err := s.Save(r, httptest.NewRecorder(), sess); err != nil {
		t.Fatal(err)
	}
}

// lateSave saves sess, loaded before a sign-out, and checks that it wrote
// nothing: nil error, no cookie.
func lateSave(t *testing.T, s gorillaStore, r *http.Request, sess *sessions.Session, what string) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.Save(r, w, sess); err != nil {
		t.Fatalf("%s: Save = %v, want nil", what, err)
	}
	if c := responseCookie(w, "sid"); c != nil {
		t.Errorf("%s: Save of a deleted session set a cookie %q, want none", what, c.Value)
	}
}

// testLoadedSaveNeverInserts: a request loads a session, the user signs out,
// and the request saves it after the tombstone is gone (its lifetime, the
// clock skew allowance and a cleanup run later), with its own copies and a
// flipped IsNew: the session must stay gone. A session the store did not
// load is still saved, whatever its IsNew says.
func testLoadedSaveNeverInserts(t *testing.T, s gorillaStore, clock *storetest.Clock, cleanup func(context.Context) (int64, error)) {
	sess, r := load(t, s, "sid")
	sess.Values["user"] = "alice"
	sess.Options.MaxAge = 2 // the tombstone then lasts its lifetime, not 30 days
	c := save(t, s, r, sess)

	slow, slowReq := load(t, s, "sid", c)
	flipped, flippedReq := load(t, s, "sid", c)
	flipped.IsNew = true // a handler that marks its session new
	copied := *slow      // a copy of the loaded session
	signOut(t, s, c)

	clock.Advance(pastTombstones)
	if _, err := cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		what string
		sess *sessions.Session
		r    *http.Request
	}{{"loaded session", slow, slowReq}, {"IsNew set by the handler", flipped, flippedReq}, {"copy of the session", &copied, slowReq}} {
		x.sess.Values["visits"] = 1
		x.sess.Options.MaxAge = 3600 // a later expiry than the deleted session had
		lateSave(t, s, x.r, x.sess, x.what)
		if got, _ := load(t, s, "sid", c); !got.IsNew {
			t.Fatalf("%s: saved after its logout and the tombstone's cleanup, the session came back", x.what)
		}
	}

	// A new session is saved even if a handler clears IsNew, and again
	// (now by update) in the same request.
	fresh, r := load(t, s, "sid")
	fresh.IsNew = false
	fresh.Values["n"] = 1
	c = save(t, s, r, fresh)
	fresh.Values["n"] = 2
	save(t, s, r, fresh)
	if got, _ := load(t, s, "sid", c); got.IsNew || got.Values["n"] != 2 {
		t.Fatalf("new session with IsNew cleared: IsNew %v, n = %v; want saved with n = 2", got.IsNew, got.Values["n"])
	}
}

func TestPGStoreLoadedSaveNeverInserts(t *testing.T) {
	clock := newClock()
	s := newTestPGStore(t, testPool(t), PGConfig{Config: Config{Now: clock.Now}})
	testLoadedSaveNeverInserts(t, s, clock, s.DeleteExpired)
	if n := len(rows(t, s)); n != 1 {
		t.Errorf("%d rows, want 1 (the new session)", n)
	}
}

// TestAdapterLoadedSaveNeverInserts: the adapter over a store with
// UpdateCtx (the PGStore table) behaves as PGStore.
func TestAdapterLoadedSaveNeverInserts(t *testing.T) {
	clock := newClock()
	pool := testPool(t)
	ps := newTestPGStore(t, pool, PGConfig{Config: Config{Now: clock.Now}})
	s, err := NewWithConfig(ps.b, Config{KeyPairs: [][]byte{key1}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	testLoadedSaveNeverInserts(t, s, clock, ps.DeleteExpired)
}

// commitOnly hides the UpdateCtx of a backend: the adapter over it relies
// on the backend's tombstones.
type commitOnly struct{ CtxStore }

// TestPGStoreReplicaAheadCleanup: two replicas on one table, the second's
// clock 10 minutes ahead. A slow request on the first loads the session, the
// user signs out, the session's old expiry passes, the replica ahead runs
// cleanup, and the slow request saves with a later expiry. Through PGStore
// (update only) and through the adapter over the table without UpdateCtx
// (the tombstone alone), the session stays signed out.
func TestPGStoreReplicaAheadCleanup(t *testing.T) {
	pool := testPool(t)
	table := tableName()
	onTime := newClock()
	ahead := storetest.NewClock(onTime.Now().Add(10 * time.Minute))
	opts := &sessions.Options{Path: "/", MaxAge: 2}
	a := newTestPGStore(t, pool, PGConfig{Config: Config{Now: onTime.Now, Options: opts}, Table: table})
	b := newTestPGStore(t, pool, PGConfig{Config: Config{Now: ahead.Now}, Table: table})
	adapter, err := NewWithConfig(commitOnly{a.b}, Config{KeyPairs: [][]byte{key1}, Now: onTime.Now, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []gorillaStore{a, adapter} {
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		slow, slowReq := load(t, s, "sid", c)
		signOut(t, s, c)
		// Almost the tombstone lifetime later, well past the old expiry.
		step := sessionstore.DefaultTombstoneLifetime - time.Second
		onTime.Advance(step)
		ahead.Advance(step)
		if _, err := b.DeleteExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
		slow.Values["visits"] = 1
		if err := s.Save(slowReq, httptest.NewRecorder(), slow); err != nil {
			t.Fatal(err)
		}
		if got, _ := load(t, s, "sid", c); !got.IsNew {
			t.Fatalf("%T: a cleanup by a replica 10 minutes ahead let a late save bring the session back", s)
		}
	}
}

// TestPGStoreTombstonePolicy: PGConfig.TombstoneLifetime and ClockSkew set
// the tombstone's expiry and when cleanup removes it; negative values are
// refused.
func TestPGStoreTombstonePolicy(t *testing.T) {
	pool := testPool(t)
	for _, cfg := range []PGConfig{{TombstoneLifetime: -time.Second}, {ClockSkew: -time.Second}} {
		cfg.KeyPairs, cfg.Table = [][]byte{key1}, tableName()
		if _, err := NewPGStoreWithConfig(pool, cfg); err == nil {
			t.Errorf("NewPGStoreWithConfig(TombstoneLifetime %v, ClockSkew %v) succeeded", cfg.TombstoneLifetime, cfg.ClockSkew)
		}
	}
	clock := newClock()
	const life, skew = 2 * time.Hour, time.Minute
	s := newTestPGStore(t, pool, PGConfig{Config: Config{Now: clock.Now}, TombstoneLifetime: life, ClockSkew: skew})
	ctx := context.Background()
	tok := token(newID())
	if err := s.b.CommitCtx(ctx, tok, []byte("x"), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	deleted := clock.Now()
	if err := s.b.DeleteCtx(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var expiry time.Time
	if err := pool.QueryRow(ctx, `SELECT expires_on FROM `+s.b.tombs+` WHERE key = $1`, tok).Scan(&expiry); err != nil {
		t.Fatal(err)
	}
	if !expiry.Equal(deleted.Add(life)) {
		t.Errorf("tombstone expires at %v, want the Delete time plus TombstoneLifetime, %v", expiry, deleted.Add(life))
	}
	tombs := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+s.b.tombs).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	clock.Set(deleted.Add(life + skew - time.Second))
	if _, err := s.DeleteExpired(ctx); err != nil || tombs() != 1 {
		t.Fatalf("cleanup within ClockSkew of the tombstone's expiry: %v, %d tombstones left, want 1", err, tombs())
	}
	clock.Set(deleted.Add(life + skew))
	if _, err := s.DeleteExpired(ctx); err != nil || tombs() != 0 {
		t.Fatalf("cleanup ClockSkew past the tombstone's expiry: %v, %d tombstones left, want 0", err, tombs())
	}
}
