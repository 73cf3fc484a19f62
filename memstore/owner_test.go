package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// ownedData returns SCS session data of owner ("" for none), made distinct
// by n.
func ownedData(t testing.TB, owner string, n int, expiry time.Time) []byte {
	t.Helper()
	values := map[string]any{"n": n}
	if owner != "" {
		values[storetest.OwnerKey] = owner
	}
	b, err := scs.GobCodec{}.Encode(expiry, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// prefixOwner is a cheap OwnerFunc for the soaks (SCS's gob decoding costs
// much more under -race than the index): data of the form "owner|..."
// (prefixData) is owned by owner.
func prefixOwner(data []byte) (string, error) {
	owner, _, ok := strings.Cut(string(data), "|")
	if !ok {
		return "", errors.New("no owner")
	}
	return owner, nil
}

func prefixData(owner string, n int) []byte { return fmt.Appendf(nil, "%s|%d", owner, n) }

// checkIndexExact checks that the store's index holds exactly the sessions
// it stores (live, or expired and not yet removed) that have an owner, each
// under the owner its data names, and that UserSessions and
// CountUserSessions give exactly the live ones.
func checkIndexExact(t *testing.T, s *memstore.MemStore, owners []string) (stored int) {
	t.Helper()
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	want := make(map[string][]string)
	live := make(map[string][]string)
	all := memstore.Stored(s)
	for tok, data := range all {
		owner, err := prefixOwner(data)
		if err != nil {
			t.Fatalf("stored session %s: %v", tok, err)
		}
		if owner == "" {
			continue
		}
		want[owner] = append(want[owner], tok)
		if _, ok, _ := s.Find(tok); ok {
			live[owner] = append(live[owner], sessionstore.SessionID(tok))
		}
	}
	got := memstore.Indexed(s)
	for _, m := range []map[string][]string{want, got, live} {
		for _, v := range m {
			slices.Sort(v)
		}
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("the index holds %v\nthe stored sessions are %v", got, want)
	}
	for _, o := range owners {
		list, err := s.UserSessions(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(list))
		for i, us := range list {
			ids[i] = us.ID
			if i > 0 && us.LastSeen.After(list[i-1].LastSeen) {
				t.Fatalf("UserSessions(%q) not most recent first: %v after %v", o, us.LastSeen, list[i-1].LastSeen)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, live[o]) {
			t.Fatalf("UserSessions(%q) = %v, want the live %v", o, ids, live[o])
		}
		if n, err := s.CountUserSessions(context.Background(), o); err != nil || n != len(live[o]) {
			t.Fatalf("CountUserSessions(%q) = %d, %v; want %d", o, n, err, len(live[o]))
		}
	}
	return len(all)
}

// A randomized soak of commits (new, renewed with the same data, changing
// owner), deletes, revocations, expiries and cleanups on a store small
// enough to evict all the time: after every step of the way the index holds
// exactly the owned sessions the store holds, and at the end, once cleanup
// has removed everything, nothing.
func TestIndexSoak(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	now := time.Now().Truncate(time.Microsecond)
	clock := func() time.Time { return now }
	s := mustNew(t, memstore.Config{
		Owner: prefixOwner, Now: clock, CleanupInterval: -1, CleanupBatchSize: 7,
		MaxSessions: 120, MaxBytes: 32 << 10, TombstoneLifetime: 10 * time.Minute, ClockSkew: time.Minute,
	})
	owners := []string{"alice", "bob", "carol", "dave", "Alice", "alice "}
	toks := make([]string, 700)
	for i := range toks {
		toks[i] = fmt.Sprintf("tok-%040d", i)
	}
	last := make(map[string][]byte) // the data last committed per token
	ctx := context.Background()
	counts := make(map[string]int)
	for step := range 20000 {
		tok := toks[rng.IntN(len(toks))]
		owner := ""
		if rng.IntN(4) > 0 {
			owner = owners[rng.IntN(len(owners))]
		}
		exp := now.Add(time.Duration(1+rng.IntN(30)) * time.Minute)
		switch op := rng.IntN(100); {
		case op < 40:
			data := prefixData(owner, step)
			cctx := ctx
			if rng.IntN(2) == 0 {
				ua := strings.Repeat("u", rng.IntN(600))
				cctx = sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: ua, IP: "192.0.2.7"})
			}
			if err := s.CommitCtx(cctx, tok, data, exp); err != nil {
				t.Fatal(err)
			}
			last[tok] = data
			counts["commit"]++
		case op < 60:
			if data, ok := last[tok]; ok { // a renewal: same bytes
				if err := s.Commit(tok, data, exp); err != nil {
					t.Fatal(err)
				}
				counts["renew"]++
			}
		case op < 70:
			if err := s.Delete(tok); err != nil {
				t.Fatal(err)
			}
			counts["delete"]++
		case op < 73:
			if _, err := s.DeleteUserSessionsExcept(ctx, owner, tok); err != nil {
				t.Fatal(err)
			}
			counts["revoke"]++
		case op < 76:
			if _, err := s.DeleteUserSession(ctx, owner, sessionstore.SessionID(tok)); err != nil {
				t.Fatal(err)
			}
			counts["revoke one"]++
		case op < 78: // RenewToken: the data moves to a new token
			if data, ok := last[tok]; ok {
				to := toks[rng.IntN(len(toks))]
				if err := s.Commit(to, data, exp); err != nil {
					t.Fatal(err)
				}
				last[to] = data
				if err := s.Delete(tok); err != nil {
					t.Fatal(err)
				}
				counts["renew token"]++
			}
		case op < 93:
			now = now.Add(time.Duration(rng.IntN(60)) * time.Second)
		default:
			n, err := s.DeleteExpired(ctx)
			if err != nil {
				t.Fatal(err)
			}
			counts["cleaned"] += int(n)
		}
		counts["most held"] = max(counts["most held"], int(memstore.Held(s)))
		if step%500 == 0 {
			counts["most stored"] = max(counts["most stored"], checkIndexExact(t, s, owners))
		}
	}
	if counts["most held"] != 120 {
		t.Fatalf("the soak never reached MaxSessions 120: at most %d entries held", counts["most held"])
	}
	checkIndexExact(t, s, owners)
	t.Logf("operations: %v", counts)
	now = now.Add(time.Hour)
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	checkIndexExact(t, s, owners)
	if idx := memstore.Indexed(s); len(idx) != 0 {
		t.Fatalf("after cleanup of every session the index holds %v", idx)
	}
}

// The same mix from several goroutines at once (under -race): the index is
// consistent with the sessions when they are done.
func TestIndexConcurrentSoak(t *testing.T) {
	s := mustNew(t, memstore.Config{Owner: prefixOwner, CleanupInterval: -1, MaxSessions: 200, CleanupBatchSize: 5,
		Logger: slog.New(slog.DiscardHandler)})
	owners := []string{"alice", "bob", "carol"}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for step := range 3000 {
				tok := fmt.Sprintf("tok-%040d", rng.IntN(400))
				owner := owners[rng.IntN(len(owners))]
				exp := time.Now().Add(time.Duration(rng.IntN(3000)-100) * time.Millisecond)
				var err error
				switch rng.IntN(10) {
				case 0, 1, 2, 3, 4:
					err = s.Commit(tok, prefixData(owner, step), exp)
				case 5:
					err = s.Delete(tok)
				case 6:
					_, err = s.DeleteUserSessionsExcept(ctx, owner, tok)
				case 7:
					_, err = s.UserSessions(ctx, owner)
				case 8:
					_, err = s.DeleteUserSession(ctx, owner, sessionstore.SessionID(tok))
				default:
					_, err = s.DeleteExpired(ctx)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkIndexExact(t, s, owners)
}

// With Owner nil the UserIndex methods say the index is off, and Commit
// takes data no OwnerFunc could read, as always.
func TestIndexOff(t *testing.T) {
	s := mustNew(t, memstore.Config{CleanupInterval: -1})
	ctx := context.Background()
	if err := s.Commit("tok", []byte("not gob"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["UserSessions"] = s.UserSessions(ctx, "alice")
	_, checks["CountUserSessions"] = s.CountUserSessions(ctx, "alice")
	_, checks["DeleteUserSession"] = s.DeleteUserSession(ctx, "alice", "id")
	_, checks["DeleteUserSessions"] = s.DeleteUserSessions(ctx, "alice")
	_, checks["DeleteUserSessionsExcept"] = s.DeleteUserSessionsExcept(ctx, "alice", "tok")
	for name, err := range checks {
		if !errors.Is(err, sessionstore.ErrNoIndex) || !strings.HasPrefix(err.Error(), "memstore: ") {
			t.Errorf("%s with the index off: %v, want a memstore error matching ErrNoIndex", name, err)
		}
	}
	if _, ok, _ := s.Find("tok"); !ok {
		t.Fatal("session lost")
	}
}

// Index entries count against MaxBytes: sessions with long user agents fit
// fewer to the bound, and the store stays within it.
func TestIndexCountsBytes(t *testing.T) {
	const maxBytes = 32 << 10
	s := mustNew(t, memstore.Config{Owner: storetest.Owner, CleanupInterval: -1, MaxBytes: maxBytes})
	ua := strings.Repeat("a", sessionstore.MaxUserAgentLen)
	ctx := sessionstore.WithClient(context.Background(), sessionstore.Client{UserAgent: ua, IP: "2001:db8::1"})
	exp := time.Now().Add(time.Hour)
	var held int64
	for i := range 300 {
		tok := fmt.Sprintf("tok-%040d", i)
		data := ownedData(t, "alice", i, exp)
		if err := s.CommitCtx(ctx, tok, data, exp); err != nil {
			t.Fatal(err)
		}
		held = int64(len(tok) + len(data) + len(ua) + len("2001:db8::1") + len("alice"))
	}
	n, err := s.CountUserSessions(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if int64(n)*held > maxBytes {
		t.Fatalf("%d sessions of %d bytes each with their index entries are held under MaxBytes %d", n, held, maxBytes)
	}
	if memstore.Bytes(s) > maxBytes {
		t.Fatalf("store counts %d bytes, over MaxBytes %d", memstore.Bytes(s), maxBytes)
	}
	if err := memstore.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	// A session that fits MaxBytes only without its index entry is refused.
	small := mustNew(t, memstore.Config{Owner: storetest.Owner, CleanupInterval: -1, MaxBytes: 600})
	data := ownedData(t, "alice", 0, exp)
	if err := small.CommitCtx(ctx, "tok", data, exp); !errors.Is(err, sessionstore.ErrTooLarge) {
		t.Fatalf("Commit of %d bytes with a %d-byte user agent under MaxBytes 600: %v, want ErrTooLarge", len(data), len(ua), err)
	}
	if all := must(small.All()); len(all) != 0 {
		t.Fatal("a refused session was stored")
	}
}

// An attacker signing in as one user over and over holds at most the
// store's bound of sessions, lists at most that many, and once they are
// gone the index holds nothing of them.
func TestIndexOneOwnerFlood(t *testing.T) {
	const maxSessions = 500
	s := mustNew(t, memstore.Config{Owner: prefixOwner, CleanupInterval: -1, MaxSessions: maxSessions, CleanupBatchSize: 3})
	exp := time.Now().Add(time.Hour)
	data := prefixData("mallory", 0)
	for i := range 20000 {
		if err := s.Commit(fmt.Sprintf("tok-%040d", i), data, exp); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.UserSessions(context.Background(), "mallory")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || len(list) > maxSessions {
		t.Fatalf("UserSessions lists %d sessions, bound %d", len(list), maxSessions)
	}
	if n, err := s.DeleteUserSessions(context.Background(), "mallory"); err != nil || n != len(list) {
		t.Fatalf("DeleteUserSessions = %d, %v; want %d", n, err, len(list))
	}
	checkIndexExact(t, s, []string{"mallory"})
	if idx := memstore.Indexed(s); len(idx) != 0 {
		t.Fatalf("index after revoking all: %v", idx)
	}
}

// A renewal with the same bytes keeps the session's owner and moves its
// last-seen time without reading the owner again; new bytes are read.
func TestIndexRenewalSameData(t *testing.T) {
	calls := 0
	now := time.Now().Truncate(time.Microsecond)
	s := mustNew(t, memstore.Config{CleanupInterval: -1, Now: func() time.Time { return now },
		Owner: func(b []byte) (string, error) { calls++; return storetest.Owner(b) }})
	exp := now.Add(time.Hour)
	data := ownedData(t, "alice", 0, exp)
	if err := s.Commit("tok", data, exp); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := s.Commit("tok", data, exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Owner called %d times for a new session and its renewal, want 1", calls)
	}
	list, err := s.UserSessions(context.Background(), "alice")
	if err != nil || len(list) != 1 || !list[0].LastSeen.Equal(now) || !list[0].Expiry.Equal(exp.Add(time.Minute)) {
		t.Fatalf("after renewal: %+v, %v", list, err)
	}
	// The same bytes under another token are another session: read.
	if err := s.Commit("other", data, exp); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("tok", ownedData(t, "bob", 1, exp), exp); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Fatalf("Owner called %d times, want 3", calls)
	}
	if n, _ := s.CountUserSessions(context.Background(), "bob"); n != 1 {
		t.Fatalf("bob has %d sessions, want 1", n)
	}
	// Data too large to compare under the lock is compared outside it.
	big := scsData(t, "carol", 8<<10, 0)
	for range 3 {
		if err := s.Commit("big", big, exp); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 4 {
		t.Fatalf("Owner called %d times, want 4", calls)
	}
	if n, _ := s.CountUserSessions(context.Background(), "carol"); n != 1 {
		t.Fatalf("carol has %d sessions, want 1", n)
	}
	// Renewing a deleted session with its old bytes brings nothing back.
	if err := s.Delete("other"); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("other", data, exp); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountUserSessions(context.Background(), "alice"); n != 0 {
		t.Fatalf("alice has %d sessions after her last was deleted, want 0", n)
	}
}

// A session that changes owner between DeleteUserSession's finding it and
// its deletion (switch user, in a request of that moment) is not deleted:
// DeleteUserSession never deletes another user's session.
func TestIndexDeleteOneOwnerChangedMeanwhile(t *testing.T) {
	s := mustNew(t, memstore.Config{Owner: prefixOwner, CleanupInterval: -1})
	exp := time.Now().Add(time.Hour)
	if err := s.Commit("tok", prefixData("alice", 0), exp); err != nil {
		t.Fatal(err)
	}
	memstore.SetHookDeleteUserSession(t, func(tok string) {
		if err := s.Commit(tok, prefixData("bob", 1), exp); err != nil {
			t.Error(err)
		}
	})
	if ok, err := s.DeleteUserSession(context.Background(), "alice", sessionstore.SessionID("tok")); err != nil || ok {
		t.Fatalf("DeleteUserSession(alice) of a session now bob's = %v, %v; want false, nil", ok, err)
	}
	if b, ok, _ := s.Find("tok"); !ok || string(b) != "bob|1" {
		t.Fatalf("bob's session: %q, %v", b, ok)
	}
	checkIndexExact(t, s, []string{"alice", "bob"})
}

// What the index adds to an owned session's heap is at most what it counts
// against MaxBytes (memstore.IndexBytes), in the worst case for it: every
// session of its own owner (so each has its owner's list and record, and
// their map slots, to itself), with a client. Measured against the same
// sessions in a store without the index, after garbage collection.
func TestIndexHeapCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("fills two stores")
	}
	client := sessionstore.Client{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", IP: "203.0.113.7"}
	ctx := sessionstore.WithClient(context.Background(), client)
	exp := time.Now().Add(time.Hour)
	for _, n := range []int{10_000, 45_000, 100_000 / floodScale} {
		var heap [2]int64
		var counted int64
		for k, owner := range []sessionstore.OwnerFunc{nil, prefixOwner} {
			before := heapAfterGC()
			s := mustNew(t, memstore.Config{Owner: owner, CleanupInterval: -1})
			for i := range n {
				if err := s.CommitCtx(ctx, fmt.Sprintf("heap-%038d", i), prefixData(fmt.Sprintf("user-%07d", i), i), exp); err != nil {
					t.Fatal(err)
				}
			}
			heap[k] = heapAfterGC() - before
			if owner != nil {
				counted = memstore.IndexBytes(s)
			}
			runtime.KeepAlive(s)
		}
		added := (heap[1] - heap[0]) / int64(n)
		t.Logf("%d sessions, each of its own owner: the index adds %d heap bytes a session, counts %d", n, added, counted/int64(n))
		if added*int64(n) > counted {
			t.Errorf("%d sessions: the index adds %d heap bytes a session and counts %d against MaxBytes", n, added, counted/int64(n))
		}
	}
}

// A listing reads the index entries of a user without the shards' locks
// (see ownerShards): a session moving between two owners while both are
// listed, over and over, is a data race for the race detector (go test
// -race) if an entry's fields are written outside what the listing
// synchronizes with. Each listing also sees the session under at most one
// of the two owners at a time per listing.
func TestIndexListWhileOwnerChanges(t *testing.T) {
	s := mustNew(t, memstore.Config{Owner: prefixOwner, CleanupInterval: -1})
	ctx := sessionstore.WithClient(context.Background(), sessionstore.Client{UserAgent: "ua", IP: "203.0.113.7"})
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 20_000 / floodScale {
			owner := []string{"alice", "bob"}[i%2]
			c := ctx
			if i%3 == 0 {
				c = sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: fmt.Sprint("ua-", i)})
			}
			if err := s.CommitCtx(c, "moving-session-token", prefixData(owner, i), exp); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for _, owner := range []string{"alice", "bob"} {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				list, err := s.UserSessions(context.Background(), owner)
				if err != nil || len(list) > 1 {
					t.Errorf("UserSessions(%s) = %d sessions, %v; want at most the one", owner, len(list), err)
					return
				}
				for _, us := range list {
					if us.Created.IsZero() || us.LastSeen.Before(us.Created) {
						t.Errorf("UserSessions(%s): created %v, last seen %v", owner, us.Created, us.LastSeen)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	checkIndexExact(t, s, []string{"alice", "bob"})
}
