package pgstorebench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/pgstore"
)

// The Index benchmarks measure the per-user index (Config.Owner) against
// the same store with it off, in the same run:
//
//	go test -run '^$' -bench Index -count 6 ./pgstore/
//	PGSTORE_BENCH_LARGE=1 ...  # adds UserSessions at 1M sessions
//	PGSTORE_BENCH_10M=1 ...    # and at 10M (about 12 GB of table)
//
// Sessions are 1 KiB of SCS gob data; each user has 10.

var owner = sessionstore.OwnerKey(scs.GobCodec{}, "user_id")

// gobData is a 1 KiB SCS session of user.
func gobData(user string, expiry time.Time) []byte {
	b, err := scs.GobCodec{}.Encode(expiry, map[string]any{"user_id": user, "blob": strings.Repeat("x", 960)})
	if err != nil {
		panic(err)
	}
	return b
}

// counter is a pgx tracer counting the statements and prepares sent.
type counter struct{ queries, prepares atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepares.Add(1)
	return ctx
}
func (c *counter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

// indexTables is a private schema holding two tables of n sessions each,
// the same tokens and data: "plain" (SCS's) under a store with the index
// off, and "indexed" under one with it on.
type indexTables struct {
	n        int
	pool     *pgxpool.Pool
	off, on  *pgstore.PostgresStore
	count    *counter // counts the statements of on's pool
	tokens   []string
	userData map[string][]byte
}

func user(i int) string { return fmt.Sprint("user-", i/10) } // token i belongs to user i/10

func newIndexTables(b *testing.B, n int, plain bool) *indexTables {
	b.Helper()
	setup(b) // the shared database check
	ctx := context.Background()
	schema := fmt.Sprintf("pgstore_ixbench_%d", rand.Uint32())
	if _, err := env.admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := env.admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.Error(err)
		}
	})
	x := &indexTables{n: n, count: &counter{}, userData: map[string][]byte{}}
	pool := func(tracer pgx.QueryTracer) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = 4
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		cfg.ConnConfig.Tracer = tracer
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		return p
	}
	x.pool = pool(nil)
	exp := time.Now().Add(24 * time.Hour)
	data := gobData("user-0", exp)
	var err error
	// Only the revoke benchmark, whose store runs nothing else, counts
	// statements: the paired ones compare pools alike.
	onPool := x.pool
	if !plain {
		onPool = pool(x.count)
	}
	x.on, err = pgstore.NewWithConfig(onPool, pgstore.Config{Table: "indexed", CreateTable: true, CleanupInterval: -1, Owner: owner})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := x.pool.Exec(ctx, `INSERT INTO indexed (token, data, expiry, owner, created, last_seen)
SELECT 'tok-' || g, $1::bytea, now() + interval '1 day', 'user-' || g / 10, now(), now() FROM generate_series(0, $2 - 1) g`, data, n); err != nil {
		b.Fatal(err)
	}
	if plain {
		x.off, err = pgstore.NewWithConfig(x.pool, pgstore.Config{Table: "plain", CreateTable: true, CleanupInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x.pool.Exec(ctx, `INSERT INTO plain (token, data, expiry) SELECT token, data, expiry FROM indexed`); err != nil {
			b.Fatal(err)
		}
	}
	for _, t := range []string{"indexed", "plain"} {
		if t == "plain" && !plain {
			continue
		}
		if _, err := x.pool.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d sessions loaded in %v", n, time.Since(start).Round(time.Millisecond))
	for i := range n {
		x.tokens = append(x.tokens, fmt.Sprint("tok-", i))
	}
	return x
}

// data returns 1 KiB of session data of token i's user, encoded once.
func (x *indexTables) data(i int) []byte {
	u := user(i)
	d, ok := x.userData[u]
	if !ok {
		d = gobData(u, time.Now().Add(24*time.Hour))
		x.userData[u] = d
	}
	return d
}

// pair runs op on the index-off store and the index-on one in turn within
// each iteration, rotating who goes first, and reports each one's time per
// operation and on/off.
func pair(b *testing.B, x *indexTables, op func(ctx context.Context, s *pgstore.PostgresStore, i int) error) {
	ctx := context.Background()
	stores := []*pgstore.PostgresStore{x.off, x.on}
	var d [2]time.Duration
	var n [2]int64
	i := 0
	for b.Loop() {
		i++
		for j := range 2 {
			k := (i + j) % 2
			start := time.Now()
			if err := op(ctx, stores[k], i); err != nil {
				b.Fatal(err)
			}
			d[k] += time.Since(start)
			n[k]++
		}
	}
	off, on := float64(d[0].Nanoseconds())/float64(n[0]), float64(d[1].Nanoseconds())/float64(n[1])
	b.ReportMetric(off/1e3, "off-µs/op")
	b.ReportMetric(on/1e3, "on-µs/op")
	b.ReportMetric(on/off, "on/off")
}

// BenchmarkIndexPaired: Commit and Find with the index on and off, on two
// tables of 100k sessions.
func BenchmarkIndexPaired(b *testing.B) {
	x := newIndexTables(b, sessions, true)
	for i := range x.n / 10 {
		x.data(i * 10)
	}
	b.Run("op=Commit", func(b *testing.B) {
		pair(b, x, func(ctx context.Context, s *pgstore.PostgresStore, i int) error {
			k := (i * 7919) % x.n
			return s.CommitCtx(ctx, x.tokens[k], x.data(k), time.Now().Add(24*time.Hour))
		})
	})
	b.Run("op=CommitSameExpiry", func(b *testing.B) { // SCS without IdleTimeout: a HOT update either way
		exp := time.Now().Add(24 * time.Hour)
		pair(b, x, func(ctx context.Context, s *pgstore.PostgresStore, i int) error {
			k := (i * 7919) % x.n
			return s.CommitCtx(ctx, x.tokens[k], x.data(k), exp)
		})
	})
	b.Run("op=CommitClient", func(b *testing.B) { // with RecordClient's user agent and IP
		cctx := sessionstore.WithClient(context.Background(), sessionstore.Client{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", IP: "192.0.2.1"})
		pair(b, x, func(_ context.Context, s *pgstore.PostgresStore, i int) error {
			k := (i * 7919) % x.n
			return s.CommitCtx(cctx, x.tokens[k], x.data(k), time.Now().Add(24*time.Hour))
		})
	})
	b.Run("op=FindHit", func(b *testing.B) {
		pair(b, x, func(ctx context.Context, s *pgstore.PostgresStore, i int) error {
			_, found, err := s.FindCtx(ctx, x.tokens[(i*7919)%x.n])
			if err == nil && !found {
				err = fmt.Errorf("not found")
			}
			return err
		})
	})
}

// BenchmarkIndexUserSessions: UserSessions of a user with 10 sessions
// against Find, alternating on the same store, at 10k sessions (and 1M,
// 10M by env var); reports p99 of each and their ratio.
func BenchmarkIndexUserSessions(b *testing.B) {
	sizes := []int{10_000}
	if os.Getenv("PGSTORE_BENCH_LARGE") != "" {
		sizes = append(sizes, 1_000_000)
	}
	if os.Getenv("PGSTORE_BENCH_10M") != "" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		x := newIndexTables(b, n, false)
		b.Run(fmt.Sprint("sessions=", n), func(b *testing.B) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, uint64(n)))
			var us, find []time.Duration
			i := 0
			for b.Loop() {
				i++
				k := r.IntN(n)
				for j := range 2 {
					start := time.Now()
					if (i+j)%2 == 0 {
						list, err := x.on.UserSessions(ctx, user(k))
						if err != nil || len(list) != 10 {
							b.Fatalf("UserSessions = %d sessions, %v", len(list), err)
						}
						us = append(us, time.Since(start))
					} else {
						if _, found, err := x.on.FindCtx(ctx, x.tokens[k]); err != nil || !found {
							b.Fatalf("Find = %v, %v", found, err)
						}
						find = append(find, time.Since(start))
					}
				}
			}
			pu, pf := p99(us), p99(find)
			b.ReportMetric(pu, "list-p99-µs")
			b.ReportMetric(pf, "find-p99-µs")
			b.ReportMetric(pu/pf, "list/find-p99")
		})
	}
}

