package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/storetest"
)

// tokenState is what a load worker knows about one of its sessions. A
// failed Commit may or may not have been applied, so the data the store may
// hold is a set; a failed Delete may have been applied, so such a token is
// retired and only checked for "not anything else".
type tokenState struct {
	tok      string
	may      []string // data values the store may hold
	mayBeNil bool     // the session may not exist
	deleted  bool     // a Delete returned nil: must never be found again
}

type counts struct{ ok, failed atomic.Int64 }

// RestartUnderLoad runs workers doing Find (60%), Commit (35%) and Delete
// (5%) on sessions of their own against s, calls restart in the middle, and
// keeps the load on until s has served 2,000 more operations (30 s at
// most). Every answer is checked as it comes: an operation may succeed or
// fail, but a live session is never "not found", a deleted one never found,
// and data is always what was committed. At the end every session is
// checked once more on the recovered store, which must be the same s: it
// recovers by itself, cleanup included.
func RestartUnderLoad(t *testing.T, s storetest.Store, workers int, restart func()) {
	t.Helper()
	var (
		c       counts
		stop    atomic.Bool
		wg      sync.WaitGroup
		results = make([][]*tokenState, workers)
	)
	run := fmt.Sprintf("%x", rand.Uint32())
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = worker(t, s, fmt.Sprintf("%s-w%d", run, w), &stop, &c)
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	okBefore := c.ok.Load()
	restart()
	restartedAt := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for ok := c.ok.Load(); c.ok.Load() < ok+2000 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d operations before the restart; %d succeeded in all, %d failed; served again within %v",
		okBefore, c.ok.Load(), c.failed.Load(), time.Since(restartedAt).Round(time.Millisecond))
	if c.ok.Load() < okBefore+2000 {
		t.Fatalf("the store did not recover: %d operations succeeded after the restart in 30s", c.ok.Load()-okBefore)
	}
	checked := 0
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
	// Cleanup resumes too: a store that exports it can run it again.
	if d, ok := s.(storetest.ExpiredDeleter); ok {
		if _, err := d.DeleteExpired(context.Background()); err != nil {
			t.Fatalf("DeleteExpired after recovery: %v", err)
		}
	}
}

// worker runs the mix on its own sessions until stop is set.
func worker(t *testing.T, s storetest.Store, prefix string, stop *atomic.Bool, c *counts) []*tokenState {
	var all, live []*tokenState
	expiry := time.Now().Add(time.Hour)
	newToken := func() {
		st := &tokenState{tok: fmt.Sprintf("%s-%d", prefix, len(all)), mayBeNil: true}
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
				c.failed.Add(1)
				continue
			}
			c.ok.Add(1)
			if !checkFind(t, st, b, found) {
				return all
			}
		case r < 95:
			v := fmt.Sprintf("v%d", i)
			if err := s.Commit(st.tok, []byte(v), expiry); err != nil {
				c.failed.Add(1)
				st.may = append(st.may, v)
				continue
			}
			c.ok.Add(1)
			st.may, st.mayBeNil = []string{v}, false
		default:
			if err := s.Delete(st.tok); err == nil {
				c.ok.Add(1)
				st.deleted = true
			} else {
				c.failed.Add(1)
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
