package sqltest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
// each pair in turn (inTurn), and UserSessions and CountUserSessions of a
// user with 10 sessions in turn with a Find on the indexed store, reporting
// means, p99s and their ratios, and times DeleteUserSessions of 10
// sessions. Every session has an owner, ten per user, as after the sign-in
// of every visitor. analyze, run once the sessions are loaded, updates the
// planner's statistics of both stores' tables, as autovacuum does for a
// table that grew: without them PostgreSQL plans a user's listing for a
// table of unknown size (a bitmap scan and a hash anti-join over the whole
// tombstone table), which no table of a million sessions keeps for long.
func BenchIndex(b *testing.B, off Store, on IndexedStore, analyze func() error) {
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
	if err := analyze(); err != nil {
		b.Fatal(err)
	}
	// Each pair runs in turn within one loop, the one that goes first
	// changing every iteration, so that both see the same machine: on a
	// shared VM, runs seconds apart differ by more than the index costs.
	pair := [2]Store{off, on}
	runs := 0
	b.Run("Commit", func(b *testing.B) {
		// go test -count runs this sub-benchmark again on the same
		// tables: each run moves the expiries by another second, so that
		// no run rewrites the values an earlier one wrote. MySQL does not
		// write a row whose values do not change, and the indexed store's
		// last-seen time always changes: a repeated run timed a no-op
		// against a write (on/off 2.3 where the first run gave 1.1).
		runs++
		shift := time.Duration(runs) * time.Second
		inTurn(b, "off", "on", func(k, i int) error {
			j := i % n
			return pair[k].Commit(tokens[j], data[j], expiry.Add(shift+time.Duration(i)))
		}, "on/off")
	})
	b.Run("FindHit", func(b *testing.B) {
		inTurn(b, "off", "on", func(k, i int) error {
			_, _, err := pair[k].Find(tokens[i%n])
			return err
		}, "on/off")
	})
	ctx := context.Background()
	find := func(i int) error {
		_, _, err := on.Find(tokens[i%n])
		return err
	}
	b.Run(fmt.Sprintf("Read/sessions=%d", n), func(b *testing.B) {
		b.Run("op=UserSessions", func(b *testing.B) {
			inTurn(b, "find", "list", func(k, i int) error {
				if k == 0 {
					return find(i)
				}
				got, err := on.UserSessions(ctx, owner(i%n))
				if err == nil && len(got) != 10 {
					err = fmt.Errorf("UserSessions(%s) = %d sessions, want 10", owner(i%n), len(got))
				}
				return err
			}, "list/find")
		})
		b.Run("op=CountUserSessions", func(b *testing.B) {
			inTurn(b, "find", "count", func(k, i int) error {
				if k == 0 {
					return find(i)
				}
				c, err := on.CountUserSessions(ctx, owner(i%n))
				if err == nil && c != 10 {
					err = fmt.Errorf("CountUserSessions(%s) = %d, want 10", owner(i%n), c)
				}
				return err
			}, "count/find")
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

// inTurn runs op(0, i) and op(1, i) in each iteration of b.Loop, the one
// that goes first alternating, with i stepping through the sessions. It
// reports the mean and p99 of op 0 (named a) and op 1 (named z), and z's
// over a's, of the means (named ratio) and of the p99s (ratio-p99).
func inTurn(b *testing.B, a, z string, op func(k, i int) error, ratio string) {
	var took [2][]time.Duration
	i := 0
	for b.Loop() {
		for c := range 2 {
			k := (c + i) % 2
			start := time.Now()
			if err := op(k, i*7919); err != nil {
				b.Fatal(err)
			}
			took[k] = append(took[k], time.Since(start))
		}
		i++
	}
	var mean, p99 [2]float64
	for k := range took {
		var sum time.Duration
		for _, d := range took[k] {
			sum += d
		}
		mean[k] = float64(sum.Nanoseconds()) / float64(len(took[k]))
		slices.Sort(took[k])
		p99[k] = float64(took[k][len(took[k])*99/100].Nanoseconds())
	}
	b.ReportMetric(mean[0], a+"-ns/op")
	b.ReportMetric(mean[1], z+"-ns/op")
	b.ReportMetric(p99[0], a+"-p99-ns")
	b.ReportMetric(p99[1], z+"-p99-ns")
	b.ReportMetric(mean[1]/mean[0], ratio)
	b.ReportMetric(p99[1]/p99[0], ratio+"-p99")
	b.ReportMetric(0, "ns/op")
}

// AnalyzeStatement is the statement that updates the planner's statistics
// of each of tables and its tombstone table (table + "_tombstones"), on
// MySQL or MariaDB if mysql is true, else on PostgreSQL. The names are the
// tests' own, which need no quoting.
func AnalyzeStatement(mysql bool, tables ...string) string {
	var all []string
	for _, t := range tables {
		all = append(all, t, t+"_tombstones")
	}
	if mysql {
		return "ANALYZE TABLE " + strings.Join(all, ", ")
	}
	return "ANALYZE " + strings.Join(all, ", ")
}
