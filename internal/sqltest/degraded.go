package sqltest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// restrictedUser runs create as admin and returns the database as a new
// user that may only SELECT, INSERT, UPDATE and DELETE on the tables in
// granted (no CREATE, no ALTER), and the statement that grants it the same
// on another table. The user, table and its tombstone table are dropped
// when the test ends.
func restrictedUser(t *testing.T, d Dialect, admin DB, table, prefix string, create []string, granted ...string) (db DB, grant func(table string) string) {
	t.Helper()
	user := freshTable(prefix)
	drop := []string{"DROP TABLE IF EXISTS " + table, "DROP TABLE IF EXISTS " + table + "_tombstones"}
	var setup, teardown []string
	switch d.Dialect {
	case sqlstore.Postgres:
		setup = []string{"CREATE ROLE " + user + " LOGIN"}
		teardown = append(drop, "DROP OWNED BY "+user, "DROP ROLE "+user)
	case sqlstore.MySQL:
		user += "@'%'"
		setup = []string{"CREATE USER " + user}
		teardown = append(drop, "DROP USER "+user)
	default:
		t.Fatalf("no users on %v", d.Dialect)
	}
	grant = func(table string) string { return "GRANT SELECT, INSERT, UPDATE, DELETE ON " + table + " TO " + user }
	for _, tbl := range granted {
		setup = append(setup, grant(tbl))
	}
	t.Cleanup(func() {
		for _, q := range teardown {
			if err := admin.Exec(q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	for _, q := range slices.Concat(create, setup) {
		if err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	name, _, _ := strings.Cut(user, "@")
	return d.OpenAs(t, name), grant
}

// noCreatePrivilege is issue 12's third attack: a replica connected as a
// user with only SELECT, INSERT, UPDATE and DELETE on the sessions table
// cannot create the tombstone table. NewWithConfig must refuse; with
// AllowNoTombstones (what New does) the store runs, logs at ERROR on every
// cleanup run, and once an administrator creates the table it uses it:
// after the next cleanup run, or on the request path within a minute.
// From then on a logout, made on it or on a healthy replica, stays final.
func noCreatePrivilege(t *testing.T, d Dialect, admin DB) {
	if d.OpenAs == nil {
		t.Skip("the database has no users")
	}
	table := freshTable("np")
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		t.Fatal(err)
	}
	db, grant := restrictedUser(t, d, admin, table, "sqla", st.CreateSessions, table)

	s, err := db.TryStore(t, Options{Table: table})
	if !errors.Is(err, sessionstore.ErrNoTombstones) {
		if s != nil {
			s.StopCleanup()
		}
		t.Fatalf("NewWithConfig without CREATE privilege: %v, want an error matching sessionstore.ErrNoTombstones", err)
	}
	// The server's refusal stays in the chain, code and all.
	var coded interface{ SQLState() string }
	if d.Dialect == sqlstore.Postgres && (!errors.As(err, &coded) || coded.SQLState() != "42501") {
		t.Errorf("NewWithConfig without CREATE privilege: %v, want the server's insufficient_privilege (42501) in its chain", err)
	}
	logs := &errorCounter{}
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	o := Options{Table: table, AllowNoTombstones: true, Logger: slog.New(logs), Now: clock.Now}
	byCleanup, err := db.TryStore(t, o)
	if err != nil {
		t.Fatal(err)
	}
	byRequest, err := db.TryStore(t, o)
	if err != nil {
		t.Fatal(err)
	}
	before := logs.count()
	for range 2 {
		if _, err := byCleanup.DeleteExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.count() - before; n != 2 {
		t.Errorf("%d ERROR records from 2 cleanup runs while degraded, want 2", n)
	}

	// The administrator creates the tombstone table behind the stores' back.
	for _, q := range append(append([]string{}, st.CreateTombstones...), grant(table+"_tombstones")) {
		if err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	healthy, err := admin.TryStore(t, Options{Table: table, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := byCleanup.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(sqlstore.RecheckInterval)
	before = logs.count()
	for name, s := range map[string]SQLStore{"after a cleanup run": byCleanup, "on the request path": byRequest} {
		// A plain logout on the recovered replica, then a late Commit.
		tok := "own-" + name
		commit(t, s, tok, clock.Now().Add(time.Minute))
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		commit(t, s, tok, clock.Now().Add(time.Hour))
		// A logout on a healthy replica, then a late Commit here.
		tok = "healthy-" + name
		commit(t, s, tok, clock.Now().Add(time.Minute))
		if err := healthy.Delete(tok); err != nil {
			t.Fatal(err)
		}
		commit(t, s, tok, clock.Now().Add(time.Hour))
		for _, tok := range []string{"own-" + name, "healthy-" + name} {
			for _, r := range []SQLStore{s, healthy} {
				if _, ok, err := r.Find(tok); err != nil || ok {
					t.Errorf("degraded store recovered %s: Find(%q) after Delete and a late Commit = %v, %v; want not found",
						name, tok, ok, err)
				}
			}
		}
	}
	if _, err := byCleanup.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := logs.count() - before; n != 0 {
		t.Errorf("%d ERROR records once the table exists, want 0", n)
	}
}

func commit(t *testing.T, s SQLStore, tok string, expiry time.Time) {
	t.Helper()
	if err := s.Commit(tok, []byte("signed-in"), expiry); err != nil {
		t.Fatalf("Commit(%q): %v", tok, err)
	}
}

// errorCounter is a slog.Handler that counts ERROR records.
type errorCounter struct {
	mu sync.Mutex
	n  int
}

func (h *errorCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h *errorCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}

func (h *errorCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorCounter) WithGroup(string) slog.Handler      { return h }

func (h *errorCounter) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}
