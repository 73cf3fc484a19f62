package gormstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// forEachDialect runs test on every dialect, in parallel.
func forEachDialect(t *testing.T, test func(t *testing.T, d dialect, db *gormDB)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, d, d.open(t))
		})
	}
}

// TestConcurrentFirstCommit commits one new token from many goroutines at
// once. A read-then-write Commit (SCS gormstore's FirstOrCreate) fails here
// with a duplicate key error.
func TestConcurrentFirstCommit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		s := newStore(t, db, gormstore.Config{})
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
	})
}

// TestCommitUpdatesExpiry reads the stored expiry back after each commit:
// a Commit must replace data and expiry, later or earlier, on every
// dialect. SCS bunstore never updated expiry on PostgreSQL.
func TestCommitUpdatesExpiry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		s := newStore(t, db, gormstore.Config{})
		now := time.Now().Truncate(time.Microsecond)
		tok := "expiry-" + d.name
		for i, exp := range []time.Time{
			now.Add(time.Hour),
			now.Add(48*time.Hour + 123456*time.Microsecond),
			now.Add(time.Minute + time.Microsecond),
		} {
			data := []byte(fmt.Sprint("v", i))
			if err := s.Commit(tok, data, exp); err != nil {
				t.Fatal(err)
			}
			var got []storedSession
			for sess, err := range s.Sessions(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, storedSession{sess.Token, sess.Data, sess.Expiry})
			}
			if len(got) != 1 || got[0].token != tok || !bytes.Equal(got[0].data, data) || !got[0].expiry.Equal(exp) {
				t.Fatalf("commit %d: stored %+v, want %q, %q, expiry %v", i, got, tok, data, exp)
			}
		}
	})
}

type storedSession struct {
	token  string
	data   []byte
	expiry time.Time
}

// TestDeleteExpiredBatches deletes more expired rows than one batch holds,
// sessions and tombstones both, and leaves live ones.
func TestDeleteExpiredBatches(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		clock := &storetest.Clock{}
		clock.Set(time.Now().Truncate(time.Microsecond))
		s := newStore(t, db, gormstore.Config{Now: clock.Now, CleanupBatchSize: 3})
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
		if err := s.Commit("long", []byte("x"), clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
			t.Fatalf("DeleteExpired before expiry = %d, %v; want 0, nil", n, err)
		}
		clock.Advance(time.Minute)
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != 14 {
			t.Fatalf("DeleteExpired = %d, %v; want 14 (10 sessions, 4 tombstones), nil", n, err)
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
	})
}

// TestCleanupLoop checks that the background loop deletes expired rows and
// reports to OnCleanup.
func TestCleanupLoop(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		runs := make(chan int64, 100)
		s := newStore(t, db, gormstore.Config{
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
	})
}

func TestBadTableName(t *testing.T) {
	db := openSQLite(t)
	for _, name := range []string{"x; DROP TABLE y", `a"b`, "1abc", strings.Repeat("t", 41), "a.b"} {
		if s, err := gormstore.NewWithConfig(db, gormstore.Config{TableName: name}); err == nil {
			s.StopCleanup()
			t.Errorf("NewWithConfig(TableName: %q) succeeded, want an error", name)
		}
	}
}

// TestCommitDeleteRace commits one session from many goroutines while it
// is deleted: every call succeeds, and once Delete has returned no commit
// brings the session back.
func TestCommitDeleteRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		s := newStore(t, db, gormstore.Config{})
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
	})
}

// TestTombstoneWins writes a deleted session back behind the store's back,
// as a commit racing with its Delete can: reads must not return it, and
// cleanup deletes it when the tombstone expires.
func TestTombstoneWins(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect, db *gormDB) {
		clock := &storetest.Clock{}
		clock.Set(time.Now().Truncate(time.Microsecond))
		table := tableName()
		s := newStore(t, db, gormstore.Config{TableName: table, Now: clock.Now})
		if err := s.Commit("tok", []byte("x"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete("tok"); err != nil {
			t.Fatal(err)
		}
		st, _ := sqlstore.New(dialectOf(d), sqlstore.Question, table)
		if err := db.Exec(st.CommitPlain, "tok", []byte("back"), st.Time(clock.Now().Add(time.Hour))).Error; err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Find("tok"); err != nil || ok {
			t.Fatalf("Find of a written-back deleted session = %v, %v; want not found", ok, err)
		}
		if all, err := s.All(); err != nil || len(all) != 0 {
			t.Fatalf("All = %d sessions, %v; want none", len(all), err)
		}
		clock.Advance(time.Minute)
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != 2 {
			t.Fatalf("DeleteExpired = %d, %v; want 2 (the session and its tombstone)", n, err)
		}
		if _, ok, err := s.Find("tok"); err != nil || ok {
			t.Fatalf("Find after cleanup = %v, %v; want not found", ok, err)
		}
	})
}

func dialectOf(d dialect) sqlstore.Dialect {
	switch d.name {
	case "PostgreSQL":
		return sqlstore.Postgres
	case "MariaDB":
		return sqlstore.MySQL
	}
	return sqlstore.SQLite
}

// TestCleanupLockedElsewhere holds PostgreSQL's cleanup lock, as another
// replica cleaning up would: DeleteExpired then deletes nothing, and
// succeeds.
func TestCleanupLockedElsewhere(t *testing.T) {
	db := openPostgres(t)
	table := tableName()
	s := newStore(t, db, gormstore.Config{TableName: table})
	for i := range 3 {
		if err := s.Commit(fmt.Sprint("old-", i), []byte("x"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	tx := db.Begin()
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", sqlstore.LockKey(table)).Error; err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("DeleteExpired while another replica cleans = %d, %v; want 0, nil", n, err)
	}
	tx.Rollback()
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 3 {
		t.Errorf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
}