// p99 is the 99th percentile of ds, in µs.
func p99(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[len(ds)*99/100].Nanoseconds()) / 1e3
}

// BenchmarkIndexDeleteUserSessions: revoking a user's 10 sessions (each
// iteration signs a fresh user in 10 times, untimed), against raw pgx
// sending the same statement; reports the statements and prepares sent
// per revoke.
func BenchmarkIndexDeleteUserSessions(b *testing.B) {
	x := newIndexTables(b, 10_000, false)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	const revoke = `WITH d AS (DELETE FROM indexed WHERE owner = $1 AND token <> ALL ($2::text[]) RETURNING token, expiry),
i AS (INSERT INTO indexed_tombstones AS tb (token, expiry) SELECT token, GREATEST(expiry, $3) FROM d
ON CONFLICT (token) DO UPDATE SET expiry = GREATEST(tb.expiry, EXCLUDED.expiry))
SELECT count(*) FROM d WHERE expiry > $4 AND NOT EXISTS (SELECT 1 FROM indexed_tombstones x WHERE x.token = d.token)`
	var dStore, dRaw time.Duration
	var queries, prepares, revokes, rawN int64
	i := 0
	for b.Loop() {
		i++
		for j := range 2 {
			b.StopTimer()
			u := fmt.Sprintf("revoke-%d-%d-%d", rand.Uint32(), i, j)
			data := gobData(u, exp)
			for k := range 10 {
				if err := x.on.CommitCtx(ctx, fmt.Sprintf("%s-%d", u, k), data, exp); err != nil {
					b.Fatal(err)
				}
			}
			q0, p0 := x.count.queries.Load(), x.count.prepares.Load()
			b.StartTimer()
			start := time.Now()
			var n int
			var err error
			if (i+j)%2 == 0 {
				n, err = x.on.DeleteUserSessions(ctx, u)
				dStore += time.Since(start)
				queries += x.count.queries.Load() - q0
				prepares += x.count.prepares.Load() - p0
				revokes++
			} else {
				now := time.Now()
				err = x.pool.QueryRow(ctx, revoke, u, []string{}, now.Add(time.Hour), now).Scan(&n)
				dRaw += time.Since(start)
				rawN++
			}
			if err != nil || n != 10 {
				b.Fatalf("revoke = %d, %v; want 10", n, err)
			}
		}
	}
	store, raw := float64(dStore.Nanoseconds())/float64(revokes), float64(dRaw.Nanoseconds())/float64(rawN)
	b.ReportMetric(store/1e3, "pgstore-µs/op")
	b.ReportMetric(raw/1e3, "raw-µs/op")
	b.ReportMetric(store/raw, "pgstore/raw")
	b.ReportMetric(float64(queries)/float64(revokes), "stmts/op")
	b.ReportMetric(float64(prepares)/float64(revokes), "prepares/op")
}
