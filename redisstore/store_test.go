package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// clients runs f on the single server and on the cluster.
func clients(t *testing.T, f func(t *testing.T, c redis.UniversalClient)) {
	t.Run("Single", func(t *testing.T) { f(t, single(t)) })
	t.Run("Cluster", func(t *testing.T) { f(t, clusterC(t)) })
}

func TestConfigErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	var nilClient *redis.Client
	bad := []struct {
		name   string
		client redis.UniversalClient
		cfg    Config
		want   string
	}{
		{"NilClient", nil, Config{}, "nil client"},
		{"NilPointer", nilClient, Config{}, "nil client"},
		{"Ring", ring, Config{}, "Ring"},
		{"NegativeLifetime", c, Config{TombstoneLifetime: -1}, "TombstoneLifetime"},
		{"NegativeSkew", c, Config{ClockSkew: -1}, "ClockSkew"},
		{"SubMillisecondSkew", c, Config{ClockSkew: time.Microsecond}, "ClockSkew"},
		{"NegativeTimeout", c, Config{Timeout: -1}, "Timeout"},
		{"NegativeMaxDataSize", c, Config{MaxDataSize: -1}, "MaxDataSize"},
		{"NegativePageSize", c, Config{PageSize: -1}, "PageSize"},
		{"NegativeTouchWindow", c, Config{TouchWindow: -time.Second}, "redisstore: config: TouchWindow -1s is negative"},
		{"BraceInTombstonePrefix", c, Config{TombstonePrefix: "t{x}:"}, "'{'"},
		{"BraceInPrefixDefaultTombstones", c, Config{Prefix: "{app}:"}, "'{'"},
		{"TombstonePrefixExtendsPrefix", c, Config{Prefix: "s:", TombstonePrefix: "s:t:"}, "prefix of the other"},
		{"PrefixExtendsTombstonePrefix", c, Config{Prefix: "s:x:", TombstonePrefix: "s:"}, "prefix of the other"},
		{"SamePrefixes", c, Config{Prefix: "s:", TombstonePrefix: "s:"}, "prefix of the other"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			s, err := NewWithConfig(b.client, b.cfg)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("NewWithConfig = %v, %v; want an error mentioning %q", s, err, b.want)
			}
		})
	}
	t.Run("NewPanicsOnNil", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("New(nil) did not panic")
			}
		}()
		New(nil)
	})
	good := []struct {
		cfg          Config
		prefix, tomb string
	}{
		{Config{}, "scs:session:", "scs:tombstone:"},
		{Config{Prefix: "app:session:"}, "app:session:", "app:tombstone:"},
		{Config{Prefix: "app:"}, "app:", "tombstone:app:"},
		{Config{Prefix: "{app}:", TombstonePrefix: "app-tomb:"}, "{app}:", "app-tomb:"},
	}
	for _, g := range good {
		s, err := NewWithConfig(c, g.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if s.prefix != g.prefix || s.tombPrefix != g.tomb {
			t.Errorf("%+v: prefixes %q, %q; want %q, %q", g.cfg, s.prefix, s.tombPrefix, g.prefix, g.tomb)
		}
	}
}

