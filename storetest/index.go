package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
)

// OwnerKey is the session key under which the Index subtests keep a
// session's owner.
const OwnerKey = "user_id"

// Owner is the OwnerFunc a store under the Index subtests must read owners
// with: the string under OwnerKey of data encoded by scs.GobCodec, as an SCS
// application configures it.
var Owner = sessionstore.OwnerKey(scs.GobCodec{}, OwnerKey)

// IndexedStore is a store with its per-user index on.
type IndexedStore interface {
	Store
	sessionstore.UserIndex
}

// encode returns SCS session data holding values, as scs.GobCodec writes it.
func encode(t *testing.T, expiry time.Time, values map[string]any) []byte {
	t.Helper()
	b, err := scs.GobCodec{}.Encode(expiry, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ienv is one Index subtest's store.
type ienv struct {
	*env
	idx IndexedStore
	ctx context.Context
}

func (s suite) indexEnv(t *testing.T) *ienv {
	t.Helper()
	if s.opts.Indexed == nil {
		t.Skip("the store's test gives no storetest.Options.Indexed")
	}
	c := NewClock(time.Now().Truncate(time.Microsecond))
	st := s.opts.Indexed(t, c.Now)
	idx, ok := st.(IndexedStore)
	if !ok {
		t.Fatalf("%T, the store of Options.Indexed, does not implement sessionstore.UserIndex", st)
	}
	return &ienv{env: &env{t: t, store: st, clock: c}, idx: idx, ctx: context.Background()}
}

// signIn commits a fresh session of user (no owner if user is "") expiring
// in ttl, and returns its token.
func (e *ienv) signIn(user string, ttl time.Duration) string {
	e.t.Helper()
	tok := token()
	e.commitAs(tok, user, ttl)
	return tok
}

// commitAs commits tok as a session of user (none if ""), expiring in ttl.
func (e *ienv) commitAs(tok, user string, ttl time.Duration) []byte {
	e.t.Helper()
	values := map[string]any{"theme": "dark", "cart": 3}
	if user != "" {
		values[OwnerKey] = user
	}
	exp := e.now().Add(ttl)
	data := encode(e.t, exp, values)
	e.commit(tok, data, exp)
	return data
}

// list returns the IDs UserSessions gives for user, sorted, and checks that
// CountUserSessions agrees.
func (e *ienv) list(user string) []string {
	e.t.Helper()
	got, err := e.idx.UserSessions(e.ctx, user)
	if err != nil {
		e.t.Fatalf("UserSessions(%q): %v", user, err)
	}
	ids := make([]string, len(got))
	for i, us := range got {
		ids[i] = us.ID
	}
	slices.Sort(ids)
	n, err := e.idx.CountUserSessions(e.ctx, user)
	if err != nil {
		e.t.Fatalf("CountUserSessions(%q): %v", user, err)
	}
	if n != len(ids) {
		e.t.Fatalf("CountUserSessions(%q) = %d, UserSessions lists %d", user, n, len(ids))
	}
	return ids
}

// listed asserts that user's sessions are exactly those of tokens.
func (e *ienv) listed(user string, tokens ...string) {
	e.t.Helper()
	want := make([]string, len(tokens))
	for i, tok := range tokens {
		want[i] = sessionstore.SessionID(tok)
	}
	slices.Sort(want)
	if got := e.list(user); !slices.Equal(got, want) {
		e.t.Fatalf("UserSessions(%q) lists %d sessions %v, want %d %v", user, len(got), got, len(want), want)
	}
}

// lateCommitAs commits tok for user as a request that loaded it before it
// was deleted; it must be a no-op, and never listed.
func (e *ienv) lateCommitAs(tok, user string) {
	e.t.Helper()
	e.commitAs(tok, user, time.Hour)
	e.notFound(tok)
}

// testIndex checks the per-user index (sessionstore.UserIndex) of the store
// that Options.Indexed builds.
func (s suite) testIndex(t *testing.T) {
	t.Run("List", func(t *testing.T) {
		e := s.indexEnv(t)
		a1, a2, a3 := e.signIn("alice", time.Hour), e.signIn("alice", 2*time.Hour), e.signIn("alice", time.Minute)
		b1 := e.signIn("bob", time.Hour)
		e.signIn("", time.Hour) // anonymous: not indexed
		e.listed("alice", a1, a2, a3)
		e.listed("bob", b1)
		e.listed("carol")
		e.listed("")
		got, err := e.idx.UserSessions(e.ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		for _, us := range got {
			if us.ID == sessionstore.SessionID(a2) && !us.Expiry.Equal(e.now().Add(2*time.Hour)) {
				t.Errorf("Expiry = %v, want %v", us.Expiry, e.now().Add(2*time.Hour))
			}
		}
	})
	t.Run("MostRecentFirst", func(t *testing.T) {
		e := s.indexEnv(t)
		a1 := e.signIn("alice", time.Hour)
		e.wait(time.Minute)
		a2 := e.signIn("alice", time.Hour)
		e.wait(time.Minute)
		e.commitAs(a1, "alice", time.Hour) // a1 seen again, last
		got, err := e.idx.UserSessions(e.ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != sessionstore.SessionID(a1) || got[1].ID != sessionstore.SessionID(a2) {
			t.Fatalf("UserSessions = %+v, want a1 (seen last) then a2", got)
		}
	})
	t.Run("Metadata", func(t *testing.T) {
		e := s.indexEnv(t)
		cs, ok := e.store.(CtxStore)
		if !ok {
			t.Skip("store has no CommitCtx")
		}
		created := e.now()
		tok := e.signIn("alice", time.Hour) // no client in the context
		one := func() sessionstore.UserSession {
			t.Helper()
			got, err := e.idx.UserSessions(e.ctx, "alice")
			if err != nil || len(got) != 1 {
				t.Fatalf("UserSessions = %+v, %v; want one session", got, err)
			}
			return got[0]
		}
		us := one()
		if !us.Created.Equal(created) || !us.LastSeen.Equal(created) {
			t.Errorf("Created, LastSeen = %v, %v; want both %v", us.Created, us.LastSeen, created)
		}
		if us.UserAgent != "" || us.IP != "" {
			t.Errorf("UserAgent, IP = %q, %q though the application never gave them", us.UserAgent, us.IP)
		}
		e.wait(time.Minute)
		ua := "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0 'quoted' \"too\" é"
		ctx := sessionstore.WithClient(e.ctx, sessionstore.Client{UserAgent: ua, IP: "2001:db8::1"})
		exp := e.now().Add(time.Hour)
		if err := cs.CommitCtx(ctx, tok, encode(t, exp, map[string]any{OwnerKey: "alice"}), exp); err != nil {
			t.Fatal(err)
		}
		us = one()
		if !us.Created.Equal(created) || !us.LastSeen.Equal(e.now()) || !us.Expiry.Equal(exp) {
			t.Errorf("Created, LastSeen, Expiry = %v, %v, %v; want %v, %v, %v", us.Created, us.LastSeen, us.Expiry, created, e.now(), exp)
		}
		if us.UserAgent != ua || us.IP != "2001:db8::1" {
			t.Errorf("UserAgent, IP = %q, %q; want %q, %q", us.UserAgent, us.IP, ua, "2001:db8::1")
		}
		// A Commit without a client keeps the last one the application gave.
		e.wait(time.Minute)
		e.commitAs(tok, "alice", time.Hour)
		if us = one(); us.UserAgent != ua || us.IP != "2001:db8::1" || !us.LastSeen.Equal(e.now()) {
			t.Errorf("after a Commit without a client: %+v", us)
		}
		// A user agent of any length is kept at most MaxUserAgentLen bytes.
		ctx = sessionstore.WithClient(e.ctx, sessionstore.Client{UserAgent: strings.Repeat("é", 4096), IP: "192.0.2.1"})
		if err := cs.CommitCtx(ctx, tok, encode(t, exp, map[string]any{OwnerKey: "alice"}), exp); err != nil {
			t.Fatal(err)
		}
		if us = one(); len(us.UserAgent) > sessionstore.MaxUserAgentLen || !strings.HasPrefix(us.UserAgent, "éé") || us.IP != "192.0.2.1" {
			t.Errorf("long user agent stored as %d bytes, IP %q", len(us.UserAgent), us.IP)
		}
	})
	t.Run("DeleteOne", func(t *testing.T) {
		e := s.indexEnv(t)
		a1, a2 := e.signIn("alice", time.Hour), e.signIn("alice", time.Hour)
		b1 := e.signIn("bob", time.Hour)
		// Bob cannot delete Alice's session by posting its ID.
		if ok, err := e.idx.DeleteUserSession(e.ctx, "bob", sessionstore.SessionID(a1)); err != nil || ok {
			t.Fatalf("DeleteUserSession(bob, alice's ID) = %v, %v; want false, nil", ok, err)
		}
		e.found(a1, e.commitAs(a1, "alice", time.Hour))
		for _, id := range []string{"", "nonsense", "%", strings.Repeat("x", 10000), a2} { // a2: a token is not an ID
			if ok, err := e.idx.DeleteUserSession(e.ctx, "alice", id); err != nil || ok {
				t.Fatalf("DeleteUserSession(alice, %.20q) = %v, %v; want false, nil", id, ok, err)
			}
		}
		if ok, err := e.idx.DeleteUserSession(e.ctx, "alice", sessionstore.SessionID(a1)); err != nil || !ok {
			t.Fatalf("DeleteUserSession(alice, a1) = %v, %v; want true, nil", ok, err)
		}
		e.notFound(a1)
		e.listed("alice", a2)
		e.listed("bob", b1)
		e.lateCommitAs(a1, "alice") // the tombstone holds
		e.listed("alice", a2)
		if ok, err := e.idx.DeleteUserSession(e.ctx, "alice", sessionstore.SessionID(a1)); err != nil || ok {
			t.Fatalf("second DeleteUserSession = %v, %v; want false, nil", ok, err)
		}
	})
	t.Run("DeleteAllButCurrent", func(t *testing.T) {
		e := s.indexEnv(t)
		a1, a2, cur := e.signIn("alice", time.Hour), e.signIn("alice", time.Hour), e.signIn("alice", time.Hour)
		b1 := e.signIn("bob", time.Hour)
		anon := e.signIn("", time.Hour)
		n, err := e.idx.DeleteUserSessionsExcept(e.ctx, "alice", cur, b1, "not-a-session", "")
		if err != nil || n != 2 {
			t.Fatalf("DeleteUserSessionsExcept = %d, %v; want 2, nil", n, err)
		}
		e.listed("alice", cur)
		e.listed("bob", b1)
		e.notFound(a1)
		e.notFound(a2)
		e.lateCommitAs(a1, "alice")
		e.lateCommitAs(a2, "alice")
		e.listed("alice", cur)
		if _, ok, _ := e.store.Find(anon); !ok {
			t.Fatal("an anonymous session was deleted")
		}
		if n, err := e.idx.DeleteUserSessionsExcept(e.ctx, "alice", cur); err != nil || n != 0 {
			t.Fatalf("second DeleteUserSessionsExcept = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("DeleteAll", func(t *testing.T) {
		e := s.indexEnv(t)
		var alice []string
		for range 10 {
			alice = append(alice, e.signIn("alice", time.Hour))
		}
		b1 := e.signIn("bob", time.Hour)
		n, err := e.idx.DeleteUserSessions(e.ctx, "alice")
		if err != nil || n != 10 {
			t.Fatalf("DeleteUserSessions = %d, %v; want 10, nil", n, err)
		}
		e.listed("alice")
		e.listed("bob", b1)
		for _, tok := range alice {
			e.lateCommitAs(tok, "alice")
		}
		e.listed("alice")
		if n, err := e.idx.DeleteUserSessions(e.ctx, "nobody"); err != nil || n != 0 {
			t.Fatalf("DeleteUserSessions(nobody) = %d, %v; want 0, nil", n, err)
		}
	})
	t.Run("DeleteAllCancelled", func(t *testing.T) {
		// An account disabled from a request the client then abandons: the
		// sessions are deleted all the same, as with Delete.
		e := s.indexEnv(t)
		a1, a2 := e.signIn("alice", time.Hour), e.signIn("alice", time.Hour)
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if n, err := e.idx.DeleteUserSessions(ctx, "alice"); err != nil || n != 2 {
			t.Fatalf("DeleteUserSessions(cancelled) = %d, %v; want 2, nil", n, err)
		}
		e.notFound(a1)
		e.notFound(a2)
	})
	t.Run("DeleteAllRacingCommits", func(t *testing.T) {
		// Requests of Alice's devices in flight while her account is
		// disabled: none of them brings a session back.
		e := s.indexEnv(t)
		var alice []string
		for range 10 {
			alice = append(alice, e.signIn("alice", time.Hour))
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for _, tok := range alice {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					exp := e.now().Add(time.Hour)
					if err := e.store.Commit(tok, encode(t, exp, map[string]any{OwnerKey: "alice"}), exp); err != nil {
						t.Errorf("Commit: %v", err)
						return
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		n, err := e.idx.DeleteUserSessions(e.ctx, "alice")
		close(stop)
		wg.Wait()
		if err != nil || n != 10 {
			t.Fatalf("DeleteUserSessions = %d, %v; want 10, nil", n, err)
		}
		for _, tok := range alice {
			e.notFound(tok)
		}
		e.listed("alice")
	})
	t.Run("RenewToken", func(t *testing.T) {
		// SCS's RenewToken at sign-in: the data moves to a new token, the old
		// one is deleted.
		e := s.indexEnv(t)
		anon := e.signIn("", time.Hour)
		e.listed("alice")
		signedIn := e.signIn("alice", time.Hour)
		e.del(anon)
		e.listed("alice", signedIn)
		// Sign-out with RenewToken: a new token without the owner.
		out := e.signIn("", time.Hour)
		e.del(signedIn)
		e.listed("alice")
		if _, ok, _ := e.store.Find(out); !ok {
			t.Fatal("the signed-out session is gone")
		}
	})
	t.Run("OwnerChange", func(t *testing.T) {
		e := s.indexEnv(t)
		tok := e.signIn("alice", time.Hour)
		e.listed("alice", tok)
		e.commitAs(tok, "bob", time.Hour) // switch user in the same session
		e.listed("alice")
		e.listed("bob", tok)
		e.commitAs(tok, "", time.Hour) // sign-out without RenewToken
		e.listed("bob")
		e.commitAs(tok, "alice", time.Hour)
		e.listed("alice", tok)
	})
	t.Run("AfterDelete", func(t *testing.T) {
		e := s.indexEnv(t)
		a1, a2 := e.signIn("alice", time.Hour), e.signIn("alice", time.Hour)
		e.del(a1)
		e.listed("alice", a2)
		e.del(a1) // idempotent
		e.listed("alice", a2)
	})
	t.Run("AfterExpiry", func(t *testing.T) {
		e := s.indexEnv(t)
		short := e.signIn("alice", time.Minute)
		long := e.signIn("alice", time.Hour)
		e.wait(time.Minute) // expiry == now: expired
		e.listed("alice", long)
		e.wait(time.Hour)
		e.listed("alice")
		_ = short
	})
	t.Run("AfterCleanup", func(t *testing.T) {
		e := s.indexEnv(t)
		if _, ok := e.store.(ExpiredDeleter); !ok {
			t.Skip("store has no DeleteExpired method")
		}
		start := e.now()
		short := e.signIn("alice", time.Minute)
		long := e.signIn("alice", 3*time.Hour)
		gone := e.signIn("alice", 3*time.Hour)
		e.del(gone)
		e.wait(2 * time.Minute)
		e.cleanup()
		e.listed("alice", long)
		// Past every tombstone's lifetime and the clock skew: cleanup has
		// removed them, and nothing it removed comes back in the index, even
		// on a clock set back.
		e.wait(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)
		e.cleanup()
		e.clock.Set(start.Add(30 * time.Second))
		e.listed("alice", long)
		e.notFound(short)
		e.notFound(gone)
		again := e.signIn("alice", time.Hour)
		e.listed("alice", long, again)
	})
	t.Run("TombstonedNeverListed", func(t *testing.T) {
		e := s.indexEnv(t)
		tok := e.signIn("alice", time.Minute)
		e.del(tok)
		e.lateCommitAs(tok, "alice")
		e.lateCommitAs(tok, "mallory") // a late Commit as someone else, too
		e.listed("alice")
		e.listed("mallory")
		if s.opts.WriteBehind != nil {
			// A row written behind the tombstone, by a replica that ignores
			// it, carries no owner the index would list either way; the
			// check is that it is not served.
			exp := e.now().Add(time.Hour)
			s.opts.WriteBehind(t, e.store, tok, encode(t, exp, map[string]any{OwnerKey: "alice"}), exp)
			e.notFound(tok)
			e.listed("alice")
		}
	})
	t.Run("BadOwner", func(t *testing.T) {
		e := s.indexEnv(t)
		tok := e.signIn("alice", time.Hour)
		good, _, err := e.store.Find(tok)
		if err != nil {
			t.Fatal(err)
		}
		exp := e.now().Add(time.Hour)
		for name, owner := range map[string]any{
			"int":       42,
			"bytes":     []byte("alice"),
			"too long":  strings.Repeat("a", sessionstore.MaxOwnerLen+1),
			"not UTF-8": "al\xffice",
			"NUL":       "al\x00ice",
		} {
			data := encode(t, exp, map[string]any{OwnerKey: owner})
			err := e.store.Commit(tok, data, exp)
			if !errors.Is(err, sessionstore.ErrInvalidOwner) {
				t.Errorf("Commit with an owner that is %s: %v, want an error matching ErrInvalidOwner", name, err)
			}
			fresh := token()
			if err := e.store.Commit(fresh, data, exp); !errors.Is(err, sessionstore.ErrInvalidOwner) {
				t.Errorf("Commit of a new session with an owner that is %s: %v, want ErrInvalidOwner", name, err)
			}
			e.notFound(fresh)
		}
		// Data the codec cannot read is refused too, not silently unindexed.
		if err := e.store.Commit(tok, []byte("not gob"), exp); err == nil {
			t.Error("Commit of data without a readable owner: nil error")
		}
		e.found(tok, good) // nothing was written
		e.listed("alice", tok)
		long := strings.Repeat("é", sessionstore.MaxOwnerLen/2) // 254 bytes
		e.listed(long, e.signIn(long, time.Hour))
	})
	t.Run("OwnerIsJustAString", func(t *testing.T) {
		// Owners an attacker might pick to reach another user's sessions
		// through SQL, LIKE, glob or key patterns, collations that fold case
		// or pad spaces, and Unicode normalisation.
		e := s.indexEnv(t)
		owners := []string{
			"alice", "Alice", "ALICE", "alice ", " alice", "alice\t", "alic", "alicee",
			"%", "_", "a%", "al_ce", "*", "?", "[a]", "{alice}", "alice*",
			"' OR '1'='1", "alice'; DROP TABLE sessions; --", `\`, `a\`, "alice\\",
			"caf\u00e9", "cafe\u0301", "ß", "ss", "1", "01",
		}
		toks := make(map[string]string)
		for _, o := range owners {
			toks[o] = e.signIn(o, time.Hour)
		}
		for _, o := range owners {
			e.listed(o, toks[o])
		}
		if n, err := e.idx.DeleteUserSessions(e.ctx, "%"); err != nil || n != 1 {
			t.Fatalf("DeleteUserSessions(%%) = %d, %v; want 1", n, err)
		}
		if n, err := e.idx.DeleteUserSessions(e.ctx, "*"); err != nil || n != 1 {
			t.Fatalf("DeleteUserSessions(*) = %d, %v; want 1", n, err)
		}
		for _, o := range owners {
			if o == "%" || o == "*" {
				e.listed(o)
				continue
			}
			e.listed(o, toks[o])
		}
	})
	t.Run("ListedAreLive", func(t *testing.T) {
		// Every listed session is found, with the owner it is listed under,
		// across a mix of commits, deletes, expiries and owner changes.
		e := s.indexEnv(t)
		var toks []string
		for i := range 30 {
			user := []string{"alice", "bob", ""}[i%3]
			toks = append(toks, e.signIn(user, time.Duration(i+1)*time.Minute))
		}
		for i, tok := range toks {
			switch i % 5 {
			case 0:
				e.del(tok)
			case 1:
				e.commitAs(tok, "bob", time.Hour)
			}
		}
		e.wait(10 * time.Minute)
		for _, user := range []string{"alice", "bob"} {
			got, err := e.idx.UserSessions(e.ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			for _, us := range got {
				var tok string
				for _, t := range toks {
					if sessionstore.SessionID(t) == us.ID {
						tok = t
					}
				}
				data, ok, err := e.store.Find(tok)
				if err != nil || !ok {
					t.Fatalf("%s's listed session %s: Find = %v, %v", user, us.ID, ok, err)
				}
				owner, err := Owner(data)
				if err != nil || owner != user {
					t.Fatalf("%s's listed session %s is owned by %q (%v)", user, us.ID, owner, err)
				}
				if !us.Expiry.After(e.now()) {
					t.Fatalf("listed session expired at %v, now %v", us.Expiry, e.now())
				}
			}
		}
	})
}
