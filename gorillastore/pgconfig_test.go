package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestPGConfigNames: the deprecated TableName and DeleteTimeout still
// configure the store, as Table and (for deletes) Timeout; set together
// with the new name they must agree.
func TestPGConfigNames(t *testing.T) {
	pool := testPool(t)
	name := tableName()
	for _, tc := range []struct {
		what    string
		cfg     PGConfig
		table   string        // the table the store must use
		timeout time.Duration // the bound of its deletes
		err     string        // or the error the constructor must give
	}{
		{what: "defaults", table: DefaultTable, timeout: DefaultTimeout},
		{what: "Table", cfg: PGConfig{Table: name}, table: name, timeout: DefaultTimeout},
		{what: "TableName", cfg: PGConfig{TableName: name}, table: name, timeout: DefaultTimeout},
		{what: "both names, equal", cfg: PGConfig{Table: name, TableName: name}, table: name, timeout: DefaultTimeout},
		{what: "both names, different", cfg: PGConfig{Table: name, TableName: name + "_x"}, err: "TableName"},
		{what: "Timeout", cfg: PGConfig{Table: name, Timeout: time.Minute}, table: name, timeout: time.Minute},
		{what: "DeleteTimeout", cfg: PGConfig{Table: name, DeleteTimeout: time.Minute}, table: name, timeout: time.Minute},
		{what: "both timeouts, equal", cfg: PGConfig{Table: name, Timeout: time.Minute, DeleteTimeout: time.Minute}, table: name, timeout: time.Minute},
		{what: "both timeouts, different", cfg: PGConfig{Table: name, Timeout: time.Minute, DeleteTimeout: time.Second}, err: "DeleteTimeout"},
		{what: "negative Timeout", cfg: PGConfig{Table: name, Timeout: -time.Second}, err: "Timeout"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if tc.table == DefaultTable {
				// The default table is shared: check the configuration only.
				cfg := tc.cfg
				if err := cfg.resolve(); err != nil || cfg.Table != DefaultTable || cfg.bound() != DefaultTimeout {
					t.Fatalf("zero PGConfig: %v, table %q, want %q and deletes bounded by %v", err, cfg.Table, DefaultTable, DefaultTimeout)
				}
				return
			}
			tc.cfg.KeyPairs = [][]byte{key1}
			s, err := NewPGStoreWithConfig(pool, tc.cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("NewPGStoreWithConfig: %v, want an error naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.Close()
				_ = s.b.dropSchema(context.Background())
			})
			if s.b.core.Names.Display != tc.table {
				t.Errorf("the store uses table %q, want %q", s.b.core.Names.Display, tc.table)
			}
			if got := s.cfg.bound(); got != tc.timeout {
				t.Errorf("deletes are bounded by %v, want %v", got, tc.timeout)
			}
			c := save(t, s, request(), newSession(t, s))
			var n int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{tc.table}.Sanitize()).Scan(&n); err != nil || n != 1 {
				t.Errorf("table %s holds %d rows (%v), want the one saved", tc.table, n, err)
			}
			if got, _ := load(t, s, c.Name, c); got.IsNew {
				t.Error("the saved session did not load")
			}
		})
	}
}

// newSession returns a fresh session of s named "sid" with a value.
func newSession(t *testing.T, s gorillaStore) *sessions.Session {
	t.Helper()
	sess, _ := load(t, s, "sid")
	sess.Values["v"] = "x"
	return sess
}

// lockPool is a pool whose sessions give up waiting for a lock after two
// seconds (lock_timeout): a store on it whose operation is not bounded by
// its own timeout fails with lock_not_available instead of waiting for the
// test's lock forever.
func lockPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	testPool(t) // skips, or fails in CI, without PostgreSQL
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = "2s"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// holdLock runs lock (a row or table lock) in a transaction of pool that
// stays open until the test ends.
func holdLock(t *testing.T, pool *pgxpool.Pool, lock string, args ...any) {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), lock, args...); err != nil {
		_ = tx.Rollback(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
}

// lockWaitAbandoned reports whether err is PostgreSQL's lock_timeout.
func lockWaitAbandoned(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// TestPGStoreTimeout: with PGConfig.Timeout set, a load, a save, a delete
// and a cleanup run that wait on a lock another transaction holds are cut
// off by it, with an error matching context.DeadlineExceeded, where they
// would otherwise wait as long as the caller's context lets them (here,
// until the pool's lock_timeout gives up).
func TestPGStoreTimeout(t *testing.T) {
	admin := testPool(t)
	const timeout = 200 * time.Millisecond
	setup := func(t *testing.T) (*PGStore, *http.Cookie, *sessions.Session) {
		s := newTestPGStore(t, lockPool(t), PGConfig{Timeout: timeout})
		c := save(t, s, request(), newSession(t, s))
		sess, _ := load(t, s, "sid", c)
		return s, c, sess
	}
	want := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s waiting on a lock: %v, want context.DeadlineExceeded from PGConfig.Timeout", what, err)
		}
	}

	t.Run("Load", func(t *testing.T) {
		s, c, _ := setup(t)
		holdLock(t, admin, `LOCK TABLE `+s.b.table+` IN ACCESS EXCLUSIVE MODE`)
		_, err := s.New(request(c), "sid")
		want(t, "New", err)
	})
	t.Run("Save", func(t *testing.T) {
		s, _, sess := setup(t)
		holdLock(t, admin, `SELECT 1 FROM `+s.b.table+` WHERE key = $1 FOR UPDATE`, token(sess.ID))
		sess.Values["v"] = "y"
		want(t, "Save", s.Save(request(), httptest.NewRecorder(), sess))
	})
	t.Run("Delete", func(t *testing.T) {
		s, _, sess := setup(t)
		holdLock(t, admin, `SELECT 1 FROM `+s.b.table+` WHERE key = $1 FOR UPDATE`, token(sess.ID))
		sess.Options.MaxAge = -1
		want(t, "Save with MaxAge -1", s.Save(request(), httptest.NewRecorder(), sess))
	})
	t.Run("DeleteExpired", func(t *testing.T) {
		s, _, _ := setup(t)
		holdLock(t, admin, `LOCK TABLE `+s.b.table+` IN ACCESS EXCLUSIVE MODE`)
		_, err := s.DeleteExpired(context.Background())
		want(t, "DeleteExpired", err)
	})
}

