package sqltest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// SQLStore is what the shared tests use of a gormstore or bunstore.
type SQLStore interface {
	storetest.Store
	All() (map[string][]byte, error)
	Sessions(ctx context.Context) iter.Seq2[sessionstore.Session, error]
	DeleteExpired(ctx context.Context) (int64, error)
	StopCleanup()
}

// Options are the Config fields the shared tests set; each module copies
// them into its own Config.
type Options struct {
	Table            string // "" means a fresh name
	Timeout          time.Duration
	CleanupInterval  time.Duration
	CleanupBatchSize int
	Logger           *slog.Logger
	OnCleanup        func(deleted int64, took time.Duration, err error)
	Now              func() time.Time
	// TombstoneLifetime, ClockSkew and AllowNoTombstones are the Config
	// fields of the same names.
	TombstoneLifetime time.Duration
	ClockSkew         time.Duration
	AllowNoTombstones bool
	// Owner is Config.Owner; BeforeBackfill is set with the module's
	// SetBeforeBackfill.
	Owner          sessionstore.OwnerFunc
	BeforeBackfill func()
	// TouchWindow is Config.TouchWindow.
	TouchWindow time.Duration
	// AsyncCommit is Config.AsyncCommit.
	AsyncCommit bool
	// OldNames sets Config's deprecated TableName and DeleteTimeout instead
	// of Table and Timeout.
	OldNames bool
}

// Dialect is one database the shared tests run on, through one ORM.
type Dialect struct {
	Name    string // "PostgreSQL", "MariaDB" or "SQLite"
	Dialect sqlstore.Dialect
	// Placeholder is the bind-parameter style Exec takes.
	Placeholder sqlstore.Placeholders
	// Open returns the database the test's stores share.
	Open func(t *testing.T) DB
	// OpenAs, if set, returns the same database as Open, connected as
	// user (who has no password). Nil on SQLite, which has no users.
	OpenAs func(t *testing.T, user string) DB
	// Manager, if set, returns an SCS session manager on s with
	// IdleTimeout idle.
	Manager func(s SQLStore, idle time.Duration) Manager
}

// DB is one ORM's handle on one database.
type DB interface {
	// NewStore returns a migrated store configured by o, on a fresh table
	// unless o.Table is set; the store is stopped and its tables
	// dropped when t ends.
	NewStore(t *testing.T, o Options) SQLStore
	// Exec runs a statement behind the store's back.
	Exec(query string, args ...any) error
	// TryStore returns NewWithConfig's store or error for o, on table
	// o.Table, which the caller creates and drops; it neither migrates
	// nor drops tables. The store is stopped when t ends.
	TryStore(t *testing.T, o Options) (SQLStore, error)
	// SQL returns the database/sql pool under the ORM.
	SQL() *sql.DB
}

// RunStoreTests runs the tests every SQL store shares, on every dialect in
// parallel: concurrent first commits, expiry updates, batched cleanup, the
// cleanup loop, the Commit/Delete race and a written-back deleted session.
func RunStoreTests(t *testing.T, dialects []Dialect) {
	runOnDialects(t, dialects, []dialectTest{
		{"ConcurrentFirstCommit", concurrentFirstCommit},
		{"CommitUpdatesExpiry", commitUpdatesExpiry},
		{"DeleteExpiredBatches", deleteExpiredBatches},
		{"CleanupLoop", cleanupLoop},
		{"CommitDeleteRace", commitDeleteRace},
		{"TombstoneWins", tombstoneWins},
		{"SlowRequestLogout", slowRequestLogout},
		{"ClockAheadCleanup", clockAheadCleanup},
		{"NoCreatePrivilege", noCreatePrivilege},
		{"PadSpaceRefused", padSpaceRefused},
		{"Timeout", timeoutBounds},
	})
}

// dialectTest is one test a suite runs on every dialect.
type dialectTest struct {
	name string
	run  func(t *testing.T, d Dialect, db DB)
}

// runOnDialects runs tests on every dialect in parallel, in order within
// each dialect, on one database handle per dialect.
func runOnDialects(t *testing.T, dialects []Dialect, tests []dialectTest) {
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			db := d.Open(t)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, d, db) })
			}
		})
	}
}

