package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

func ownedData(t testing.TB, user string, exp time.Time) []byte {
	t.Helper()
	values := map[string]any{"n": 1}
	if user != "" {
		values[storetest.OwnerKey] = user
	}
	b, err := scs.GobCodec{}.Encode(exp, values)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shaHook records the scripts a client runs and, when armed, fails the
// calls of one script: before sending them (a crash before the step) or
// after (a crash that loses the reply).
type shaHook struct {
	mu    sync.Mutex
	shas  map[string]int
	fail  string
	after bool
	armed atomic.Bool
}

func (h *shaHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *shaHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if len(args) < 2 || !strings.EqualFold(fmt.Sprint(args[0]), "evalsha") {
			return next(ctx, cmd)
		}
		sha := fmt.Sprint(args[1])
		h.mu.Lock()
		if h.shas == nil {
			h.shas = map[string]int{}
		}
		h.shas[sha]++
		fail, after := h.fail, h.after
		h.mu.Unlock()
		if sha != fail || !h.armed.Load() {
			return next(ctx, cmd)
		}
		if after {
			if err := next(ctx, cmd); err != nil {
				return err
			}
		}
		err := errors.New("injected crash")
		cmd.SetErr(err)
		return err
	}
}
func (h *shaHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestIndexOff(t *testing.T) {
	// With Owner nil the index methods say so, no index key is written and
	// Commit runs the script it ran before the index existed (Delete runs
	// none: see deleteTomb).
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		h := &shaHook{}
		var hc redis.UniversalClient
		switch c := c.(type) {
		case *redis.Client:
			hc = redis.NewClient(c.Options())
		case *redis.ClusterClient:
			hc = redis.NewClusterClient(c.Options())
		}
		t.Cleanup(func() { hc.Close() }) // after newStore's cleanup
		hc.AddHook(h)
		s := newStore(t, hc, Config{})
		for _, err := range []error{
			func() error { _, err := s.UserSessions(ctx, "alice"); return err }(),
			func() error { _, err := s.CountUserSessions(ctx, "alice"); return err }(),
			func() error { _, err := s.DeleteUserSession(ctx, "alice", "x"); return err }(),
			func() error { _, err := s.DeleteUserSessions(ctx, "alice"); return err }(),
			func() error { _, err := s.DeleteUserSessionsExcept(ctx, "alice", "t"); return err }(),
		} {
			if !errors.Is(err, sessionstore.ErrNoIndex) {
				t.Errorf("index method with Owner nil: %v, want ErrNoIndex", err)
			}
		}
		exp := time.Now().Add(time.Hour)
		for i := range 20 {
			tok := fmt.Sprintf("off-%d", i)
			if err := s.Commit(tok, ownedData(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				if err := s.Delete(tok); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
		idx, err := resolveIndexPrefix(Config{}, s.prefix, s.tombPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if n := countKeys(t, s, idx); n != 0 {
			t.Errorf("%d keys under %q with the index off", n, idx)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for sha, n := range h.shas {
			switch sha {
			case commitScript.Hash(), expireSessionScript.Hash(), expireTombstoneScript.Hash():
			default:
				t.Errorf("script %s run %d times with the index off", sha, n)
			}
		}
		if h.shas[commitScript.Hash()] != 20 {
			t.Errorf("commit script run %d times, want 20", h.shas[commitScript.Hash()])
		}
	})
}

// countKeys counts the keys under prefix on every master of s's client.
func countKeys(t testing.TB, s *RedisStore, prefix string) int {
	t.Helper()
	ctx := context.Background()
	nodes, err := s.masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range nodes {
		if err := s.scanKeys(ctx, node, prefix, func(keys []string) error { n += len(keys); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestIndexConfigErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	o := storetest.Owner
	for _, b := range []struct {
		cfg  Config
		want string
	}{
		{Config{Owner: o, IndexPrefix: "i{x}:"}, "'{'"},
		{Config{Owner: o, IndexPrefix: "i*:"}, "'*'"},
		{Config{Owner: o, Prefix: "app*:session:"}, "'*'"},
		{Config{Owner: o, Prefix: "s:", IndexPrefix: "s:i:"}, "prefix of the other"},
		{Config{Owner: o, Prefix: "s:i:", TombstonePrefix: "t:", IndexPrefix: "s:"}, "prefix of the other"},
		{Config{Owner: o, Prefix: "s:", TombstonePrefix: "t:", IndexPrefix: "t:"}, "prefix of the other"},
	} {
		if s, err := NewWithConfig(c, b.cfg); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: NewWithConfig = %v, %v; want an error mentioning %q", b.cfg, s, err, b.want)
		}
	}
	for cfg, want := range map[*Config]string{
		{Owner: o}:                         "scs:index:",
		{Owner: o, Prefix: "app:session:"}: "app:index:",
		{Owner: o, Prefix: "app:"}:         "index:app:",
		{Owner: o, IndexPrefix: "ix:"}:     "ix:",
	} {
		s, err := NewWithConfig(c, *cfg)
		if err != nil || s.idxPrefix != want {
			t.Errorf("%+v: index prefix %q, %v; want %q", *cfg, s.idxPrefix, err, want)
		}
	}
}

// TestIndexCrashBetweenSteps: on a cluster, Commit with an owner is two
// steps (the tag into the user's set of tags, then the session's script).
// A crash before or after either step, on any Commit, leaves every live
// session of the user listed and reached by DeleteUserSessions; stale tags
// at most. Fails if the steps run the other way round.
func TestIndexCrashBetweenSteps(t *testing.T) {
	cc := clusterC(t)
	c := redis.NewClusterClient(cc.Options())
	defer c.Close()
	h := &shaHook{}
	c.AddHook(h)
	ctx := context.Background()
	for _, step := range []struct {
		name  string
		sha   string
		after bool
	}{
		{"BeforeTag", idxSlotsScript.Hash(), false},
		{"AfterTag", idxSlotsScript.Hash(), true},
		{"BeforeSession", idxCommitScript.Hash(), false},
		{"AfterSession", idxCommitScript.Hash(), true},
	} {
		t.Run(step.name, func(t *testing.T) {
			s := newStore(t, c, Config{Owner: storetest.Owner})
			h.mu.Lock()
			h.fail, h.after = step.sha, step.after
			h.mu.Unlock()
			exp := time.Now().Add(time.Hour)
			var toks []string
			failed := 0
			for i := range 40 {
				tok := fmt.Sprintf("crash-%s-%d", step.name, i)
				toks = append(toks, tok)
				h.armed.Store(i%2 == 1)
				if err := s.Commit(tok, ownedData(t, "alice", exp), exp); err != nil {
					failed++
				}
				h.armed.Store(false)
			}
			if failed != 20 {
				t.Fatalf("%d Commits failed, want 20", failed)
			}
			live := map[string]bool{}
			for _, tok := range toks {
				if _, ok, err := s.Find(tok); err != nil {
					t.Fatal(err)
				} else if ok {
					live[sessionstore.SessionID(tok)] = true
				}
			}
			list, err := s.UserSessions(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != len(live) {
				t.Errorf("%d sessions listed, %d live", len(list), len(live))
			}
			for _, us := range list {
				if !live[us.ID] {
					t.Errorf("listed session %s is not live", us.ID)
				}
			}
			n, err := s.DeleteUserSessions(ctx, "alice")
			if err != nil || n != len(live) {
				t.Errorf("DeleteUserSessions = %d, %v; want %d (every live session)", n, err, len(live))
			}
			for _, tok := range toks {
				if _, ok, _ := s.Find(tok); ok {
					t.Errorf("%s survived DeleteUserSessions", tok)
				}
			}
		})
	}
}

// TestIndexHostileKeys: tokens and owners full of braces and glob
// characters run every index operation without CROSSSLOT or a script
// touching another slot, and stay apart.
func TestIndexHostileKeys(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, Config{Owner: storetest.Owner})
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		owners := []string{"{alice}", "a{b}c", "}{", "*", "{"}
		for i, tok := range hostileTokens {
			if err := s.Commit(tok, ownedData(t, owners[i%len(owners)], exp), exp); err != nil {
				t.Fatalf("Commit(%.20q): %v", tok, err)
			}
		}
		total := 0
		for _, o := range owners {
			n, err := s.CountUserSessions(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
		if total != len(hostileTokens) {
			t.Fatalf("%d sessions listed over the owners, want %d", total, len(hostileTokens))
		}
		tok := hostileTokens[1]
		if n, err := s.DeleteUserSessionsExcept(ctx, owners[1], tok); err != nil || n == 0 {
			t.Fatalf("DeleteUserSessionsExcept = %d, %v", n, err)
		}
		if n, _ := s.CountUserSessions(ctx, owners[1]); n != 1 {
			t.Fatalf("%d sessions of %q left, want the one kept", n, owners[1])
		}
		for _, o := range owners {
			if _, err := s.DeleteUserSessions(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		for _, tok := range hostileTokens {
			if _, ok, _ := s.Find(tok); ok {
				t.Errorf("%.20q survived", tok)
			}
		}
	})
}

// TestIndexNoEntryOutlives: after a soak of commits, owner changes,
// deletes, revokes, expiries and cleanups, every metadata hash belongs to a
// session key in this store's layout with the same PXAT, every set entry
// to a metadata hash naming its user (or has a score that has passed), no
// set expires before its entries, and once every session has expired and
// cleanup has run, only the sets of tags are left (until their expiry).
func TestIndexNoEntryOutlives(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
		s := newStore(t, c, Config{Owner: storetest.Owner, Now: clock.Now})
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		users := []string{"alice", "bob", "carol", ""}
		for i := range 600 {
			tok := fmt.Sprintf("soak-%d", rng.IntN(80))
			switch r := rng.IntN(100); {
			case r < 70:
				exp := clock.Now().Add(time.Duration(1+rng.IntN(30)) * time.Minute)
				if err := s.Commit(tok, ownedData(t, users[rng.IntN(len(users))], exp), exp); err != nil {
					t.Fatal(err)
				}
			case r < 85:
				if err := s.Delete(tok); err != nil {
					t.Fatal(err)
				}
			case r < 88:
				if _, err := s.DeleteUserSessionsExcept(ctx, users[rng.IntN(3)], tok); err != nil {
					t.Fatal(err)
				}
			case r < 90:
				if _, err := s.DeleteExpired(ctx); err != nil {
					t.Fatal(err)
				}
			default:
				clock.Advance(time.Minute)
			}
			if i%100 == 99 {
				checkIndex(t, s, clock.Now())
			}
		}
		clock.Advance(time.Hour)
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
		for _, u := range users[:3] {
			if n, err := s.CountUserSessions(ctx, u); err != nil || n != 0 {
				t.Errorf("CountUserSessions(%s) = %d, %v after every session expired", u, n, err)
			}
		}
		checkIndex(t, s, clock.Now())
		// Only the sets of tags may be left, until their own expiry.
		nodes, _ := s.masters(ctx)
		for _, node := range nodes {
			s.scanKeys(ctx, node, s.idxPrefix, func(keys []string) error {
				for _, k := range keys {
					if !strings.Contains(k, "}s") {
						t.Errorf("index key %q left after every session expired and cleanup ran", k)
					}
				}
				return nil
			})
		}
	})
}

// checkIndex checks the invariants of the index of s (see index.go).
func checkIndex(t *testing.T, s *RedisStore, now time.Time) {
	t.Helper()
	ctx := context.Background()
	nodes, err := s.masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pxat := func(node redis.UniversalClient, k string) int64 {
		ms, err := node.Do(ctx, "PEXPIRETIME", k).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	for _, node := range nodes {
		err := s.scanKeys(ctx, node, s.idxPrefix, func(keys []string) error {
			for _, k := range keys {
				rest := k[len(s.idxPrefix):]
				e := strings.IndexByte(rest, '}')
				tag, kind, name := rest[1:e], rest[e+1], rest[e+2:]
				switch kind {
				case 'm':
					v, err := node.Get(ctx, s.sessionKey(name)).Bytes()
					if _, _, ok := decodeValue(v); err != nil || !ok {
						t.Errorf("metadata of %s without its session (%v)", name, err)
						continue
					}
					m, err := node.Get(ctx, k).Result()
					sm, ok := parseMeta(m)
					if err != nil || !ok || sm.header != string(v[:headerLen]) || sm.tag != slotTag(keySlot(s.sessionKey(name))) {
						t.Errorf("metadata of %s is %q (%v), its session's header %q", name, m, err, v[:headerLen])
					}
					if a, b := pxat(node, k), pxat(node, s.sessionKey(name)); a != b {
						t.Errorf("metadata of %s expires at %d, its session at %d", name, a, b)
					}
				case 'u':
					zs, err := node.ZRangeWithScores(ctx, k, 0, -1).Result()
					if err != nil {
						t.Fatal(err)
					}
					var last int64
					for _, z := range zs {
						tok := z.Member.(string)
						if int64(z.Score) > last {
							last = int64(z.Score)
						}
						if int64(z.Score) <= floorMs(now) {
							continue // passed: pruned by the next script on the set
						}
						m, _ := node.Get(ctx, s.metaBase(tag)+tok).Result()
						if sm, _ := parseMeta(m); sm.owner != name {
							t.Errorf("%s listed under %q, its metadata names %q", tok, name, sm.owner)
						}
					}
					if p := pxat(node, k); len(zs) > 0 && p < last {
						t.Errorf("set of %q expires at %d, before its highest entry %d", name, p, last)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
