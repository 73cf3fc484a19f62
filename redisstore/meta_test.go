package redisstore

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// FuzzParseMeta: any string decodes or is refused, never a panic; what
// metaTail and the front write decodes to what was written.
func FuzzParseMeta(f *testing.F) {
	f.Add("7", "alice", "Mozilla/5.0", "192.0.2.1", int64(1_700_000_000_000_000))
	f.Add("zzzz", "", "", "", int64(0))
	f.Add("1", "5:ali:ce", "0:", ":", int64(-5))
	f.Fuzz(func(t *testing.T, tag, owner, ua, ip string, us int64) {
		if len(tag) < 1 || len(tag) > 4 || !isTag(tag) {
			tag = "a"
		}
		at := time.UnixMicro(us)
		header := string(encodeValue(nil, at))
		m := header + metaMicros(at) + metaMicros(at.Add(-time.Second)) + metaTail(tag, owner, ua, ip)
		got, ok := parseMeta(m)
		if !ok || got.header != header || got.tag != tag || got.owner != owner || got.userAgent != ua || got.ip != ip {
			t.Fatalf("parseMeta(%q) = %+v, %v", m, got, ok)
		}
		if want := clampMicros(at); !got.seen.Equal(want) || !got.created.Equal(clampMicros(at.Add(-time.Second))) {
			t.Fatalf("parseMeta(%q) times %v %v, want %v", m, got.seen, got.created, want)
		}
		for _, bad := range []string{m[:len(m)-1], m + "x"} {
			if _, ok := parseMeta(bad); ok {
				t.Errorf("parseMeta(%q) accepted", bad)
			}
		}
	})
}

func clampMicros(t time.Time) time.Time {
	us := min(max(t.UnixMicro(), 0), 9_999_999_999_999_999)
	return time.UnixMicro(us).UTC()
}

// TestIndexClockOutOfRange: a Config.Now past the metadata's 16 digits
// gives clamped created and last-seen times, and the session is still
// listed and revoked. (A clock before 1970 is clamped the same way, which
// FuzzParseMeta covers: Redis itself refuses the negative PXAT of a
// session expiring before 1970.)
func TestIndexClockOutOfRange(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		for _, at := range []time.Time{
			time.Date(2286, 11, 20, 17, 46, 39, 0, time.UTC), // just under the bound
			time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			clock := storetest.NewClock(at)
			s := newStore(t, c, Config{Owner: storetest.Owner, Now: clock.Now})
			exp := at.Add(time.Hour)
			if err := s.Commit("tok", ownedData(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
			list, err := s.UserSessions(context.Background(), "alice")
			if err != nil || len(list) != 1 {
				t.Fatalf("clock at %v: UserSessions = %v, %v", at, list, err)
			}
			if want := clampMicros(at); !list[0].Created.Equal(want) || !list[0].LastSeen.Equal(want) || !list[0].Expiry.Equal(exp) {
				t.Errorf("clock at %v: %+v, want created and last seen %v, expiry %v", at, list[0], want, exp)
			}
			if n, err := s.DeleteUserSessions(context.Background(), "alice"); n != 1 || err != nil {
				t.Errorf("clock at %v: DeleteUserSessions = %d, %v", at, n, err)
			}
		}
	})
}