// concurrentFirstCommit commits one new token from many goroutines at once.
// A read-then-write Commit (SCS gormstore's FirstOrCreate) fails here with a
// duplicate key error.
func concurrentFirstCommit(t *testing.T, _ Dialect, db DB) {
	s := db.NewStore(t, Options{})
	for round := range 5 {
		tok := fmt.Sprintf("first-%d-%d", round, time.Now().UnixNano())
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := s.Commit(tok, []byte{byte(i)}, time.Now().Add(time.Hour)); err != nil {
					t.Errorf("concurrent first Commit: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if _, ok, err := s.Find(tok); err != nil || !ok {
			t.Fatalf("Find after concurrent commits: found %v, err %v", ok, err)
		}
	}
}

// commitUpdatesExpiry reads the stored expiry back after each commit: a
// Commit must replace data and expiry, later or earlier, on every dialect.
// SCS bunstore never updated expiry on PostgreSQL.
func commitUpdatesExpiry(t *testing.T, d Dialect, db DB) {
	s := db.NewStore(t, Options{})
	now := time.Now().Truncate(time.Microsecond)
	tok := "expiry-" + d.Name
	for i, exp := range []time.Time{
		now.Add(time.Hour),
		now.Add(48*time.Hour + 123456*time.Microsecond),
		now.Add(time.Minute + time.Microsecond),
	} {
		data := []byte(fmt.Sprint("v", i))
		if err := s.Commit(tok, data, exp); err != nil {
			t.Fatal(err)
		}
		var got []sessionstore.Session
		for sess, err := range s.Sessions(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, sess)
		}
		if len(got) != 1 || got[0].Token != tok || !bytes.Equal(got[0].Data, data) || !got[0].Expiry.Equal(exp) {
			t.Fatalf("commit %d: stored %+v, want %q, %q, expiry %v", i, got, tok, data, exp)
		}
	}
}

// deleteExpiredBatches deletes more expired rows than one batch holds,
// sessions and tombstones both, and leaves live ones.
func deleteExpiredBatches(t *testing.T, _ Dialect, db DB) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	s := db.NewStore(t, Options{Now: clock.Now, CleanupBatchSize: 3})
	for i := range 10 {
		if err := s.Commit(fmt.Sprint("short-", i), []byte("x"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		tok := fmt.Sprint("deleted-", i)
		if err := s.Commit(tok, []byte("x"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit("long", []byte("x"), clock.Now().Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired before expiry = %d, %v; want 0, nil", n, err)
	}
	clock.Advance(time.Minute)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 10 {
		t.Fatalf("DeleteExpired = %d, %v; want 10 (the sessions; the tombstones stay), nil", n, err)
	}
	clock.Advance(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 4 {
		t.Fatalf("DeleteExpired past the tombstones' cutoff = %d, %v; want 4, nil", n, err)
	}
	all, err := s.All()
	if err != nil || len(all) != 1 {
		t.Fatalf("All after cleanup = %d sessions, %v; want 1", len(all), err)
	}
	// With the tombstones gone, their tokens may be committed again.
	if err := s.Commit("deleted-0", []byte("back"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Find("deleted-0"); err != nil || !ok || string(got) != "back" {
		t.Fatalf("Find after the tombstone expired = %q, %v, %v", got, ok, err)
	}
}

// cleanupLoop checks that the background loop deletes expired rows and
// reports to OnCleanup.
func cleanupLoop(t *testing.T, _ Dialect, db DB) {
	runs := make(chan int64, 100)
	s := db.NewStore(t, Options{
		Logger:          slog.New(slog.DiscardHandler),
		CleanupInterval: 20 * time.Millisecond,
		OnCleanup: func(n int64, _ time.Duration, err error) {
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			runs <- n
		},
	})
	if err := s.Commit("gone", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-runs:
			if n == 1 {
				s.StopCleanup()
				return
			}
		case <-deadline:
			t.Fatal("the cleanup loop did not delete the expired session")
		}
	}
}

// commitDeleteRace commits one session from many goroutines while it is
// deleted: every call succeeds, and once Delete has returned no commit
// brings the session back.
func commitDeleteRace(t *testing.T, _ Dialect, db DB) {
	s := db.NewStore(t, Options{})
	for round := range 10 {
		tok := fmt.Sprintf("race-%d-%d", round, time.Now().UnixNano())
		if err := s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var deleted sync.WaitGroup
		deleted.Add(1)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 10 {
					if i == 0 && j == 3 {
						if err := s.Delete(tok); err != nil {
							t.Errorf("Delete: %v", err)
						}
						deleted.Done()
					}
					if err := s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)); err != nil {
						t.Errorf("Commit: %v", err)
						return
					}
				}
			}()
		}
		deleted.Wait()
		wg.Wait()
		if err := s.Commit(tok, []byte("v"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Find(tok); err != nil || ok {
			t.Fatalf("round %d: Find after Delete = %v, %v; want not found", round, ok, err)
		}
	}
}

// tombstoneWins writes a deleted session back behind the store's back, as
// a commit racing with its Delete can: reads must not return it, and
// cleanup deletes it when the tombstone expires.
func tombstoneWins(t *testing.T, d Dialect, db DB) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	table := fmt.Sprintf("tw_%d", time.Now().UnixNano()%1e12)
	s := db.NewStore(t, Options{Table: table, Now: clock.Now})
	if err := s.Commit("tok", []byte("x"), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatal(err)
	}
	if err := WriteBehind(d, db, table, "tok", []byte("back"), clock.Now().Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Find("tok"); err != nil || ok {
		t.Fatalf("Find of a written-back deleted session = %v, %v; want not found", ok, err)
	}
	if all, err := s.All(); err != nil || len(all) != 0 {
		t.Fatalf("All = %d sessions, %v; want none", len(all), err)
	}
	clock.Advance(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2 (the session and its tombstone)", n, err)
	}
	if _, ok, err := s.Find("tok"); err != nil || ok {
		t.Fatalf("Find after cleanup = %v, %v; want not found", ok, err)
	}
}
