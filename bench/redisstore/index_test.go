package redisstorebench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/redisstore"
)

// The per-user index (issue 13): Commit with the index on against the
// same store without it, paired; UserSessions against Find on one store
// holding 10,000 sessions (a million with REDISSTORE_BENCH_1M=1), p99 of
// each; DeleteUserSessions of a user with 10 sessions.
//
//	cd bench && go test -run '^$' -bench 'Index|UserSessions' -benchtime 5000x ./redisstore

var owner = sessionstore.OwnerKey(scs.GobCodec{}, "user_id")

// cheapOwner finds the owner in sessionData's bytes without decoding them:
// the store's own cost of the index, without gob's (about 200 allocations
// and tens of µs per decode for an SCS session on this machine).
func cheapOwner(b []byte) (string, error) {
	i := bytes.Index(b, []byte("user-"))
	if i < 0 {
		return "", nil
	}
	j := i + len("user-")
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	return string(b[i:j]), nil
}

// sessionData is an SCS session of user, gob-encoded, about the size of
// payload.
func sessionData(b *testing.B, user string, exp time.Time) []byte {
	v, err := scs.GobCodec{}.Encode(exp, map[string]any{"user_id": user, "csrf": string(payload[:40]), "flash": "Saved."})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkIndexCommit commits one signed-in user's sessions through a
// store with the index and one without (each under its own prefix, same
// data), alternating which goes first: "on" reads the owner with
// sessionstore.OwnerKey(scs.GobCodec{}, ...), "on-cheap-owner" with a
// function that finds it in the bytes, which leaves the store's own cost:
// a larger script and, on a cluster, the user's set of tags (a second
// round trip at most once a minute per session; see tagCache).
func BenchmarkIndexCommit(b *testing.B) {
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		p := fmt.Sprintf("benchidx:%d:", time.Now().UnixNano())
		off, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "off:session:"})
		if err != nil {
			b.Fatal(err)
		}
		on, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "on:session:", Owner: owner})
		if err != nil {
			b.Fatal(err)
		}
		cheap, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "cheap:session:", Owner: cheapOwner})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dropPrefix(b, c, p) })
		ims := []impl{
			{name: "off", commit: off.CommitCtx},
			{name: "on", commit: on.CommitCtx},
			{name: "on-cheap-owner", commit: cheap.CommitCtx},
		}
		exp := time.Now().Add(time.Hour)
		toks := make([]string, 2000)
		data := make([][]byte, len(toks))
		for i := range toks {
			toks[i] = token()
			data[i] = sessionData(b, fmt.Sprintf("user-%d", i%200), exp)
		}
		// Sign-in first: what is timed is the re-Commit of a live session,
		// the common case.
		for i := range toks {
			for _, im := range ims {
				if err := im.commit(context.Background(), toks[i], data[i], exp); err != nil {
					b.Fatal(err)
				}
			}
		}
		run(b, ims, func(ctx context.Context, im impl, i int) error {
			return im.commit(ctx, toks[i%len(toks)], data[i%len(toks)], exp)
		})
	})
}

// BenchmarkUserSessions lists a user's 10 sessions in a store of 10,000
// sessions (1,000 users; 1,000,000 sessions of 100,000 users with
// REDISSTORE_BENCH_1M=1) against a Find on the same store, in turn, and
// reports the p99 of each and their ratio (the target: within 2x).
func BenchmarkUserSessions(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("REDISSTORE_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("n%d", n), func(b *testing.B) {
			topologies(b, func(b *testing.B, c redis.UniversalClient) {
				p := fmt.Sprintf("benchus:%d:", time.Now().UnixNano())
				s, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "session:", Owner: owner})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { dropPrefix(b, c, p) })
				users := n / 10
				exp := time.Now().Add(2 * time.Hour)
				toks := make([]string, n)
				var wg sync.WaitGroup
				const workers = 64
				for w := range workers {
					wg.Go(func() {
						for i := w; i < n; i += workers {
							toks[i] = token()
							if err := s.Commit(toks[i], sessionData(b, fmt.Sprintf("user-%d", i%users), exp), exp); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				ctx := context.Background()
				var list, find []time.Duration
				b.ResetTimer()
				for i := range b.N {
					user := fmt.Sprintf("user-%d", (i*7919)%users)
					tok := toks[(i*104729)%n]
					for k := range 2 {
						start := time.Now()
						if (i+k)%2 == 0 {
							got, err := s.UserSessions(ctx, user)
							if err != nil || len(got) != 10 {
								b.Fatalf("UserSessions = %d, %v; want 10", len(got), err)
							}
							list = append(list, time.Since(start))
						} else {
							if _, ok, err := s.Find(tok); err != nil || !ok {
								b.Fatalf("Find = %v, %v", ok, err)
							}
							find = append(find, time.Since(start))
						}
					}
				}
				b.StopTimer()
				pl, pf := p99(list), p99(find)
				b.ReportMetric(float64(list[len(list)/2].Microseconds()), "list-p50-µs")
				b.ReportMetric(float64(find[len(find)/2].Microseconds()), "find-p50-µs")
				b.ReportMetric(float64(pl.Microseconds()), "list-p99-µs")
				b.ReportMetric(float64(pf.Microseconds()), "find-p99-µs")
				b.ReportMetric(float64(pl)/float64(pf), "list/find-p99")
				b.ReportMetric(0, "ns/op")
			})
		})
	}
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

// BenchmarkDeleteUserSessions revokes a user's 10 sessions (with their
// tombstones) against 10 Deletes of the same kind of sessions, in turn.
func BenchmarkDeleteUserSessions(b *testing.B) {
	topologies(b, func(b *testing.B, c redis.UniversalClient) {
		p := fmt.Sprintf("benchdu:%d:", time.Now().UnixNano())
		s, err := redisstore.NewWithConfig(c, redisstore.Config{Prefix: p + "session:", Owner: owner})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dropPrefix(b, c, p) })
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		var revoke, deletes time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			var toks [2][]string
			for k := range 2 {
				user := fmt.Sprintf("u%d-%d", i, k)
				for range 10 {
					tok := token()
					if err := s.Commit(tok, sessionData(b, user, exp), exp); err != nil {
						b.Fatal(err)
					}
					toks[k] = append(toks[k], tok)
				}
			}
			b.StartTimer()
			start := time.Now()
			if n, err := s.DeleteUserSessions(ctx, fmt.Sprintf("u%d-0", i)); err != nil || n != 10 {
				b.Fatalf("DeleteUserSessions = %d, %v", n, err)
			}
			revoke += time.Since(start)
			start = time.Now()
			for _, tok := range toks[1] {
				if err := s.Delete(tok); err != nil {
					b.Fatal(err)
				}
			}
			deletes += time.Since(start)
		}
		b.ReportMetric(float64(revoke.Microseconds())/float64(b.N), "revoke10-µs")
		b.ReportMetric(float64(deletes.Microseconds())/float64(b.N), "10-deletes-µs")
		b.ReportMetric(0, "ns/op")
	})
}