// TestPGStoreDeprecatedDeleteTimeout: the deprecated DeleteTimeout bounds
// deletes as it did, and leaves saves to the caller's context.
func TestPGStoreDeprecatedDeleteTimeout(t *testing.T) {
	admin := testPool(t)
	s := newTestPGStore(t, lockPool(t), PGConfig{DeleteTimeout: 200 * time.Millisecond})
	c := save(t, s, request(), newSession(t, s))
	sess, _ := load(t, s, "sid", c)
	holdLock(t, admin, `SELECT 1 FROM `+s.b.table+` WHERE key = $1 FOR UPDATE`, token(sess.ID))

	sess.Values["v"] = "y"
	if err := s.Save(request(), httptest.NewRecorder(), sess); !lockWaitAbandoned(err) {
		t.Errorf("Save waiting on a lock: %v, want it to wait until lock_timeout (55P03), on the caller's context", err)
	}
	sess.Options.MaxAge = -1
	if err := s.Save(request(), httptest.NewRecorder(), sess); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Save with MaxAge -1 waiting on a lock: %v, want context.DeadlineExceeded from DeleteTimeout", err)
	}
}

// TestPGStoreCancelledDeleteCompletes: a logout (Save with MaxAge -1) whose
// request is already cancelled still deletes the session, with Timeout zero
// (bounded by DefaultTimeout) as with Timeout set.
func TestPGStoreCancelledDeleteCompletes(t *testing.T) {
	pool := testPool(t)
	for _, timeout := range []time.Duration{0, time.Minute} {
		s := newTestPGStore(t, pool, PGConfig{Timeout: timeout})
		c := save(t, s, request(), newSession(t, s))
		sess, r := load(t, s, "sid", c)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		sess.Options.MaxAge = -1
		if err := s.Save(r.WithContext(ctx), httptest.NewRecorder(), sess); err != nil {
			t.Errorf("Timeout %v: logout on a cancelled request: %v", timeout, err)
		}
		if n := len(rows(t, s)); n != 0 {
			t.Errorf("Timeout %v: %d rows after a logout on a cancelled request, want 0", timeout, n)
		}
	}
}

// TestPGStoreWholeTableName: PGConfig.Table is one identifier, whatever
// its characters, as it always was: a dash, a dot (part of the name, not
// a schema), "$$" (which ends a dollar-quoted string) and quotes and a
// backslash all name a table that works, with and without the index.
func TestPGStoreWholeTableName(t *testing.T) {
	pool := testPool(t)
	ctx := context.Background()
	suffix := strings.TrimPrefix(tableName(), "gs_test_")
	for _, table := range []string{"gs-" + suffix, "gs." + suffix, "gs$$" + suffix, `gs"'\` + suffix} {
		for _, owner := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/index=%v", table, owner), func(t *testing.T) {
				cfg := PGConfig{Config: Config{KeyPairs: [][]byte{key1}}, Table: table}
				if owner {
					cfg.Owner = testOwner
				}
				s, err := NewPGStoreWithConfig(pool, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					s.Close()
					if err := s.b.dropSchema(ctx); err != nil {
						t.Error(err)
					}
				})
				sess, r := load(t, s, "sid")
				sess.Values["user_id"] = "alice"
				c := save(t, s, r, sess)
				got, r := load(t, s, "sid", c)
				if got.IsNew || got.Values["user_id"] != "alice" {
					t.Fatal("the session does not round-trip")
				}
				save(t, s, r, got)
				if owner {
					if n, err := s.CountUserSessions(ctx, "alice"); err != nil || n != 1 {
						t.Fatalf("CountUserSessions = %d, %v; want 1", n, err)
					}
				}
				signOut(t, s, c)
				if got, _ := load(t, s, "sid", c); !got.IsNew {
					t.Fatal("a deleted session still loads")
				}
				if _, err := s.DeleteExpired(ctx); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table + "_tombstones"}.Sanitize()).Scan(&n); err != nil || n != 1 {
					t.Fatalf("%d tombstones (%v), want 1", n, err)
				}
			})
		}
	}
}
