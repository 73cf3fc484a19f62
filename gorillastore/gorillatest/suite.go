package gorillatest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/storetest"
)

// Run runs the suite. setup is called once per subtest and must return a
// Maker over a fresh, empty backend that reads the time from now; release
// what it allocates with t.Cleanup.
func Run(t *testing.T, setup func(t *testing.T, now func() time.Time) Maker) {
	var env envFunc = func(t *testing.T) (Maker, Store, *storetest.Clock) {
		c := newClock()
		setupMk := setup(t, c.Now)
		mk := func(t *testing.T, cfg gorillastore.Config) Store {
			cfg.Now = c.Now
			return setupMk(t, cfg)
		}
		return mk, mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}}), c
	}

	t.Run("RoundTrip", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		if !sess.IsNew || !validID(sess.ID) {
			t.Fatalf("first Get: IsNew=%v ID=%q, want a new session with a valid ID", sess.IsNew, sess.ID)
		}
		now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
		want := map[any]any{"user": "alice", "n": 42, "big": int64(1) << 40, "ok": true, "f": 1.5,
			"b": []byte{1, 2}, "t": now, 7: uint64(9)}
		for k, v := range want {
			sess.Values[k] = v
		}
		c := save(t, s, r, sess)
		if strings.Contains(c.Value, sess.ID) {
			t.Error("the cookie carries the session ID in clear text")
		}
		got, _ := load(t, s, "sid", c)
		if got.IsNew || got.ID != sess.ID {
			t.Fatalf("second Get: IsNew=%v ID=%q, want the saved session %q", got.IsNew, got.ID, sess.ID)
		}
		if len(got.Values) != len(want) {
			t.Fatalf("values = %v, want %v", got.Values, want)
		}
		for k, v := range want {
			if b, ok := v.([]byte); ok {
				if gb, _ := got.Values[k].([]byte); string(gb) != string(b) {
					t.Errorf("values[%v] = %#v, want %#v", k, got.Values[k], v)
				}
			} else if tv, ok := v.(time.Time); ok {
				if gt, _ := got.Values[k].(time.Time); !gt.Equal(tv) {
					t.Errorf("values[%v] = %#v, want %#v", k, got.Values[k], v)
				}
			} else if got.Values[k] != v {
				t.Errorf("values[%v] = %#v (%T), want %#v (%T)", k, got.Values[k], got.Values[k], v, v)
			}
		}
	})

	t.Run("GobValuesAndFlashes", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		sess.AddFlash("saved!")
		sess.Values["list"] = []any{"a", 1}
		c := save(t, s, r, sess)
		got, _ := load(t, s, "sid", c)
		if f := got.Flashes(); len(f) != 1 || f[0] != "saved!" {
			t.Errorf("flashes = %v, want [saved!]", f)
		}
	})

	t.Run("RegistryAndCookieOptions", func(t *testing.T) {
		_, s, _ := env(t)
		r := request()
		a, err := s.Get(r, "sid")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Get(r, "sid")
		if a != b {
			t.Error("Get twice in one request returned two sessions")
		}
		a.Options.HttpOnly = true
		a.Options.Path = "/app"
		w := httptest.NewRecorder()
		if err := sessions.Save(r, w); err != nil {
			t.Fatal(err)
		}
		c := responseCookie(w, "sid")
		if c == nil || !c.HttpOnly || c.Path != "/app" || c.MaxAge != gorillastore.DefaultMaxAge {
			t.Fatalf("cookie = %+v, want HttpOnly, Path /app, MaxAge %d", c, gorillastore.DefaultMaxAge)
		}
		if n, _ := load(t, s, "other"); !n.IsNew {
			t.Error("a session of another name was loaded from this cookie")
		}
	})

	t.Run("MaxAgeNegativeDeletes", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		sess, r = load(t, s, "sid", c)
		sess.Options.MaxAge = -1
		w := httptest.NewRecorder()
		if err := s.Save(r, w, sess); err != nil {
			t.Fatal(err)
		}
		if dc := responseCookie(w, "sid"); dc == nil || dc.MaxAge >= 0 || dc.Value != "" {
			t.Fatalf("deleting cookie = %+v, want an empty cookie with Max-Age < 0", dc)
		}
		got, _ := load(t, s, "sid", c) // the client kept the old cookie
		if !got.IsNew || got.ID == sess.ID || len(got.Values) != 0 {
			t.Fatalf("after delete: IsNew=%v ID=%q values=%v, want a fresh session", got.IsNew, got.ID, got.Values)
		}
	})

	t.Run("SaveAfterDeleteDoesNotResurrect", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		slow, slowReq := load(t, s, "sid", c)     // a slow request in flight
		logout, logoutReq := load(t, s, "sid", c) // the logout
		logout.Options.MaxAge = -1
		if err := s.Save(logoutReq, httptest.NewRecorder(), logout); err != nil {
			t.Fatal(err)
		}
		slow.Values["cart"] = "full"
		if err := s.Save(slowReq, httptest.NewRecorder(), slow); err != nil {
			t.Fatalf("Save of a deleted session: %v, want nil", err)
		}
		if got, _ := load(t, s, "sid", c); !got.IsNew || got.ID == sess.ID {
			t.Fatalf("deleted session came back: IsNew=%v values=%v", got.IsNew, got.Values)
		}
	})

	t.Run("SaveAfterDeleteAndOldExpiry", func(t *testing.T) {
		// gorilla's MaxAge slides: a slow request that loaded the session
		// before the logout saves it after the session's old expiry and
		// after a cleanup run, with a new, later expiry.
		_, s, clk := env(t)
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		sess.Options.MaxAge = 2
		c := save(t, s, r, sess)
		slow, slowReq := load(t, s, "sid", c)
		logout, logoutReq := load(t, s, "sid", c)
		logout.Options.MaxAge = -1
		if err := s.Save(logoutReq, httptest.NewRecorder(), logout); err != nil {
			t.Fatal(err)
		}
		clk.Advance(3 * time.Second)
		if d, ok := s.(expiredDeleter); ok {
			if _, err := d.DeleteExpired(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		slow.Values["cart"] = "full"
		if err := s.Save(slowReq, httptest.NewRecorder(), slow); err != nil {
			t.Fatalf("Save of a deleted session: %v, want nil", err)
		}
		if got, _ := load(t, s, "sid", c); !got.IsNew {
			t.Fatalf("deleted session came back after its old expiry: values=%v", got.Values)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		_, s, clk := env(t)
		s.MaxAge(60)
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		if c.MaxAge != 60 {
			t.Errorf("cookie Max-Age = %d, want 60", c.MaxAge)
		}
		clk.Advance(59 * time.Second)
		if got, _ := load(t, s, "sid", c); got.IsNew {
			t.Fatal("session expired early")
		}
		clk.Advance(time.Second)
		got, _ := load(t, s, "sid", c)
		if !got.IsNew || got.ID == sess.ID || len(got.Values) != 0 {
			t.Fatalf("expired session served: IsNew=%v ID=%q values=%v", got.IsNew, got.ID, got.Values)
		}
	})

	t.Run("BrowserSessionLifetime", func(t *testing.T) {
		mk, _, clk := env(t)
		s := mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}, Options: &sessions.Options{Path: "/"}, BrowserSessionLifetime: time.Hour})
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		if c.MaxAge != 0 || !c.Expires.IsZero() {
			t.Errorf("cookie MaxAge=%d Expires=%v, want a browser-session cookie", c.MaxAge, c.Expires)
		}
		clk.Advance(59 * time.Minute)
		if got, _ := load(t, s, "sid", c); got.IsNew {
			t.Fatal("MaxAge 0 session expired at once")
		}
		clk.Advance(time.Minute)
		if got, _ := load(t, s, "sid", c); !got.IsNew {
			t.Fatal("MaxAge 0 session outlived BrowserSessionLifetime")
		}
	})

	t.Run("KeyRotation", func(t *testing.T) {
		mk, old, _ := env(t)
		sess, r := load(t, old, "sid")
		sess.Values["user"] = "alice"
		c1 := save(t, old, r, sess)
		rotated := mk(t, gorillastore.Config{KeyPairs: [][]byte{key2, nil, key1, nil}})
		got, r := load(t, rotated, "sid", c1)
		if got.IsNew || got.ID != sess.ID {
			t.Fatal("a cookie signed with the old key no longer decodes")
		}
		c2 := save(t, rotated, r, got)
		if n, _ := load(t, old, "sid", c2); !n.IsNew {
			t.Error("the new cookie was signed with the old key")
		}
		newOnly := mk(t, gorillastore.Config{KeyPairs: [][]byte{key2}})
		if n, _ := load(t, newOnly, "sid", c2); n.IsNew || n.Values["user"] != "alice" {
			t.Error("the new key does not decode the re-signed cookie")
		}
		if n, _ := load(t, newOnly, "sid", c1); !n.IsNew {
			t.Error("a retired key still decodes")
		}
	})

	t.Run("EncryptedCookie", func(t *testing.T) {
		mk, _, _ := env(t)
		blockKey := []byte("0123456789abcdef") // AES-128
		s := mk(t, gorillastore.Config{KeyPairs: [][]byte{key1, blockKey}})
		sess, r := load(t, s, "sid")
		sess.Values["user"] = "alice"
		c := save(t, s, r, sess)
		if got, _ := load(t, s, "sid", c); got.IsNew || got.ID != sess.ID || got.Values["user"] != "alice" {
			t.Fatal("round trip with an encrypted cookie failed")
		}
		signedOnly := mk(t, gorillastore.Config{KeyPairs: [][]byte{key1}})
		if got, _ := load(t, signedOnly, "sid", c); !got.IsNew {
			t.Error("an encrypted cookie decoded without its block key")
		}
	})

	t.Run("TamperedCookie", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		c := save(t, s, r, sess)
		b := []byte(c.Value)
		b[len(b)/2] ^= 1
		for _, v := range []string{string(b), "garbage", "", strings.Repeat("A", 8000), "a|b|c"} {
			got, err := s.New(request(&http.Cookie{Name: "sid", Value: v}), "sid")
			if err != nil || !got.IsNew || got.ID == sess.ID || !validID(got.ID) {
				t.Errorf("cookie %.20q: IsNew=%v ID=%q err=%v, want a fresh session", v, got.IsNew, got.ID, err)
			}
		}
	})

	t.Run("Oversize", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		sess.Values["v"] = "small"
		c := save(t, s, r, sess)
		sess, r = load(t, s, "sid", c)
		sess.Values["v"] = strings.Repeat("x", gorillastore.DefaultMaxLength)
		w := httptest.NewRecorder()
		err := s.Save(r, w, sess)
		var tl *sessionstore.TooLargeError
		if !errors.Is(err, sessionstore.ErrTooLarge) || !errors.As(err, &tl) || tl.Max != gorillastore.DefaultMaxLength {
			t.Fatalf("Save of oversize data: %v, want ErrTooLarge with Max %d", err, gorillastore.DefaultMaxLength)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Error("a failed Save set a cookie")
		}
		if got, _ := load(t, s, "sid", c); got.Values["v"] != "small" {
			t.Errorf("after a failed Save: values = %v, want the old ones", got.Values)
		}
		s.MaxLength(0) // no limit
		save(t, s, r, sess)
		if got, _ := load(t, s, "sid", c); got.Values["v"] != sess.Values["v"] {
			t.Error("MaxLength(0) did not lift the limit")
		}
	})

	t.Run("RequestContext", func(t *testing.T) {
		_, s, _ := env(t)
		sess, r := load(t, s, "sid")
		c := save(t, s, r, sess)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Save(r.WithContext(ctx), httptest.NewRecorder(), sess); !errors.Is(err, context.Canceled) {
			t.Errorf("Save with a cancelled request: %v, want context.Canceled", err)
		}
		got, err := s.New(request(c).WithContext(ctx), "sid")
		if !errors.Is(err, context.Canceled) || got == nil || got.ID == sess.ID || !got.IsNew {
			t.Errorf("New with a cancelled request: %v, want context.Canceled and a fresh session", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, env) })
}
