package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
)

// fill inserts n sessions expiring at expiry, with a server-side statement.
func fill(t testing.TB, s *PostgresStore, prefix string, n int, expiry time.Time) {
	t.Helper()
	_, err := s.rawPool().Exec(context.Background(), `INSERT INTO `+s.core.Names.Sessions+` (token, data, expiry)
SELECT $1 || g, '\x00ff'::bytea, $2 FROM generate_series(1, $3) g`, prefix, expiry, n)
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeleteExpiredBatches(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		now := time.Now()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1, CleanupBatchSize: 100, Now: func() time.Time { return now }})
		var mu sync.Mutex
		batches := map[string][]int64{}
		s.core.OnBatch = func(table string, n int64) {
			mu.Lock()
			batches[table] = append(batches[table], n)
			mu.Unlock()
		}
		fill(t, s, "expired-", 450, now.Add(-time.Minute))
		fill(t, s, "live-", 30, now.Add(48*time.Hour))
		for i := range 120 { // 120 tombstones, which outlive their sessions
			tok := fmt.Sprintf("deleted-%03d", i)
			if err := s.Commit(tok, []byte("x"), now.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(tok); err != nil {
				t.Fatal(err)
			}
		}
		// 40 rows written behind a tombstone, not expired: they go with it.
		if _, err := s.rawPool().Exec(context.Background(), `INSERT INTO `+s.core.Names.Sessions+` (token, data, expiry)
	SELECT token, 'behind', $1 FROM `+s.core.Names.Tombstones+` ORDER BY token LIMIT 40`, now.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Past the sessions' expiry only, the tombstones stay.
		now = now.Add(2 * time.Second)
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != 450 {
			t.Fatalf("DeleteExpired = %d, %v; want the 450 expired sessions", n, err)
		}
		now = now.Add(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew)
		n, err := s.DeleteExpired(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 120+40 {
			t.Errorf("DeleteExpired = %d, want %d", n, 120+40)
		}
		want := map[string][]int64{"sessions": {100, 100, 100, 100, 50, 0}, "tombstones": {0, 100, 20}}
		if fmt.Sprint(batches) != fmt.Sprint(want) {
			t.Errorf("batches = %v, want %v", batches, want)
		}
		if c := count(t, s.rawPool(), "SELECT count(*) FROM "+s.core.Names.Sessions); c != 30 {
			t.Errorf("%d sessions left, want the 30 live ones", c)
		}
		if c := count(t, s.rawPool(), "SELECT count(*) FROM "+s.core.Names.Tombstones); c != 0 {
			t.Errorf("%d tombstones left, want 0", c)
		}
	})
}

// TestDeleteExpiredAdvisoryLock checks that only one process cleans a table
// at a time: while another session holds the table's cleanup lock,
// DeleteExpired deletes nothing and reports no error.
func TestDeleteExpiredAdvisoryLock(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		now := time.Now()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1, Now: func() time.Time { return now }})
		fill(t, s, "expired-", 10, now.Add(-time.Minute))
		ctx := context.Background()
		tx, err := s.rawPool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var locked bool
		if err := tx.QueryRow(ctx, s.core.Q.TryLock).Scan(&locked, nil); err != nil || !locked {
			t.Fatalf("taking the cleanup lock: %v, %v", locked, err)
		}
		if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
			t.Errorf("DeleteExpired while another process cleans = %d, %v; want 0, nil", n, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DeleteExpired(ctx); n != 10 || err != nil {
			t.Errorf("DeleteExpired after the lock is released = %d, %v; want 10, nil", n, err)
		}
	})
}

// TestCleanupCommitRace revives expired sessions while cleanup deletes them:
// every revival that returned nil must survive.
func TestCleanupCommitRace(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		s := newTestStoreOn(t, d, Config{CleanupInterval: -1, CleanupBatchSize: 7})
		const n = 300
		fill(t, s, "tok-", n, time.Now().Add(-time.Minute))
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := s.DeleteExpired(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				if err := s.Commit(fmt.Sprint("tok-", i), []byte("revived"), time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		wg.Wait()
		for i := 1; i <= n; i++ {
			if b, found, err := s.Find(fmt.Sprint("tok-", i)); err != nil || !found || string(b) != "revived" {
				t.Fatalf("Find(tok-%d) = %q, %v, %v after a revival raced cleanup", i, b, found, err)
			}
		}
	})
}

// TestCleanupLoop checks that the background loop deletes expired sessions
// and reports each run to OnCleanup.
func TestCleanupLoop(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, d testDriver) {
		t.Parallel()
		runs := make(chan int64, 100)
		s := newTestStoreOn(t, d, Config{
			CleanupInterval: 20 * time.Millisecond,
			OnCleanup: func(n int64, _ time.Duration, err error) {
				if err != nil {
					t.Errorf("cleanup: %v", err)
				}
				select {
				case runs <- n:
				default:
				}
			},
		})
		fill(t, s, "expired-", 25, time.Now().Add(-time.Minute))
		timeout := time.After(10 * time.Second)
		var total int64
		for total < 25 {
			select {
			case n := <-runs:
				total += n
			case <-timeout:
				t.Fatalf("cleanup loop deleted %d rows in 10s, want 25", total)
			}
		}
		s.StopCleanup()
		if c := count(t, s.rawPool(), "SELECT count(*) FROM "+s.core.Names.Sessions); c != 0 {
			t.Errorf("%d rows left", c)
		}
	})
}
