package memstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// touchValues is a session of three keys and about 1 KiB, as the issue's
// workload has it: gob writes its map in an order that varies.
var touchValues = map[string]any{"user_id": "alice", "csrf": "7oMz0bZnQpR1", "pad": strings.Repeat("x", 960)}

func touchData(tb testing.TB, values map[string]any) []byte {
	tb.Helper()
	b, err := scs.GobCodec{}.Encode(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), values)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestTouchWindowNegative(t *testing.T) {
	_, err := memstore.NewWithConfig(memstore.Config{TouchWindow: -time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "memstore: config: TouchWindow") {
		t.Fatalf("NewWithConfig with a negative TouchWindow: %v, want a memstore: config: TouchWindow error", err)
	}
}

// expiries returns the stored expiry of every session of s.
func expiries(t *testing.T, s *memstore.MemStore) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for sess, err := range s.Sessions(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out[sess.Token] = sess.Expiry
	}
	return out
}

// TestTouchWrites: sessions that a request loads and commits unchanged
// every 5 s for 10 minutes, with a 30-minute idle timeout, are written at
// most once a minute each with a window of a minute, and on every Commit
// without it. A write is counted when it moves the stored expiry, as every
// write here does (each Commit asks for a later one).
func TestTouchWrites(t *testing.T) {
	const (
		sessions = 50
		step     = 5 * time.Second
		span     = 10 * time.Minute
		idle     = 30 * time.Minute
	)
	for _, window := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint("window=", window), func(t *testing.T) {
			clock := storetest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
			s := mustNew(t, memstore.Config{Now: clock.Now, CleanupInterval: -1, TouchWindow: window})
			defer s.StopCleanup()
			toks := make([]string, sessions)
			for i := range toks {
				toks[i] = fmt.Sprintf("touch-writes-token-%02d-xxxxxxxxxxxxxxxxxxxxxx", i)
			}
			writes, commits := 0, 0
			before := map[string]time.Time{}
			for elapsed := time.Duration(0); elapsed <= span; elapsed += step {
				for _, tok := range toks {
					if elapsed > 0 {
						if _, ok, err := s.Find(tok); err != nil || !ok {
							t.Fatalf("Find(%s) at %v: %v, %v", tok, elapsed, ok, err)
						}
					}
					if err := s.Commit(tok, touchData(t, touchValues), clock.Now().Add(idle)); err != nil {
						t.Fatal(err)
					}
					commits++
				}
				after := expiries(t, s)
				for _, tok := range toks {
					if !after[tok].Equal(before[tok]) {
						writes++
					}
				}
				before = after
				clock.Advance(step)
			}
			perSession := int(span/time.Minute) + 1 // one a minute, plus the first
			switch {
			case window == 0 && writes != commits:
				t.Fatalf("%d writes of %d Commits without the option, want every one", writes, commits)
			case window > 0 && writes > sessions*perSession:
				t.Fatalf("%d writes of %d Commits, want at most %d (one per session per minute, plus the first)",
					writes, commits, sessions*perSession)
			}
			t.Logf("%d sessions, %d Commits, %d writes", sessions, commits, writes)
		})
	}
}

// TestTouchSkipAllocates: a skipped Commit copies nothing; without the
// option the same Commit copies its data.
func TestTouchSkipAllocates(t *testing.T) {
	for _, window := range []time.Duration{0, time.Minute} {
		clock := storetest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
		s := mustNew(t, memstore.Config{Now: clock.Now, CleanupInterval: -1, TouchWindow: window})
		const tok = "touch-allocs-token-xxxxxxxxxxxxxxxxxxxxxxxxxx"
		data := touchData(t, touchValues)
		exp := clock.Now().Add(30 * time.Minute)
		if err := s.Commit(tok, data, exp); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := s.Commit(tok, data, exp); err != nil {
				t.Fatal(err)
			}
		})
		s.StopCleanup()
		if window > 0 && allocs != 0 {
			t.Errorf("window %v: a skipped Commit allocates %v times, want 0", window, allocs)
		}
		if window == 0 && allocs == 0 {
			t.Errorf("window 0: Commit allocates nothing: the test proves nothing")
		}
	}
}

