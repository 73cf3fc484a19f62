package pgstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
)

// TestTombstoneConfig checks that a negative TombstoneLifetime or
// ClockSkew is refused, and that Delete writes a tombstone lasting until
// the later of the session's expiry and the Delete time plus the lifetime.
func TestTombstoneConfig(t *testing.T) {
	t.Parallel()
	pool := sharedPool(t)
	for _, cfg := range []Config{{TombstoneLifetime: -time.Second}, {ClockSkew: -time.Second}} {
		if _, err := NewWithConfig(pool, cfg); err == nil || !strings.HasPrefix(err.Error(), "pgstore: config: ") {
			t.Errorf("NewWithConfig(%+v) = %v, want a pgstore: config: error", cfg, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := newTestStore(t, Config{CleanupInterval: -1, TombstoneLifetime: 10 * time.Minute, Now: func() time.Time { return now }})
	for _, c := range []struct {
		expiry, want time.Time
	}{
		{now.Add(2 * time.Second), now.Add(10 * time.Minute)}, // IdleTimeout 2 s: the lifetime
		{now.Add(time.Hour), now.Add(time.Hour)},              // the session's own expiry
	} {
		tok := uniqueName("tomb-")
		if err := s.Commit(tok, []byte("x"), c.expiry); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := pool.QueryRow(context.Background(), "SELECT expiry FROM "+s.names.tombstones+" WHERE token = $1", tok).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(c.want) {
			t.Errorf("session expiring at +%v: tombstone expiry +%v, want +%v", c.expiry.Sub(now), got.Sub(now), c.want.Sub(now))
		}
	}
}

// TestCleanupByReplicaAhead runs two stores on one table, as two replicas:
// one on time, one whose clock runs 10 minutes ahead. The one ahead runs
// cleanup shortly before the tombstone expires by the other's clock (so
// after it expired by its own); the other then commits a request that
// loaded the session before the logout. The session must stay deleted, and
// the tombstone must still go once it has expired on every clock.
func TestCleanupByReplicaAhead(t *testing.T) {
	t.Parallel()
	var onTime atomic.Int64
	onTime.Store(time.Now().UnixNano())
	clock := func(ahead time.Duration) func() time.Time {
		return func() time.Time { return time.Unix(0, onTime.Load()).Add(ahead) }
	}
	b := newTestStore(t, Config{CleanupInterval: -1, Now: clock(0)})
	a, err := NewWithConfig(b.pool, Config{Table: b.names.display, CleanupInterval: -1, Now: clock(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) { onTime.Add(int64(d)) }

	tok := uniqueName("ahead-")
	if err := b.Commit(tok, []byte("signed-in"), clock(0)().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(tok); err != nil {
		t.Fatal(err)
	}
	advance(sessionstore.DefaultTombstoneLifetime - 5*time.Minute) // a's clock: 5 min past the tombstone's expiry
	if _, err := a.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(tok, []byte("signed-in"), clock(0)().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*PostgresStore{a, b} {
		if _, found, err := s.Find(tok); err != nil || found {
			t.Fatalf("Find after cleanup by the replica ahead and a late Commit = %v, %v; want not found", found, err)
		}
	}
	if n := count(t, b.pool, "SELECT count(*) FROM "+b.names.sessions+" WHERE token = $1", tok); n != 0 {
		t.Fatalf("the late Commit wrote the session back (%d rows)", n)
	}
	// Expired on every clock, and by ClockSkew on the one ahead: it goes.
	advance(5*time.Minute + sessionstore.DefaultClockSkew - 10*time.Minute + time.Second)
	if _, err := a.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, b.pool, "SELECT count(*) FROM "+b.names.tombstones+" WHERE token = $1", tok); n != 0 {
		t.Errorf("tombstone still there once expired by ClockSkew on the clock ahead")
	}
}

// limitedRole creates, in a fresh schema holding SCS's sessions table, a
// role that may use that table (SELECT, INSERT, UPDATE, DELETE) but not
// create anything, and returns the owner's pool and a pool connected as the
// role, both with the schema as search_path.
func limitedRole(t *testing.T) (owner, limited *pgxpool.Pool, role string) {
	t.Helper()
	admin := sharedPool(t)
	owner = newSchemaPool(t)
	ctx := context.Background()
	if _, err := owner.Exec(ctx, scsSchema); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := owner.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	role = uniqueName("pgstore_role_")
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + schema + ".sessions TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// Registered after newSchemaPool's cleanup, so it runs first.
		if _, err := admin.Exec(ctx, "DROP OWNED BY "+role); err != nil {
			t.Error(err)
		}
		if _, err := admin.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Error(err)
		}
	})
	cfg := owner.Config()
	cfg.ConnConfig.User = role
	limited, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limited.Close)
	return owner, limited, role
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// degradedErrors counts the ERROR lines saying a store runs without
// tombstones.
func degradedErrors(logs *syncBuffer) int {
	n := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "running without tombstones") {
			n++
		}
	}
	return n
}

// TestNoTombstonePrivilege runs the store as a role that may use the
// sessions table but may not create tables. NewWithConfig refuses;
// AllowNoTombstones and New run without tombstones but say so at ERROR,
// at construction and on every cleanup run; once the owner creates the
// tombstone table, the store uses it within a minute (the test moves the
// clock of the re-check), and logouts hold again, racing or not, whichever
// replica deleted the session.
//
// It is not parallel: it makes slog.Default, which New logs to, its own
// for the time of one call.
func TestNoTombstonePrivilege(t *testing.T) {
	owner, limited, role := limitedRole(t)
	ctx := context.Background()

	_, err := NewWithConfig(limited, Config{CleanupInterval: -1})
	if !errors.Is(err, sessionstore.ErrNoTombstones) {
		t.Fatalf("NewWithConfig as a role without CREATE = %v, want an error matching ErrNoTombstones", err)
	}
	if !strings.HasPrefix(err.Error(), "pgstore: ") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("error %q does not name the store and the cause", err)
	}

	var allowLogs syncBuffer
	allowed, err := NewWithConfig(limited, Config{CleanupInterval: -1, AllowNoTombstones: true,
		Logger: slog.New(slog.NewTextHandler(&allowLogs, nil))})
	if err != nil {
		t.Fatalf("NewWithConfig with AllowNoTombstones: %v", err)
	}
	if n := degradedErrors(&allowLogs); n != 1 {
		t.Errorf("AllowNoTombstones: %d ERROR lines at construction, want 1:\n%s", n, allowLogs.String())
	}

	var logs syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	s := New(limited)
	slog.SetDefault(prev)
	s.StopCleanup() // the test runs cleanup itself
	if n := degradedErrors(&logs); n != 1 {
		t.Errorf("New: %d ERROR lines at construction, want 1:\n%s", n, logs.String())
	}
	exp := time.Now().Add(time.Hour)
	for _, tok := range []string{"a", "b"} { // degraded, but working
		if err := s.Commit(tok, []byte(tok), exp); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		if _, found, err := s.Find(tok); found || err != nil {
			t.Fatalf("Find after Delete = %v, %v", found, err)
		}
	}
	for range 2 {
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := degradedErrors(&logs); n != 3 {
		t.Errorf("New: %d ERROR lines after two cleanup runs, want 3 (one a run):\n%s", n, logs.String())
	}

	// The owner creates the tombstone table. Within a minute (the clock of
	// the re-check moves by one), the next request uses it.
	for _, q := range []string{
		"CREATE TABLE sessions_tombstones (token TEXT PRIMARY KEY, expiry TIMESTAMPTZ NOT NULL)",
		"CREATE INDEX sessions_tombstones_expiry_idx ON sessions_tombstones (expiry)",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON sessions_tombstones TO " + role,
	} {
		if _, err := owner.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var later atomic.Int64
	s.mono = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	later.Store(int64(tombRecheck))
	tok := uniqueName("late-")
	if err := s.Commit(tok, []byte("signed-in"), exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tok, []byte("signed-in"), time.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find(tok); found || err != nil {
		t.Fatalf("Find after Delete and a late Commit, a minute after the tombstone table appeared = %v, %v; want not found", found, err)
	}
	if n := count(t, owner, "SELECT count(*) FROM sessions WHERE token = $1", tok); n != 0 {
		t.Fatalf("the late Commit wrote the session back (%d rows)", n)
	}
	if back := raceDeleteCommit(t, s, 100); len(back) > 0 {
		t.Errorf("%d of 100 racing logouts undone once the tombstone table exists", len(back))
	}
	healthy, err := NewWithConfig(owner, Config{CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if back := raceReplicas(t, healthy, s, 100); len(back) > 0 {
		t.Errorf("%d of 100 logouts on a healthy replica undone by the recovered one", len(back))
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := degradedErrors(&logs); n != 3 {
		t.Errorf("%d ERROR lines, want still 3: the store uses the table", n)
	}
	// The other degraded store finds it on its next cleanup run.
	if _, err := allowed.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if back := raceDeleteCommit(t, allowed, 50); len(back) > 0 {
		t.Errorf("%d of 50 racing logouts undone after a cleanup run found the table", len(back))
	}
	if n := degradedErrors(&allowLogs); n != 1 {
		t.Errorf("AllowNoTombstones: %d ERROR lines, want still 1", n)
	}
}

// TestOneConnection runs every operation, the tombstone check and cleanup
// of tombstones and of the rows written behind them, on a pool of one
// connection: none may need a second one while it holds the first.
func TestOneConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	now := time.Now()
	s, err := NewWithConfig(pool, Config{Table: uniqueName("pgstore_test_"), CreateTable: true, CleanupInterval: -1,
		Timeout: 5 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer dropTables(t, sharedPool(t), s)
	if _, err := NewWithConfig(pool, Config{Table: s.names.display, CleanupInterval: -1}); err != nil {
		t.Fatalf("a second store on the table, checking it: %v", err)
	}
	for _, tok := range []string{"a", "b", "c"} {
		if err := s.Commit(tok, []byte(tok), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("a", []byte("late"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO "+s.names.sessions+" VALUES ('a', 'behind', $1)", now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Find("a"); found || err != nil {
		t.Fatalf("Find(a) = %v, %v; want not found", found, err)
	}
	all, err := s.All()
	if err != nil || len(all) != 2 {
		t.Fatalf("All = %d sessions, %v; want b and c", len(all), err)
	}
	n := 0
	for _, err := range s.Sessions(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("Sessions yielded %d, want b and c", n)
	}
	now = now.Add(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)
	if n, err := s.DeleteExpired(ctx); err != nil || n != 4 { // b, c, a's tombstone and the row behind it
		t.Fatalf("DeleteExpired = %d, %v; want 4", n, err)
	}
	if n := count(t, pool, "SELECT count(*) FROM "+s.names.sessions); n != 0 {
		t.Fatalf("%d rows left after cleanup, want 0", n)
	}
}
