package gorillastore

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
)

// TestSaveExpiryOutOfRange: a MaxAge that overflows time.Duration, or a
// lifetime and clock whose expiry falls outside [MinExpiry, MaxExpiry], is
// an error matching ErrExpiryOutOfRange from Save, which writes nothing and
// sets no cookie; an existing session is left as it was.
func TestSaveExpiryOutOfRange(t *testing.T) {
	pool := testPool(t)
	year := func(y int) func() time.Time {
		return func() time.Time { return time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC) }
	}
	cases := []struct {
		name     string
		now      func() time.Time
		maxAge   int
		lifetime time.Duration // BrowserSessionLifetime
	}{
		{"MaxAge2Pow34", nil, 1 << 34, 0},
		{"MaxAgeMaxInt", nil, int(^uint(0) >> 1), 0},
		{"MaxAgePast9999", year(9999), 365 * 86400, 0},
		{"ClockYear999", year(999), 3600, 0},
		{"BrowserSessionPast9999", year(9999), 0, 365 * 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Now: c.now, BrowserSessionLifetime: c.lifetime}
			pg := newTestPGStore(t, pool, PGConfig{Config: cfg})
			mem, err := NewWithConfig(newMemstore(t, memstore.Config{CleanupInterval: -1, Now: c.now}),
				Config{KeyPairs: [][]byte{key1}, Now: c.now, BrowserSessionLifetime: c.lifetime})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []gorillaStore{pg, mem} {
				// A new session.
				sess, r := load(t, s, "sid")
				sess.Values["user"] = "alice"
				sess.Options.MaxAge = c.maxAge
				w := httptest.NewRecorder()
				if err := s.Save(r, w, sess); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
					t.Fatalf("%T: Save = %v, want an error matching ErrExpiryOutOfRange", s, err)
				}
				if responseCookie(w, "sid") != nil {
					t.Errorf("%T: a failed Save set a cookie", s)
				}
				if pg, ok := s.(*PGStore); ok {
					if n := len(rows(t, pg)); n != 0 {
						t.Errorf("a failed Save wrote %d rows", n)
					}
				}
				// The store-wide MaxAge: no panic, the same error.
				if c.maxAge > 0 {
					s.MaxAge(c.maxAge)
					sess, r = load(t, s, "sid")
					if err := s.Save(r, httptest.NewRecorder(), sess); !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
						t.Fatalf("%T: after MaxAge(%d), Save = %v, want ErrExpiryOutOfRange", s, c.maxAge, err)
					}
					s.MaxAge(DefaultMaxAge)
				}
			}
		})
	}
}

// TestNewWithOverflowingMaxAge: Options whose MaxAge no time.Duration holds
// are refused at construction.
func TestNewWithOverflowingMaxAge(t *testing.T) {
	opts := &sessions.Options{Path: "/", MaxAge: 1 << 34}
	_, err := NewWithConfig(newMemstore(t, memstore.Config{CleanupInterval: -1}), Config{KeyPairs: [][]byte{key1}, Options: opts})
	if !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
		t.Errorf("NewWithConfig with MaxAge 2^34: %v, want ErrExpiryOutOfRange", err)
	}
	_, err = NewPGStoreWithConfig(testPool(t), PGConfig{Config: Config{KeyPairs: [][]byte{key1}, Options: opts}, Table: tableName()})
	if !errors.Is(err, sessionstore.ErrExpiryOutOfRange) {
		t.Errorf("NewPGStoreWithConfig with MaxAge 2^34: %v, want ErrExpiryOutOfRange", err)
	}
	// The largest MaxAge a Duration holds is accepted; its expiry is
	// checked on Save.
	ok := &sessions.Options{Path: "/", MaxAge: int(maxMaxAge)}
	if _, err := NewWithConfig(newMemstore(t, memstore.Config{CleanupInterval: -1}), Config{KeyPairs: [][]byte{key1}, Options: ok}); err != nil {
		t.Errorf("NewWithConfig with MaxAge %d: %v", maxMaxAge, err)
	}
}

// TestPGStoreTableLimit: PostgreSQL truncates identifiers at 63 bytes, so
// two long names would share a table (and the derived index name overflows
// first): a name over maxTableName bytes is an error that names the limit.
func TestPGStoreTableLimit(t *testing.T) {
	pool := testPool(t)
	base := tableName() // 20 bytes
	longest := base + strings.Repeat("x", maxTableName-len(base))
	for _, name := range []string{
		longest + "a",
		base + strings.Repeat("y", 63-len(base)) + "_one", // over 63 bytes itself
		base + strings.Repeat("y", 63-len(base)) + "_two",
		strings.Repeat("é", 19), // 38 bytes, 19 characters
	} {
		_, err := NewPGStoreWithConfig(pool, PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: name})
		if err == nil || !strings.Contains(err.Error(), "37 bytes") {
			t.Errorf("Table of %d bytes: %v, want an error naming the 37-byte limit", len(name), err)
		}
	}
	s := newTestPGStore(t, pool, PGConfig{Table: longest})
	var n int
	err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_class WHERE relname = ANY($1)`,
		[]string{longest, longest + "_tombstones", longest + "_expires_on_idx", longest + "_tombstones_expires_on_idx"}).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("a %d-byte Table made %d of its 4 relations under their full names", len(longest), n)
	}
	sess, r := load(t, s, "sid")
	save(t, s, r, sess)
}