// TestTouchEvicted: a session evicted under the bounds is written again by
// its next unchanged Commit: a skip is decided on the stored session, never
// on a memory of it, so an active user whose session was evicted keeps it.
func TestTouchEvicted(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	s := mustNew(t, memstore.Config{Now: clock.Now, CleanupInterval: -1, TouchWindow: time.Minute, MaxSessions: 256})
	defer s.StopCleanup()
	const tok = "touch-evicted-token-xxxxxxxxxxxxxxxxxxxxxxxxx"
	data := touchData(t, touchValues)
	if err := s.Commit(tok, data, clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := range 10 * 256 { // a flood of new sessions evicts tok
		if err := s.Commit(fmt.Sprintf("touch-flood-%06d-xxxxxxxxxxxxxxxxxxxxxxxx", i), []byte("x"), clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.Find(tok); ok {
		t.Fatal("the session was not evicted: the test proves nothing")
	}
	clock.Advance(time.Second)
	if err := s.Commit(tok, touchData(t, touchValues), clock.Now().Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Find(tok); err != nil || !ok {
		t.Fatalf("Find after an unchanged Commit of an evicted session: %v, %v; want it written again", ok, err)
	}
}

// TestTouchIndexed: with the per-user index on, an unchanged Commit within
// the window is skipped (LastSeen stays at the last write), but one whose
// context carries another client is written, so the listing shows the
// client of the latest request; a change of owner is a change of data.
func TestTouchIndexed(t *testing.T) {
	clock := storetest.NewClock(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	s := mustNew(t, memstore.Config{Now: clock.Now, CleanupInterval: -1, TouchWindow: time.Minute, Owner: storetest.Owner})
	defer s.StopCleanup()
	ctx := context.Background()
	const tok = "touch-indexed-token-xxxxxxxxxxxxxxxxxxxxxxxxx"
	values := map[string]any{storetest.OwnerKey: "alice", "csrf": "x", "pad": strings.Repeat("y", 900)}
	phone := sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: "phone", IP: "192.0.2.1"})
	laptop := sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: "laptop", IP: "192.0.2.2"})
	commit := func(ctx context.Context, values map[string]any) {
		t.Helper()
		if err := s.CommitCtx(ctx, tok, touchData(t, values), clock.Now().Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(user string) sessionstore.UserSession {
		t.Helper()
		list, err := s.UserSessions(ctx, user)
		if err != nil || len(list) != 1 {
			t.Fatalf("UserSessions(%s): %v, %v; want one session", user, list, err)
		}
		return list[0]
	}
	commit(phone, values)
	first := clock.Now()
	clock.Advance(10 * time.Second)
	commit(phone, values) // skipped
	commit(ctx, values)   // skipped: no client
	if got := listed("alice"); !got.LastSeen.Equal(first) || got.UserAgent != "phone" {
		t.Fatalf("after unchanged Commits: LastSeen %v, UserAgent %q; want %v, phone", got.LastSeen, got.UserAgent, first)
	}
	clock.Advance(time.Second)
	commit(laptop, values)
	if got := listed("alice"); !got.LastSeen.Equal(clock.Now()) || got.UserAgent != "laptop" {
		t.Fatalf("after a Commit from another client: LastSeen %v, UserAgent %q; want %v, laptop", got.LastSeen, got.UserAgent, clock.Now())
	}
	clock.Advance(time.Second)
	values[storetest.OwnerKey] = "bob"
	commit(laptop, values)
	listed("bob")
	if n, err := s.CountUserSessions(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("CountUserSessions(alice) after the owner changed: %d, %v", n, err)
	}
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
}
