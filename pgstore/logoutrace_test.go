package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// raceDeleteCommit commits n sessions and then, for each, runs a Delete and
// a late Commit of it at the same moment. It returns the tokens that are
// still found afterwards, or whose row is back in the table (where a store
// that ignores tombstones, SCS's own on the same table, would serve it):
// sessions a logout failed to end.
func raceDeleteCommit(t *testing.T, s *PostgresStore, n int) []string {
	t.Helper()
	return raceReplicas(t, s, s, n)
}

// raceReplicas is raceDeleteCommit with the Delete run by del and the
// Commits by s, two replicas on one table.
func raceReplicas(t *testing.T, del, s *PostgresStore, n int) []string {
	t.Helper()
	var back []string
	expiry := time.Now().Add(time.Hour)
	for i := range n {
		tok := fmt.Sprintf("race-%04d-%s", i, uniqueName(""))
		if err := s.Commit(tok, []byte("signed-in"), expiry); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if err := del.DeleteCtx(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			if err := s.CommitCtx(context.Background(), tok, []byte("late"), expiry); err != nil {
				t.Error(err)
			}
		}()
		close(start)
		wg.Wait()
		_, found, err := s.Find(tok)
		if err != nil {
			t.Fatal(err)
		}
		if found || count(t, s.rawPool(), "SELECT count(*) FROM "+s.core.Names.Sessions+" WHERE token = $1", tok) > 0 {
			back = append(back, tok)
		}
	}
	return back
}

// TestDeleteCommitRace checks that a Commit racing a Delete of the same
// session never brings it back, whichever statement reaches the row first.
func TestDeleteCommitRace(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1})
		if back := raceDeleteCommit(t, s, 300); len(back) > 0 {
			t.Errorf("%d of 300 sessions came back after Delete raced Commit, e.g. %q", len(back), back[0])
		}
	})
}

// TestDeleteCommitRaceLegacy is TestDeleteCommitRace with the statement
// that servers older than PostgreSQL 15, which lack MERGE, run instead.
func TestDeleteCommitRaceLegacy(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1})
		s.core.SetLegacy(true)
		if back := raceDeleteCommit(t, s, 300); len(back) > 0 {
			t.Errorf("%d of 300 sessions came back after Delete raced Commit, e.g. %q", len(back), back[0])
		}
	}, "pgx", "stdlib")
}

// TestConcurrentCommitsOfNewToken checks that Commits inserting the same new
// token at the same moment all succeed, the last one leaving its data: one
// of them inserts the row and the others, which MERGE makes fail with a
// unique violation, update it.
func TestConcurrentCommitsOfNewToken(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1})
		expiry := time.Now().Add(time.Hour)
		const rounds, writers = 50, 4
		for i := range rounds {
			tok := fmt.Sprintf("new-%04d-%s", i, uniqueName(""))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := s.Commit(tok, []byte{byte(w)}, expiry); err != nil {
						t.Errorf("writer %d: %v", w, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if b, found, err := s.Find(tok); err != nil || !found || len(b) != 1 || b[0] >= writers {
				t.Fatalf("round %d: Find = %v, %v, %v; want one writer's data", i, b, found, err)
			}
		}
	})
}

// TestDeleteCommitRaceCatchesNaiveCommit shows that the race above is real
// and that raceDeleteCommit detects it: with the plain "upsert unless
// tombstoned" statement, a Commit whose snapshot predates the Delete waits
// for the deleted row and then inserts it anew.
func TestDeleteCommitRaceCatchesNaiveCommit(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, Config{CleanupInterval: -1})
	s.core.Q.Commit = `INSERT INTO ` + s.core.Names.Sessions + ` (token, data, expiry) SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM ` + s.core.Names.Tombstones + ` WHERE token = $1)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`
	back := raceDeleteCommit(t, s, 200)
	if len(back) == 0 {
		t.Fatal("no session came back with the naive Commit: the race test cannot detect the bug")
	}
	t.Logf("naive Commit: %d of 200 sessions came back", len(back))
}

// TestDeleteRecreatedSession checks Delete of a session that a writer
// ignoring tombstones (SCS's pgxstore on the same table, say) recreated
// after its first Delete: the session goes again, and its tombstone then
// lasts until the later of the two expiries.
func TestDeleteRecreatedSession(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1})
		ctx := context.Background()
		tok := "recreated-" + uniqueName("")
		first := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		second := first.Add(time.Hour)
		if err := s.Commit(tok, []byte("a"), first); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
		if _, err := s.rawPool().Exec(ctx, s.core.Q.CommitPlain, tok, []byte("b"), second); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		if _, found, err := s.Find(tok); err != nil || found {
			t.Fatalf("Find after the second Delete = %v, %v; want not found", found, err)
		}
		var got time.Time
		if err := s.rawPool().QueryRow(ctx, "SELECT expiry FROM "+s.core.Names.Tombstones+" WHERE token = $1", tok).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(second) {
			t.Errorf("tombstone expiry = %v, want %v", got, second)
		}
	})
}
