package gorillastore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/storetest"
)

// testDSN is the PostgreSQL the tests use.
var testDSN = testenv.PostgresDSN()

// testPool connects to the test database, or skips (fails in CI).
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, testDSN)
	if err == nil {
		err = pool.Ping(ctx)
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL at "+testDSN, "set "+testenv.PostgresEnv, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// tableName returns a unique table name for one test.
func tableName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "gs_test_" + hex.EncodeToString(b)
}

// newTestBackend returns a pgBackend on a fresh table, dropped with t.Cleanup.
func newTestBackend(t testing.TB, pool *pgxpool.Pool, now func() time.Time) *pgBackend {
	t.Helper()
	return newTestIndexedBackend(t, pool, now, nil)
}

// newTestIndexedBackend is newTestBackend with the per-user index on, if
// owner is not nil.
func newTestIndexedBackend(t testing.TB, pool *pgxpool.Pool, now func() time.Time, owner sessionstore.OwnerFunc) *pgBackend {
	t.Helper()
	cfg := PGConfig{Config: Config{Now: now}, Table: tableName(), Owner: owner}
	if err := cfg.resolve(); err != nil {
		t.Fatal(err)
	}
	b, err := cfg.open(pool, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.dropSchema(context.Background()); err != nil {
			t.Errorf("drop tables: %v", err)
		}
	})
	return b
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

// gorillaStore is what PGStore and Store have in common.
type gorillaStore interface {
	sessions.Store
	MaxAge(age int)
	MaxLength(l int)
}

var key1 = []byte("0123456789abcdef0123456789abcdef")

// load runs Get on a request with the given cookies.
func load(t *testing.T, s gorillaStore, name string, cookies ...*http.Cookie) (*sessions.Session, *http.Request) {
	t.Helper()
	r := request(cookies...)
	sess, err := s.New(r, name)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return sess, r
}

// save saves sess and returns the cookie the response sets.
func save(t *testing.T, s gorillaStore, r *http.Request, sess *sessions.Session) *http.Cookie {
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

// sessionsSave saves every session of the request's registry.
func sessionsSave(r *http.Request, w http.ResponseWriter) error { return sessions.Save(r, w) }

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