// hostileTokens are valid tokens built to confuse a key layout: glob
// metacharacters, braces that make a hash tag, and the longest token.
var hostileTokens = []string{
	"*", "?", "[", "]", "[a-z]*", `\`, "{", "}", "{}", "}{", "{a}", "a{b}c", "{{x}}", "}x{y}", "x{y",
	"a*b?c[d]", "{tag}*", "#", "->", "a->b", "x->", "*->y", "\xff"[:0] + "été{ü}", strings.Repeat("{", sessionstore.MaxTokenLen),
	strings.Repeat("}", sessionstore.MaxTokenLen), "{" + strings.Repeat("x", sessionstore.MaxTokenLen-2) + "}",
}

// TestHostileTokens commits, finds, deletes and tombstones each hostile
// token beside a plain session, on one server and on the cluster: nothing
// fails with CROSSSLOT, no token acts as a pattern (the bystander
// survives), and the session and tombstone keys share a slot by the
// server's own reckoning.
func TestHostileTokens(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, Config{})
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		bystander := "bystander-token"
		if err := s.Commit(bystander, []byte("b"), exp); err != nil {
			t.Fatal(err)
		}
		for _, tok := range hostileTokens {
			if !sessionstore.ValidToken(tok) {
				t.Fatalf("%q is not a valid token", tok)
			}
			if err := s.Commit(tok, []byte(tok), exp); err != nil {
				t.Fatalf("Commit(%.20q): %v", tok, err)
			}
			got, ok, err := s.Find(tok)
			if err != nil || !ok || string(got) != tok {
				t.Fatalf("Find(%.20q) = %q, %v, %v", tok, got, ok, err)
			}
			if cc, ok := c.(*redis.ClusterClient); ok {
				for _, k := range []string{s.sessionKey(tok), s.tombstoneKey(tok)} {
					slot, err := cc.ClusterKeySlot(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					if int(slot) != keySlot(s.sessionKey(tok)) {
						t.Errorf("%.30q: server puts %.40q in slot %d, the store reckons %d", tok, k, slot, keySlot(s.sessionKey(tok)))
					}
				}
			}
			if err := s.Delete(tok); err != nil {
				t.Fatalf("Delete(%.20q): %v", tok, err)
			}
			if err := s.Commit(tok, []byte("late"), exp); err != nil {
				t.Fatalf("late Commit(%.20q): %v", tok, err)
			}
			if _, ok, err := s.Find(tok); ok || err != nil {
				t.Fatalf("Find(%.20q) after Delete and a late Commit: found %v, err %v", tok, ok, err)
			}
		}
		if got, ok, err := s.Find(bystander); err != nil || !ok || string(got) != "b" {
			t.Fatalf("bystander: %q, %v, %v", got, ok, err)
		}
		n := 0
		for sess, err := range s.Sessions(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if sess.Token != bystander {
				t.Errorf("Sessions yields %.20q", sess.Token)
			}
			n++
		}
		if n != 1 {
			t.Errorf("Sessions yielded %d sessions, want 1", n)
		}
	})
}

// TestSlotTags checks the tag table against the CRC of Redis Cluster's
// documentation and that every slot has a tag free of braces.
func TestSlotTags(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for slot := range numSlots {
		tag := slotTag(slot)
		if tag == "" || strings.ContainsAny(tag, "{}") || keySlot(tag) != slot || keySlot("x{"+tag+"}y") != slot {
			t.Fatalf("slot %d: tag %q", slot, tag)
		}
	}
}

// TestGlobPrefix: a prefix full of glob metacharacters matches only its
// own keys in Sessions and DeleteExpired.
func TestGlobPrefix(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		base := uniquePrefix("glob")
		s := newStore(t, c, Config{Prefix: base + `[a]*?\^:`, TombstonePrefix: base + "t*:"})
		other := newStore(t, c, Config{Prefix: base + "a-other:", TombstonePrefix: base + "tX:"})
		exp := time.Now().Add(time.Hour)
		for i := range 5 {
			if err := other.Commit(fmt.Sprint("o", i), []byte("o"), exp); err != nil {
				t.Fatal(err)
			}
			if err := other.Delete(fmt.Sprint("o", i)); err != nil {
				t.Fatal(err)
			}
			if err := other.Commit(fmt.Sprint("p", i), []byte("p"), exp); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Commit("mine", []byte("m"), exp); err != nil {
			t.Fatal(err)
		}
		all, err := s.All()
		if err != nil || len(all) != 1 || string(all["mine"]) != "m" {
			t.Fatalf("All = %q, %v; want only mine", all, err)
		}
		s2, _ := NewWithConfig(c, Config{Prefix: s.prefix, TombstonePrefix: s.tombPrefix, Now: func() time.Time { return time.Now().Add(1000 * time.Hour) }})
		if n, err := s2.DeleteExpired(context.Background()); err != nil || n != 1 {
			t.Fatalf("DeleteExpired far ahead = %d, %v; want 1 (only its own session)", n, err)
		}
		if all, err := other.All(); err != nil || len(all) != 5 {
			t.Fatalf("the other store has %d sessions, %v; want 5", len(all), err)
		}
	})
}

func TestMaxDataSize(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, Config{MaxDataSize: 10})
		exp := time.Now().Add(time.Hour)
		if err := s.Commit("tok", []byte("kept"), exp); err != nil {
			t.Fatal(err)
		}
		err := s.Commit("tok", bytes.Repeat([]byte("x"), 11), exp)
		if !errors.Is(err, sessionstore.ErrTooLarge) {
			t.Fatalf("Commit of 11 bytes: %v, want ErrTooLarge", err)
		}
		if got, ok, _ := s.Find("tok"); !ok || string(got) != "kept" {
			t.Fatalf("after a refused Commit: %q, %v; want kept", got, ok)
		}
		if err := s.Commit("tok", bytes.Repeat([]byte("x"), 10), exp); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGoredisstoreLayout: sessions written the way SCS's goredisstore
// writes them (bare data, a relative TTL) are served, hidden behind a
// tombstone, iterated, and rewritten by the next Commit; a key it wrote
// without a TTL (its Commit just past the deadline) is not served.
func TestGoredisstoreLayout(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, c, Config{})
		set := func(tok, data string, ttl time.Duration) {
			if err := c.Set(ctx, s.sessionKey(tok), data, ttl).Err(); err != nil {
				t.Fatal(err)
			}
		}
		set("legacy", "\x0fgob-bytes", time.Hour)
		set("forever", "stale", 0)
		set("deleted", "d", time.Hour)
		if err := s.Delete("deleted"); err != nil {
			t.Fatal(err)
		}
		set("deleted", "written-behind", time.Hour) // an old replica, after the logout
		set("behind", "b", time.Hour)
		if err := s.Delete("behind"); err != nil {
			t.Fatal(err)
		}
		set("behind", "written-behind", time.Hour)

		got, ok, err := s.Find("legacy")
		if err != nil || !ok || string(got) != "\x0fgob-bytes" {
			t.Fatalf("Find(legacy) = %q, %v, %v", got, ok, err)
		}
		for _, tok := range []string{"forever", "deleted"} {
			if _, ok, err := s.Find(tok); ok || err != nil {
				t.Errorf("Find(%s): found %v, err %v; want not found", tok, ok, err)
			}
		}
		// Sessions hides "behind" without a Find having seen it first.
		var toks []string
		for sess, err := range s.Sessions(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			toks = append(toks, sess.Token)
			if d := time.Until(sess.Expiry); d < 59*time.Minute || d > time.Hour {
				t.Errorf("legacy session expiry %v from now, want about an hour", d)
			}
		}
		if len(toks) != 1 || toks[0] != "legacy" {
			t.Fatalf("Sessions yields %q, want [legacy]", toks)
		}
		// The next Commit rewrites it in this store's layout.
		if err := s.Commit("legacy", []byte("new"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		v, _ := c.Get(ctx, s.sessionKey("legacy")).Bytes()
		if !bytes.HasPrefix(v, []byte(magic)) {
			t.Errorf("after Commit the value is %q, want this store's layout", v)
		}
		// DeleteExpired removes the key without a TTL.
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := c.Exists(ctx, s.sessionKey("forever")).Result(); n != 0 {
			t.Error("DeleteExpired left goredisstore's key without a TTL")
		}
	})
}

// TestAbsoluteExpiry: the Redis expiry of a session is the absolute
// deadline from the application's clock plus ClockSkew, and the tombstone's
// its expiry plus ClockSkew; a clock far ahead of Redis's keeps both in
// Redis while the application needs them.
func TestAbsoluteExpiry(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		clock := storetest.NewClock(time.Now().Add(48 * time.Hour).Truncate(time.Microsecond))
		s := newStore(t, c, Config{Now: clock.Now})
		expiry := clock.Now().Add(time.Minute)
		if err := s.Commit("tok", []byte("x"), expiry); err != nil {
			t.Fatal(err)
		}
		pxat, err := c.Do(ctx, "PEXPIRETIME", s.sessionKey("tok")).Int64()
		if err != nil {
			t.Fatal(err)
		}
		if want := ceilMs(expiry) + DefaultClockSkewMs(); pxat != want {
			t.Errorf("session PEXPIRETIME = %d, want %d", pxat, want)
		}
		deleted := clock.Now()
		if err := s.Delete("tok"); err != nil {
			t.Fatal(err)
		}
		tomb := s.tombstoneKey("tok")
		pxat, err = c.Do(ctx, "PEXPIRETIME", tomb).Int64()
		if err != nil {
			t.Fatal(err)
		}
		want := ceilMs(deleted.Add(sessionstore.DefaultTombstoneLifetime)) + DefaultClockSkewMs()
		if pxat != want {
			t.Errorf("tombstone PEXPIRETIME = %d, want %d", pxat, want)
		}
		// A Commit with an expiry a moment ahead is live, then not, by the
		// application's clock, whatever Redis's reads.
		if err := s.Commit("soon", []byte("s"), clock.Now().Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Find("soon"); !ok {
			t.Fatal("session not found before its expiry")
		}
		clock.Advance(time.Millisecond)
		if _, ok, _ := s.Find("soon"); ok {
			t.Fatal("session found at its expiry")
		}
	})
}

func DefaultClockSkewMs() int64 { return sessionstore.DefaultClockSkew.Milliseconds() }

// TestDeleteUnknownLeavesNoKey: a logout of a token that never had a
// session writes nothing, so a flood of made-up logouts costs no memory.
func TestDeleteUnknownLeavesNoKey(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, Config{})
		for i := range 50 {
			if err := s.Delete(fmt.Sprint("never-", i)); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		nodes, _ := s.masters(context.Background())
		for _, node := range nodes {
			_ = s.scanKeys(context.Background(), node, s.tombPrefix, func(k []string) error { n += len(k); return nil })
		}
		if n != 0 {
			t.Fatalf("%d tombstones for tokens that never had a session", n)
		}
	})
}

// TestDeleteJustAfterExpiry: the session key outlives its expiry by
// ClockSkew, so that a logout just after the expiry still leaves a
// tombstone and a request in flight cannot bring the session back with a
// new idle expiry.
func TestDeleteJustAfterExpiry(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		// Real time: Redis's own clock must pass the session's expiry.
		s := newStore(t, c, Config{})
		if err := s.Commit("tok", []byte("x"), time.Now().Add(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		if _, ok, _ := s.Find("tok"); ok {
			t.Fatal("session found after its expiry")
		}
		if err := s.Delete("tok"); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit("tok", []byte("late"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Find("tok"); ok {
			t.Fatal("a late Commit after a logout just past the expiry brought the session back")
		}
	})
}

// TestCancelledContexts: Sessions with a cancelled context yields the
// error; DeleteExpired likewise.
func TestCancelledContexts(t *testing.T) {
	s := newStore(t, single(t), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got error
	for _, err := range s.Sessions(ctx) {
		got = err
	}
	if !errors.Is(got, context.Canceled) {
		t.Fatalf("Sessions: %v, want context.Canceled", got)
	}
	if _, err := s.DeleteExpired(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("DeleteExpired: %v, want context.Canceled", err)
	}
}