// toHashLayout rewrites tok's metadata as the hash the store wrote before
// 2026-12-04 (fields o, c, s, u, i, t), with the same PXAT.
func toHashLayout(t *testing.T, s *RedisStore, c redis.UniversalClient, tok string) {
	t.Helper()
	ctx := context.Background()
	k := s.metaBase(s.idxTag(tok)) + tok
	v, err := c.Get(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := parseMeta(v)
	if !ok {
		t.Fatalf("metadata of %s: %q", tok, v)
	}
	px, err := c.Do(ctx, "PEXPIRETIME", k).Int64()
	if err != nil {
		t.Fatal(err)
	}
	pipe := c.TxPipeline()
	pipe.Del(ctx, k)
	fields := []any{"o", m.owner, "c", m.created.UnixMicro(), "s", m.seen.UnixMicro(), "t", m.tag}
	if m.userAgent != "" || m.ip != "" {
		fields = append(fields, "u", m.userAgent, "i", m.ip)
	}
	pipe.HSet(ctx, k, fields...)
	pipe.PExpireAt(ctx, k, time.UnixMilli(px))
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIndexHashLayout: metadata in the hash layout of before 2026-12-04 is
// read by every operation as the current layout would be, and each
// operation that reads it leaves it in the current layout (checkIndex).
func TestIndexHashLayout(t *testing.T) {
	ops := []struct {
		name string
		run  func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string)
		// the tokens alice still has afterwards, and whether created times
		// and clients must be as before
		left []int
	}{
		{"UserSessions", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {}, []int{0, 1, 2}},
		{"CommitSameOwner", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			exp := clock.Now().Add(time.Hour)
			for _, tok := range toks {
				if err := s.Commit(tok, ownedData(t, "alice", exp), exp); err != nil {
					t.Fatal(err)
				}
			}
		}, []int{0, 1, 2}},
		{"CommitOtherOwner", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			exp := clock.Now().Add(time.Hour)
			if err := s.Commit(toks[0], ownedData(t, "bob", exp), exp); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(toks[1], ownedData(t, "", exp), exp); err != nil {
				t.Fatal(err)
			}
		}, []int{2}},
		{"Delete", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			if err := s.Delete(toks[1]); err != nil {
				t.Fatal(err)
			}
		}, []int{0, 2}},
		{"CommitPast", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			if err := s.Commit(toks[2], ownedData(t, "alice", clock.Now()), clock.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
		}, []int{0, 1}},
		{"DeleteUserSessionsExcept", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			if n, err := s.DeleteUserSessionsExcept(context.Background(), "alice", toks[0]); n != 2 || err != nil {
				t.Fatalf("DeleteUserSessionsExcept = %d, %v; want 2", n, err)
			}
		}, []int{0}},
		{"Migrate", func(t *testing.T, s *RedisStore, clock *storetest.Clock, toks []string) {
			if _, err := s.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, []int{0, 1, 2}},
	}
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				ctx := context.Background()
				clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
				s := newStore(t, c, Config{Owner: storetest.Owner, Now: clock.Now})
				toks := []string{"hash-0", "hash-1", "hash-2"}
				for i, tok := range toks {
					exp := clock.Now().Add(time.Duration(i+1) * time.Hour)
					cctx := ctx
					if i > 0 {
						cctx = sessionstore.WithClient(ctx, sessionstore.Client{UserAgent: fmt.Sprint("agent ", i), IP: fmt.Sprint("192.0.2.", i)})
					}
					// Twice, so that last seen is after created.
					for range 2 {
						if err := s.CommitCtx(cctx, tok, ownedData(t, "alice", exp), exp); err != nil {
							t.Fatal(err)
						}
						clock.Advance(time.Second)
					}
				}
				before, err := s.UserSessions(ctx, "alice")
				if err != nil || len(before) != 3 {
					t.Fatalf("UserSessions = %v, %v", before, err)
				}
				for _, tok := range toks {
					toHashLayout(t, s, c, tok)
				}
				clock.Advance(time.Second)
				op.run(t, s, clock, toks)
				after, err := s.UserSessions(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, i := range op.left {
					want = append(want, sessionstore.SessionID(toks[i]))
				}
				var got []string
				for _, us := range after {
					got = append(got, us.ID)
					i := slices.IndexFunc(before, func(b sessionstore.UserSession) bool { return b.ID == us.ID })
					if i < 0 {
						continue
					}
					b := before[i]
					seen := us.LastSeen.Equal(b.LastSeen)
					if op.name == "CommitSameOwner" {
						seen = us.LastSeen.After(b.LastSeen)
					}
					if !us.Created.Equal(b.Created) || !seen || us.UserAgent != b.UserAgent || us.IP != b.IP {
						t.Errorf("%s after %s: %+v, before %+v", us.ID, op.name, us, b)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("after %s alice has %v, want %v", op.name, got, want)
				}
				checkIndex(t, s, clock.Now())
			})
		}
	})
}

