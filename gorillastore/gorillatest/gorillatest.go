// Package gorillatest checks that a gorilla/sessions store of gorillastore
// keeps its promises on a given backend, the way storetest checks an SCS
// store: round trips with real cookies, fresh IDs on every miss, MaxAge -1,
// expiry, browser-session lifetime, key rotation, tampered cookies, oversize
// data, the request's context, logout winning over a late Save (also one
// that lands after the session's old expiry and a cleanup run), and
// concurrent use.
//
// To check the adapter over your store, one call does it:
//
//	func TestGorilla(t *testing.T) {
//		gorillatest.RunAdapter(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
//			return newTestStore(t, now) // fresh, empty store on clock now; cleanup via t.Cleanup
//		})
//	}
package gorillatest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/storetest"
)

// Store is what gorillastore.PGStore and gorillastore.Store have in common.
type Store interface {
	sessions.Store
	MaxAge(age int)
	MaxLength(l int)
}

// Maker returns a store configured by cfg over one backend shared by every
// store the Maker returns, so that stores with different keys see the same
// sessions. cfg.Now is set to the suite's clock.
type Maker func(t *testing.T, cfg gorillastore.Config) Store

// RunAdapter runs the suite on gorillastore.NewWithConfig over a store from
// newStore, which must return a fresh, empty store that reads the time from
// now.
func RunAdapter(t *testing.T, newStore func(t *testing.T, now func() time.Time) gorillastore.CtxStore) {
	t.Helper()
	Run(t, func(t *testing.T, now func() time.Time) Maker {
		backend := newStore(t, now)
		return func(t *testing.T, cfg gorillastore.Config) Store {
			s, err := gorillastore.NewWithConfig(backend, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := backend.(expiredDeleter); ok {
				return withCleanup{s, d}
			}
			return s
		}
	})
}

// expiredDeleter is a store with a cleanup the suite can run: PGStore, and
// backends such as memstore, pgstore, gormstore and bunstore.
type expiredDeleter interface {
	DeleteExpired(ctx context.Context) (int64, error)
}

// withCleanup is the adapter with the cleanup of its backend.
type withCleanup struct {
	*gorillastore.Store
	expiredDeleter
}

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
)

// validID reports whether id looks like a gorillastore session ID: 256 bits
// in unpadded base64url.
func validID(id string) bool {
	if len(id) != 43 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newClock is a manual clock starting now, to the microsecond.
func newClock() *storetest.Clock { return storetest.NewClock(time.Now().Truncate(time.Microsecond)) }

// request returns a GET request carrying cookies, as a browser sends them.
func request(cookies ...*http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// responseCookie returns the cookie name that w set, or nil.
func responseCookie(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// load runs New on a request with the given cookies.
func load(t *testing.T, s Store, name string, cookies ...*http.Cookie) (*sessions.Session, *http.Request) {
	t.Helper()
	r := request(cookies...)
	sess, err := s.New(r, name)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return sess, r
}

// save saves sess and returns the cookie the response sets.
func save(t *testing.T, s Store, r *http.Request, sess *sessions.Session) *http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.Save(r, w, sess); err != nil {
		t.Fatalf("Save: %v", err)
	}
	c := responseCookie(w, sess.Name())
	if c == nil {
		t.Fatal("Save set no cookie")
	}
	return c
}
