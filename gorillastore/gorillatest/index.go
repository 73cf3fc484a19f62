package gorillatest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/storetest"
)

// OwnerKey is the key of session.Values under which the Index subtests keep
// a session's owner, as a string. The store under test must read owners
// with gorillastore.OwnerKey(OwnerKey).
const OwnerKey = "user_id"

// IndexedStore is a gorillastore store with its per-user index on: PGStore
// with PGConfig.Owner set, or the adapter over a store whose index is on.
type IndexedStore interface {
	Store
	sessionstore.UserIndex
	SessionID(session *sessions.Session) string
}

// RunIndex runs the Index subtests: a user's sessions listed, counted and
// revoked through the gorilla API. setup is as for Run; the stores its
// Maker returns must be IndexedStores that read owners with
// gorillastore.OwnerKey(OwnerKey).
func RunIndex(t *testing.T, setup func(t *testing.T, now func() time.Time) Maker) {
	t.Helper()
	env := func(t *testing.T) (Maker, IndexedStore, *storetest.Clock) {
		t.Helper()
		c := newClock()
		setupMk := setup(t, c.Now)
		mk := func(t *testing.T, cfg gorillastore.Config) Store {
			cfg.Now = c.Now
			return setupMk(t, cfg)
		}
		s, ok := mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}}).(IndexedStore)
		if !ok {
			t.Fatalf("%T does not implement gorillatest.IndexedStore", s)
		}
		return mk, s, c
	}
	t.Run("Index", func(t *testing.T) { testIndex(t, env) })
}