// TestIndexMixedFleet: metadata a replica without the index left behind
// never lists a session that is gone. The plain store's Commit of a past
// expiry removes the session only; its Delete removes it and writes the
// tombstone; then a write-behind in goredisstore's layout (an old replica
// still serving the logged-out request) brings the session key back,
// tombstoned. Only the untouched session is listed, and each of the other
// two is caught by its own check (the session key's EXISTS, the
// tombstone's).
func TestIndexMixedFleet(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		plain, indexed := plainAndIndexed(t, c)
		exp := time.Now().Add(time.Hour)
		for _, tok := range []string{"live", "dropped", "deleted"} {
			if err := indexed.Commit(tok, ownedData(t, "alice", exp), exp); err != nil {
				t.Fatal(err)
			}
		}
		if err := plain.Commit("dropped", ownedData(t, "alice", exp), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := plain.Delete("deleted"); err != nil {
			t.Fatal(err)
		}
		want := []string{sessionstore.SessionID("live")}
		check := func(when string) {
			t.Helper()
			list, err := indexed.UserSessions(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, us := range list {
				got = append(got, us.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: alice has %v, want %v (live)", when, got, want)
			}
			if n, err := indexed.CountUserSessions(ctx, "alice"); n != len(want) || err != nil {
				t.Errorf("%s: CountUserSessions = %d, %v", when, n, err)
			}
		}
		check("after the plain store's drop and Delete")
		if err := c.Set(ctx, plain.sessionKey("deleted"), "\x0fgob-bytes", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		check("after a write-behind of the deleted session")
		// Alone, so that the batch's EXISTS of the tombstones is what must
		// catch it.
		for _, tok := range []string{"live", "dropped"} {
			if err := indexed.Delete(tok); err != nil {
				t.Fatal(err)
			}
		}
		want = nil
		check("with only the tombstoned write-behind left")
		// (A Find of it deletes it: legacyFind.)
		if _, ok, _ := indexed.Find("deleted"); ok {
			t.Error("Find serves the tombstoned write-behind")
		}
	})
}

// TestIndexListManyBatches: a user with more sessions than one batch of
// the listing's MGET and EXISTS (listBatch), some of them left dangling by
// a replica without the index in different batches, is listed whole and
// exactly, and revoked whole.
func TestIndexListManyBatches(t *testing.T) {
	clients(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		plain, s := plainAndIndexed(t, c)
		const n = 1100 // more than two batches of 500
		exp := time.Now().Add(time.Hour)
		data := ownedData(t, "alice", exp)
		toks := make([]string, n)
		for i := range toks {
			toks[i] = fmt.Sprintf("many-%04d", i)
			if err := s.Commit(toks[i], data, exp); err != nil {
				t.Fatal(err)
			}
		}
		gone := map[string]bool{}
		for _, i := range []int{0, 499, 500, 777, 1099} {
			gone[toks[i]] = true
			if err := plain.Delete(toks[i]); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.UserSessions(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n-len(gone) {
			t.Errorf("UserSessions = %d sessions, want %d", len(list), n-len(gone))
		}
		seen := map[string]bool{}
		for _, us := range list {
			seen[us.ID] = true
		}
		for _, tok := range toks {
			if id := sessionstore.SessionID(tok); seen[id] == gone[tok] {
				t.Errorf("%s (deleted by the plain store: %v) listed: %v", tok, gone[tok], seen[id])
			}
		}
		if got, err := s.DeleteUserSessions(ctx, "alice"); got != n-len(gone) || err != nil {
			t.Errorf("DeleteUserSessions = %d, %v; want %d", got, err, n-len(gone))
		}
		if got, err := s.CountUserSessions(ctx, "alice"); got != 0 || err != nil {
			t.Errorf("CountUserSessions after revoking = %d, %v", got, err)
		}
	})
}

// plainAndIndexed returns two stores on the same keys: one without the
// index (a replica that has not turned it on) and one with it.
func plainAndIndexed(t *testing.T, c redis.UniversalClient) (plain, indexed *RedisStore) {
	t.Helper()
	plain = newStore(t, c, Config{})
	indexed, err := NewWithConfig(c, Config{Prefix: plain.prefix, TombstonePrefix: plain.tombPrefix, Owner: storetest.Owner})
	if err != nil {
		t.Fatal(err)
	}
	return plain, indexed
}
