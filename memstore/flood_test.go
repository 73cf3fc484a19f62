package memstore_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/memstore"
)

// floodResult is what an active-user flood left.
type floodResult struct {
	flood, users, kept, held int
	heap                     int64
}

// floodActiveUsers runs 1,000 active users (each has made a request since
// it was created), each making one request (Find then Commit) per second of
// the store's clock, against a flood of new sessions, 1,000 a second, never
// used again, into a store with MaxSessions 6400. With idle, every request slides a session's expiry (SCS
// with IdleTimeout); without, a session's expiry is fixed when it is
// created (SCS's default: Lifetime 24 h), so the users' sessions, older,
// expire before the flood's. logouts makes each flood session a logout: it
// is deleted right after its Commit.
func floodActiveUsers(t *testing.T, flood int, idle, logouts bool) floodResult {
	t.Helper()
	return floodActiveUsersAt(t, flood, 1, 0, idle, logouts)
}

// floodActiveUsersAt is floodActiveUsers with perMilli new sessions each
// millisecond, each used reuse more times (a Find and a Commit each) right
// after its creation.
func floodActiveUsersAt(t *testing.T, flood, perMilli, reuse int, idle, logouts bool) floodResult {
	t.Helper()
	const (
		maxSessions = 6400
		users       = 1000
		lifetime    = 24 * time.Hour
		idleTimeout = 30 * time.Minute
	)
	now := time.Unix(1_700_000_000, 0)
	s := mustNew(t, memstore.Config{MaxSessions: maxSessions, CleanupInterval: -1,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	payload := make([]byte, 512)
	expiry := func(created time.Time) time.Time {
		if idle {
			return now.Add(idleTimeout)
		}
		return created.Add(lifetime)
	}
	created := make([]time.Time, users)
	lost := make([]bool, users)
	for u := range users {
		created[u] = now
		if err := s.Commit(fmt.Sprint("user-", u), payload, expiry(now)); err != nil {
			t.Fatal(err)
		}
	}
	// The users are active before the flood starts: each has made a
	// request since its session was created.
	for u := range users {
		now = now.Add(time.Millisecond)
		tok := fmt.Sprint("user-", u)
		if _, ok, _ := s.Find(tok); !ok {
			t.Fatal("user session missing before the flood")
		}
		if err := s.Commit(tok, payload, expiry(created[u])); err != nil {
			t.Fatal(err)
		}
	}
	before := heapAfterGC()
	for i := range flood {
		// Each millisecond perMilli new sessions, and one user's request:
		// every user makes one a second.
		tok := fmt.Sprint("flood-", i)
		if err := s.Commit(tok, payload, expiry(now)); err != nil {
			t.Fatal(err)
		}
		for range reuse {
			s.Find(tok)
			if err := s.Commit(tok, payload, expiry(now)); err != nil {
				t.Fatal(err)
			}
		}
		if logouts {
			if err := s.Delete(tok); err != nil {
				t.Fatal(err)
			}
		}
		if i%perMilli != 0 {
			continue
		}
		now = now.Add(time.Millisecond)
		u := i / perMilli % users
		if lost[u] {
			continue
		}
		tok = fmt.Sprint("user-", u)
		if _, ok, _ := s.Find(tok); !ok {
			lost[u] = true
			continue
		}
		if err := s.Commit(tok, payload, expiry(created[u])); err != nil {
			t.Fatal(err)
		}
	}
	r := floodResult{flood: flood, users: users, heap: heapAfterGC() - before}
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	all := must(s.All())
	r.held = len(all)
	if r.held > maxSessions {
		t.Fatalf("store holds %d sessions, MaxSessions is %d", r.held, maxSessions)
	}
	for u := range users {
		if _, ok := all[fmt.Sprint("user-", u)]; ok && !lost[u] {
			r.kept++
		}
	}
	// What the bound allows, and then some for maps and index: 6400
	// sessions of about 600 bytes is 4 MB.
	if r.heap > 16<<20 {
		t.Errorf("heap grew by %d bytes under a flood of %d sessions", r.heap, flood)
	}
	return r
}

func checkKept(t *testing.T, what string, r floodResult) {
	t.Helper()
	t.Logf("%d %s: %d of %d active users kept, %d sessions held, heap %+d bytes", r.flood, what, r.kept, r.users, r.held, r.heap)
	if r.kept*100 < r.users*99 {
		t.Errorf("%s: %d of %d active users kept, want at least 99%%", what, r.kept, r.users)
	}
}

// An attacker creates sessions as fast as it can while real users keep
// using theirs, with SCS's default fixed Lifetime: the users' sessions,
// created first, are the nearest to expiry, yet they are kept.
func TestFloodKeepsActiveUsersFixedLifetime(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	checkKept(t, "new sessions, fixed lifetime", floodActiveUsers(t, 300_000/floodScale, false, false))
}

// The same flood with an idle timeout: every request slides the expiry.
func TestFloodKeepsActiveUsersIdleTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	checkKept(t, "new sessions, idle timeout", floodActiveUsers(t, 300_000/floodScale, true, false))
}

// A flood of logouts (a new session committed and deleted, 1,000 a
// second) evicts its own tombstones, not the active users.
func TestLogoutFloodKeepsActiveUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	checkKept(t, "logouts, fixed lifetime", floodActiveUsers(t, 100_000/floodScale, false, true))
}

// A flood ten times as fast (10,000 new sessions a second) with a fixed
// lifetime: the users' sessions, used every second, are in the main queue
// and stay, however fast the probation queue turns over.
func TestFloodKeepsActiveUsersFastFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	checkKept(t, "new sessions at 10/ms, fixed lifetime", floodActiveUsersAt(t, 300_000/floodScale, 10, 0, false, false))
}

// A flood whose sessions are each used once more right after they are
// created (an attacker that sends the cookie back once): promotion spends a
// use, so the users, used every second, still outlast it.
func TestFloodReusedOnceKeepsActiveUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	checkKept(t, "new sessions each used once more, fixed lifetime", floodActiveUsersAt(t, 300_000/floodScale, 1, 1, false, false))
}
