package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// tokenState is what a load-test worker knows about one of its sessions.
// A failed Commit may or may not have been applied, so the data the store
// may hold is a set; a failed Delete may have been applied, so such a token
// is retired and only checked for "not anything else".
type tokenState struct {
	tok      string
	may      []string // data values the store may hold
	mayBeNil bool     // the session may not exist
	deleted  bool     // a Delete returned nil: must never be found again
}

// faultCounts tallies a load test's operations.
type faultCounts struct{ ok, failed atomic.Int64 }

// TestRestartUnderLoad restarts a private PostgreSQL in the middle of a
// load test. Every operation must succeed or fail, never report a live
// session as missing; no committed session may be lost; and the same store,
// on the same pool, must recover without help.
func TestRestartUnderLoad(t *testing.T) {
	t.Parallel()
	pg := startPrivatePG(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pg.dsn())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	pool, err := newPoolWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := NewWithConfig(pool, Config{
		CreateTable:     true,
		CleanupInterval: 50 * time.Millisecond, // cleanup runs through the restart too
		Timeout:         2 * time.Second,
		Logger:          slog.New(slog.DiscardHandler), // its failures during the restart are expected
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.StopCleanup()
	startedAt := func() (ts time.Time) {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	before := startedAt()

	const workers = 6
	var (
		counts  faultCounts
		stop    atomic.Bool
		wg      sync.WaitGroup
		results = make([][]*tokenState, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = faultWorker(t, s, w, &stop, &counts)
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	okBefore := counts.ok.Load()
	pg.restart(t)
	restartedAt := time.Now()
	// Keep the load on until the store has served requests again for a while.
	deadline := time.Now().Add(30 * time.Second)
	for ok := counts.ok.Load(); counts.ok.Load() < ok+2000 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d operations before the restart; %d succeeded in all, %d failed; recovered within %v",
		okBefore, counts.ok.Load(), counts.failed.Load(), time.Since(restartedAt).Round(time.Millisecond))
	if after := startedAt(); !after.After(before) {
		t.Fatalf("the server was not restarted (start time %v, then %v)", before, after)
	}
	if counts.ok.Load() < okBefore+2000 {
		t.Fatalf("the store did not recover: %d operations succeeded after the restart in 30s", counts.ok.Load()-okBefore)
	}
	// Final check, on the recovered store: every session is as committed.
	var checked int
	for _, states := range results {
		for _, st := range states {
			b, found, err := s.Find(st.tok)
			if err != nil {
				t.Fatalf("Find after recovery: %v", err)
			}
			checkFind(t, st, b, found)
			checked++
		}
	}
	t.Logf("checked %d sessions after recovery", checked)
}

// faultWorker runs a mix of Find, Commit and Delete on its own sessions
// until stop is set, checking every answer against what it knows.
func faultWorker(t *testing.T, s *PostgresStore, w int, stop *atomic.Bool, counts *faultCounts) []*tokenState {
	var all, live []*tokenState
	expiry := time.Now().Add(time.Hour)
	newToken := func() {
		st := &tokenState{tok: fmt.Sprintf("w%d-%d-%s", w, len(all), uniqueName("")), mayBeNil: true}
		all = append(all, st)
		live = append(live, st)
	}
	for range 20 {
		newToken()
	}
	for i := 0; !stop.Load(); i++ {
		k := rand.IntN(len(live))
		st := live[k]
		switch r := rand.IntN(100); {
		case r < 60:
			b, found, err := s.Find(st.tok)
			if err != nil {
				counts.failed.Add(1)
				continue
			}
			counts.ok.Add(1)
			if !checkFind(t, st, b, found) {
				return all
			}
		case r < 95:
			v := fmt.Sprintf("v%d", i)
			if err := s.Commit(st.tok, []byte(v), expiry); err != nil {
				counts.failed.Add(1)
				st.may = append(st.may, v)
				continue
			}
			counts.ok.Add(1)
			st.may, st.mayBeNil = []string{v}, false
		default:
			err := s.Delete(st.tok)
			if err == nil {
				counts.ok.Add(1)
				st.deleted = true
			} else {
				counts.failed.Add(1)
				st.mayBeNil = true // and it may still exist: checkFind allows both
			}
			live = slices.Delete(live, k, k+1) // SCS never reuses a token
			newToken()
		}
	}
	return all
}

// checkFind reports (as a test error) a Find answer that contradicts st.
func checkFind(t *testing.T, st *tokenState, b []byte, found bool) bool {
	t.Helper()
	switch {
	case st.deleted && found:
		t.Errorf("%s: found %q after a successful Delete", st.tok, b)
	case !found && !st.mayBeNil && !st.deleted:
		t.Errorf("%s: not found, but committed as %q: a live session reported missing or lost", st.tok, st.may)
	case found && !slices.Contains(st.may, string(b)):
		t.Errorf("%s: found %q, want one of %q", st.tok, b, st.may)
	default:
		return true
	}
	return false
}