// RunAdapterIndex runs the Index subtests on gorillastore.NewWithConfig
// over a store from newStore, which must return a fresh, empty store that
// reads the time from now, with its per-user index on and owners read by
// gorillastore.OwnerKey(OwnerKey).
func RunAdapterIndex(t *testing.T, newStore func(t *testing.T, now func() time.Time) gorillastore.CtxStore) {
	t.Helper()
	RunIndex(t, func(t *testing.T, now func() time.Time) Maker {
		backend := newStore(t, now)
		return func(t *testing.T, cfg gorillastore.Config) Store {
			s, err := gorillastore.NewWithConfig(backend, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// ienv is one Index subtest.
type ienv struct {
	t     *testing.T
	mk    Maker
	s     IndexedStore
	clock *storetest.Clock
	ctx   context.Context
}

// signIn saves a new session of user (none if "") and returns it with the
// response that set its cookie.
func (e *ienv) signIn(user string) (*sessions.Session, *httptest.ResponseRecorder) {
	e.t.Helper()
	sess, r := load(e.t, e.s, "sid")
	sess.Values["theme"] = "dark"
	if user != "" {
		sess.Values[OwnerKey] = user
	}
	w := httptest.NewRecorder()
	if err := e.s.Save(r, w, sess); err != nil {
		e.t.Fatalf("Save: %v", err)
	}
	if responseCookie(w, "sid") == nil {
		e.t.Fatal("Save set no cookie")
	}
	return sess, w
}

// device is a signed-in session and its cookie.
type device struct {
	sess *sessions.Session
	w    *httptest.ResponseRecorder
}

func (d device) cookie() *http.Cookie { return responseCookie(d.w, "sid") }

func (e *ienv) device(user string) device {
	e.t.Helper()
	sess, w := e.signIn(user)
	return device{sess, w}
}

// listed asserts that user's sessions are exactly those of devs, by the
// IDs SessionID gives, and that CountUserSessions agrees.
func (e *ienv) listed(user string, devs ...*sessions.Session) []sessionstore.UserSession {
	e.t.Helper()
	got, err := e.s.UserSessions(e.ctx, user)
	if err != nil {
		e.t.Fatalf("UserSessions(%q): %v", user, err)
	}
	ids := make([]string, len(got))
	for i, us := range got {
		ids[i] = us.ID
	}
	want := make([]string, len(devs))
	for i, d := range devs {
		want[i] = e.s.SessionID(d)
		if want[i] == d.ID || want[i] == gorillastore.StoreToken(d.ID) {
			e.t.Fatalf("SessionID gives the session ID or its store token: %q", want[i])
		}
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		e.t.Fatalf("UserSessions(%q) lists %v, want %v", user, ids, want)
	}
	n, err := e.s.CountUserSessions(e.ctx, user)
	if err != nil || n != len(want) {
		e.t.Fatalf("CountUserSessions(%q) = %d, %v; want %d", user, n, err, len(want))
	}
	return got
}

// gone asserts that the cookie of d loads no session.
func (e *ienv) gone(d device) {
	e.t.Helper()
	if got, _ := load(e.t, e.s, "sid", d.cookie()); !got.IsNew || got.ID == d.sess.ID {
		e.t.Fatalf("a revoked session still loads: values %v", got.Values)
	}
}

// live asserts that the cookie of d loads its session, and returns it.
func (e *ienv) live(d device) *sessions.Session {
	e.t.Helper()
	got, _ := load(e.t, e.s, "sid", d.cookie())
	if got.IsNew || got.ID != d.sess.ID {
		e.t.Fatal("a session that should live no longer loads")
	}
	return got
}

// lateSave saves sess, loaded before it was revoked: a nil error, and
// nothing written (the caller checks that it stays gone and unlisted).
func (e *ienv) lateSave(sess *sessions.Session) {
	e.t.Helper()
	if err := e.s.Save(request(), httptest.NewRecorder(), sess); err != nil {
		e.t.Fatalf("late Save of a revoked session: %v, want nil", err)
	}
}

func testIndex(t *testing.T, env func(t *testing.T) (Maker, IndexedStore, *storetest.Clock)) {
	newEnv := func(t *testing.T) *ienv {
		mk, s, c := env(t)
		return &ienv{t: t, mk: mk, s: s, clock: c, ctx: context.Background()}
	}

	t.Run("List", func(t *testing.T) {
		e := newEnv(t)
		a1, a2 := e.device("alice"), e.device("alice")
		b1 := e.device("bob")
		e.device("") // anonymous: not indexed
		got := e.listed("alice", a1.sess, a2.sess)
		e.listed("bob", b1.sess)
		e.listed("carol")
		e.listed("")
		for _, us := range got {
			if want := e.clock.Now().Add(gorillastore.DefaultMaxAge * time.Second); !us.Expiry.Equal(want) {
				t.Errorf("Expiry = %v, want %v", us.Expiry, want)
			}
			if !us.Created.Equal(e.clock.Now()) || !us.LastSeen.Equal(e.clock.Now()) {
				t.Errorf("Created, LastSeen = %v, %v; want %v", us.Created, us.LastSeen, e.clock.Now())
			}
		}
	})

	t.Run("MostRecentFirst", func(t *testing.T) {
		e := newEnv(t)
		a1 := e.device("alice")
		e.clock.Advance(time.Minute)
		a2 := e.device("alice")
		e.clock.Advance(time.Minute)
		sess := e.live(a1) // a1 seen again, last
		sess.Values["n"] = 1
		save(t, e.s, request(a1.cookie()), sess)
		got := e.listed("alice", a1.sess, a2.sess)
		if got[0].ID != e.s.SessionID(a1.sess) || !got[0].LastSeen.Equal(e.clock.Now()) ||
			!got[0].Created.Equal(e.clock.Now().Add(-2*time.Minute)) {
			t.Fatalf("UserSessions = %+v, want a1 (created 2 min ago, seen now) first", got)
		}
	})

	t.Run("SignInWithNewID", func(t *testing.T) {
		// Sign-in replaces the anonymous session by one under a new ID:
		// either by deleting it and starting a new one, or by clearing
		// session.ID, which makes Save pick a new one.
		e := newEnv(t)
		anon := e.device("")
		old := e.live(anon)
		old.Options.MaxAge = -1
		if err := e.s.Save(request(anon.cookie()), httptest.NewRecorder(), old); err != nil {
			t.Fatal(err)
		}
		in := e.device("alice")
		e.listed("alice", in.sess)

		anon2 := e.device("")
		sess := e.live(anon2)
		sess.ID = ""
		sess.Values[OwnerKey] = "alice"
		save(t, e.s, request(anon2.cookie()), sess)
		if sess.ID == anon2.sess.ID {
			t.Fatal("Save kept the old ID")
		}
		e.listed("alice", in.sess, sess)
	})

	t.Run("SignOutByRemovingTheValue", func(t *testing.T) {
		e := newEnv(t)
		d := e.device("alice")
		sess := e.live(d)
		delete(sess.Values, OwnerKey)
		save(t, e.s, request(d.cookie()), sess)
		e.listed("alice")
		if got := e.live(d); got.Values["theme"] != "dark" {
			t.Errorf("signed-out session lost its other values: %v", got.Values)
		}
	})

	t.Run("SwitchUser", func(t *testing.T) {
		e := newEnv(t)
		d := e.device("alice")
		sess := e.live(d)
		sess.Values[OwnerKey] = "bob"
		e.clock.Advance(time.Minute)
		save(t, e.s, request(d.cookie()), sess)
		e.listed("alice")
		got := e.listed("bob", d.sess)
		if !got[0].Created.Equal(e.clock.Now()) {
			t.Errorf("Created = %v after the switch to bob at %v", got[0].Created, e.clock.Now())
		}
	})

	t.Run("MaxAgeNegativeDeletes", func(t *testing.T) {
		e := newEnv(t)
		d, other := e.device("alice"), e.device("alice")
		sess := e.live(d)
		sess.Options.MaxAge = -1
		if err := e.s.Save(request(d.cookie()), httptest.NewRecorder(), sess); err != nil {
			t.Fatal(err)
		}
		e.listed("alice", other.sess)
	})

	t.Run("Expiry", func(t *testing.T) {
		e := newEnv(t)
		e.s.MaxAge(60)
		short := e.device("alice")
		e.s.MaxAge(3600)
		long := e.device("alice")
		e.clock.Advance(60 * time.Second)
		e.listed("alice", long.sess)
		_ = short
	})

	t.Run("DeleteOne", func(t *testing.T) {
		e := newEnv(t)
		a1, a2 := e.device("alice"), e.device("alice")
		b1 := e.device("bob")
		slow := e.live(a1) // a request of a1 in flight
		if ok, err := e.s.DeleteUserSession(e.ctx, "bob", e.s.SessionID(a1.sess)); err != nil || ok {
			t.Fatalf("bob deleting alice's session = %v, %v; want false, nil", ok, err)
		}
		for _, id := range []string{a1.sess.ID, gorillastore.StoreToken(a1.sess.ID), "", "%"} {
			if ok, err := e.s.DeleteUserSession(e.ctx, "alice", id); err != nil || ok {
				t.Fatalf("DeleteUserSession(alice, %q) = %v, %v; want false, nil (not a UserSession.ID)", id, ok, err)
			}
		}
		if ok, err := e.s.DeleteUserSession(e.ctx, "alice", e.s.SessionID(a1.sess)); err != nil || !ok {
			t.Fatalf("DeleteUserSession(alice, a1) = %v, %v; want true, nil", ok, err)
		}
		e.lateSave(slow)
		e.gone(a1)
		e.listed("alice", a2.sess)
		e.listed("bob", b1.sess)
	})

	t.Run("RevokeOthersKeepsCurrent", func(t *testing.T) {
		e := newEnv(t)
		cur, d2, d3 := e.device("alice"), e.device("alice"), e.device("alice")
		b1 := e.device("bob")
		slow := e.live(d2)
		n, err := e.s.DeleteUserSessionsExcept(e.ctx, "alice", cur.sess.ID)
		if err != nil || n != 2 {
			t.Fatalf("DeleteUserSessionsExcept(alice, current) = %d, %v; want 2, nil", n, err)
		}
		e.lateSave(slow)
		e.live(cur)
		e.gone(d2)
		e.gone(d3)
		e.listed("alice", cur.sess)
		e.listed("bob", b1.sess)
		// UserSession.ID is not a gorilla session ID: keeping by it keeps
		// nothing, which is why the method takes session.ID.
		if n, err := e.s.DeleteUserSessionsExcept(e.ctx, "alice", cur.sess.ID); err != nil || n != 0 {
			t.Fatalf("second DeleteUserSessionsExcept = %d, %v; want 0, nil", n, err)
		}
		e.live(cur)
	})

	t.Run("RevokeAll", func(t *testing.T) {
		e := newEnv(t)
		var devs []device
		for range 3 {
			devs = append(devs, e.device("alice"))
		}
		slow := e.live(devs[0])
		ctx, cancel := context.WithCancel(e.ctx)
		cancel() // an abandoned request revokes all the same
		if n, err := e.s.DeleteUserSessions(ctx, "alice"); err != nil || n != 3 {
			t.Fatalf("DeleteUserSessions = %d, %v; want 3, nil", n, err)
		}
		e.lateSave(slow)
		for _, d := range devs {
			e.gone(d)
		}
		e.listed("alice")
	})

	t.Run("TombstonedNeverListed", func(t *testing.T) {
		// A handler that reuses a logged-out session's ID for a new session
		// (sessions.NewSession, or session.ID set by hand) does not bring it
		// back: the tombstone blocks the insert.
		e := newEnv(t)
		d := e.device("alice")
		sess := e.live(d)
		sess.Options.MaxAge = -1
		if err := e.s.Save(request(d.cookie()), httptest.NewRecorder(), sess); err != nil {
			t.Fatal(err)
		}
		fresh, r := load(t, e.s, "sid")
		fresh.ID = d.sess.ID
		fresh.Values[OwnerKey] = "alice"
		if err := e.s.Save(r, httptest.NewRecorder(), fresh); err != nil {
			t.Fatalf("Save over a tombstone: %v", err)
		}
		e.gone(d)
		e.listed("alice")
	})

	t.Run("BadOwner", func(t *testing.T) {
		e := newEnv(t)
		d := e.device("alice")
		for name, owner := range map[string]any{"int": 42, "bytes": []byte("alice"), "NUL": "al\x00ice"} {
			sess := e.live(d)
			sess.Values[OwnerKey] = owner
			sess.Values["theme"] = "light"
			w := httptest.NewRecorder()
			if err := e.s.Save(request(d.cookie()), w, sess); !errors.Is(err, sessionstore.ErrInvalidOwner) {
				t.Errorf("Save with an owner that is %s: %v, want an error matching ErrInvalidOwner", name, err)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Errorf("a Save with an owner that is %s set a cookie", name)
			}
			if got := e.live(d); got.Values["theme"] != "dark" || got.Values[OwnerKey] != "alice" {
				t.Errorf("a failed Save wrote: %v", got.Values)
			}
			fresh, r := load(t, e.s, "sid")
			fresh.Values[OwnerKey] = owner
			if err := e.s.Save(r, httptest.NewRecorder(), fresh); !errors.Is(err, sessionstore.ErrInvalidOwner) {
				t.Errorf("Save of a new session with an owner that is %s: %v, want ErrInvalidOwner", name, err)
			}
		}
		e.listed("alice", d.sess)
	})

	t.Run("RecordClient", func(t *testing.T) {
		e := newEnv(t)
		const ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
		withClient := func(s IndexedStore, user string) *sessions.Session {
			r := request()
			r.Header.Set("User-Agent", ua)
			r.RemoteAddr = "[2001:db8::7]:51234"
			sess, err := s.New(r, "sid")
			if err != nil {
				t.Fatal(err)
			}
			sess.Values[OwnerKey] = user
			save(t, s, r, sess)
			return sess
		}
		// Off by default: nothing the application did not ask for.
		plain := withClient(e.s, "alice")
		if got := e.listed("alice", plain); got[0].UserAgent != "" || got[0].IP != "" {
			t.Errorf("without RecordClient: UserAgent, IP = %q, %q", got[0].UserAgent, got[0].IP)
		}
		rec, ok := e.mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}, RecordClient: true}).(IndexedStore)
		if !ok {
			t.Fatal("the Maker's store is not an IndexedStore")
		}
		sess := withClient(rec, "bob")
		got := e.listed("bob", sess)
		if got[0].UserAgent != ua || got[0].IP != "2001:db8::7" {
			t.Errorf("with RecordClient: UserAgent, IP = %q, %q; want %q, %q", got[0].UserAgent, got[0].IP, ua, "2001:db8::7")
		}
		// A client the application put in the context wins (the address a
		// reverse proxy reports).
		r := request()
		r.Header.Set("User-Agent", ua)
		r = r.WithContext(sessionstore.WithClient(r.Context(), sessionstore.Client{UserAgent: "app", IP: "198.51.100.9"}))
		carol, err := rec.New(r, "sid")
		if err != nil {
			t.Fatal(err)
		}
		carol.Values[OwnerKey] = "carol"
		save(t, rec, r, carol)
		if got := e.listed("carol", carol); got[0].UserAgent != "app" || got[0].IP != "198.51.100.9" {
			t.Errorf("the context's client was overridden: %+v", got[0])
		}
	})
}
