package sqltest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// IndexedStore is a store with its per-user index on.
type IndexedStore interface {
	Store
	sessionstore.UserIndex
}

// IndexPopulation is the number of sessions BenchIndex fills each store
// with: 10,000, or SESSIONSTORE_BENCH_INDEX_SESSIONS (say 1000000).
func IndexPopulation() int {
	if n, err := strconv.Atoi(os.Getenv("SESSIONSTORE_BENCH_INDEX_SESSIONS")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// BenchIndex compares, in one run, Commit and Find on a store with its
// index off and one with it on (same dialect, same table shape otherwise),
// and measures UserSessions and CountUserSessions of a user with 10
// sessions against Find on the indexed store, reporting each one's p99, and
// DeleteUserSessions of 10 sessions. Every session has an owner, ten per
// user, as after the sign-in of every visitor.
func BenchIndex(b *testing.B, off Store, on IndexedStore) {
	n := IndexPopulation()
	tokens := Tokens(7, n)
	expiry := time.Now().Add(24 * time.Hour)
	owner := func(i int) string { return "user-" + strconv.Itoa(i/10) }
	data := make([][]byte, n)
	for i := range tokens {
		d, err := scs.GobCodec{}.Encode(expiry, map[string]any{storetest.OwnerKey: owner(i), "theme": "dark"})
		if err != nil {
			b.Fatal(err)
		}
		data[i] = d
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				for _, s := range []Store{off, on} {
					if err := s.Commit(tokens[i], data[i], expiry); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	pair := map[string]Store{"off": off, "on": on}
	for _, name := range []string{"Commit", "FindHit"} {
		b.Run(name, func(b *testing.B) {
			for _, idx := range []string{"off", "on"} {
				s := pair[idx]
				b.Run("index="+idx, func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						j := i % n
						var err error
						if name == "Commit" {
							err = s.Commit(tokens[j], data[j], expiry.Add(time.Duration(i)))
						} else {
							_, _, err = s.Find(tokens[j])
						}
						if err != nil {
							b.Fatal(err)
						}
						i += 7919
					}
				})
			}
		})
	}
	ctx := context.Background()
	p99 := func(b *testing.B, fn func(i int) error) {
		var took []time.Duration
		i := 0
		for b.Loop() {
			start := time.Now()
			if err := fn(i); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			i += 7919
		}
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
	}
	b.Run(fmt.Sprintf("Read/sessions=%d", n), func(b *testing.B) {
		b.Run("op=Find", func(b *testing.B) {
			p99(b, func(i int) error { _, _, err := on.Find(tokens[i%n]); return err })
		})
		b.Run("op=UserSessions", func(b *testing.B) {
			p99(b, func(i int) error {
				got, err := on.UserSessions(ctx, owner(i%n))
				if err == nil && len(got) != 10 {
					err = fmt.Errorf("UserSessions(%s) = %d sessions, want 10", owner(i%n), len(got))
				}
				return err
			})
		})
		b.Run("op=CountUserSessions", func(b *testing.B) {
			p99(b, func(i int) error { _, err := on.CountUserSessions(ctx, owner(i%n)); return err })
		})
	})
	b.Run("DeleteUserSessions/sessions=10", func(b *testing.B) {
		seed := uint64(time.Now().UnixNano()) // a new user each run: an earlier run's tokens are tombstoned
		for b.Loop() {
			b.StopTimer()
			seed++
			user := fmt.Sprint("revoked-", seed)
			d, _ := scs.GobCodec{}.Encode(expiry, map[string]any{storetest.OwnerKey: user})
			for _, tok := range Tokens(seed, 10) {
				if err := on.Commit(tok, d, expiry); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if k, err := on.DeleteUserSessions(ctx, user); err != nil || k != 10 {
				b.Fatalf("DeleteUserSessions = %d, %v", k, err)
			}
		}
	})
}
