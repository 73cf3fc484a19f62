// Package pgstorebench compares pgstore with raw pgx running the minimal
// SQL for each operation and with SCS's pgxstore, on the same table, in the
// same run, so that their ratio is measured under the same machine load.
//
//	go test -run '^$' -bench . -benchmem -count 6 | tee new.txt
//	benchstat -col /impl new.txt
package pgstorebench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/pgstore"
)

const (
	sessions = 100_000 // live sessions of 1 KiB each
	dataSize = 1024
)

var dsn = testenv.PostgresDSN()

// env is the benchmark database: a private schema holding SCS's table, so
// that SCS's pgxstore (which hard-codes "sessions") can run on it too.
var env struct {
	once   sync.Once
	err    error
	schema string
	admin  *pgxpool.Pool // no search_path: creates and drops the schema
	pool   *pgxpool.Pool // search_path = schema
	pq     *sql.DB       // lib/pq, search_path = schema (PGSTORE_BENCH_SQL)
	tokens []string
	impls  []impl
	del    deletable
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.pq != nil {
		env.pq.Close()
	}
	if env.pool != nil {
		env.pool.Close()
	}
	if env.admin != nil {
		if _, err := env.admin.Exec(context.Background(), "DROP SCHEMA "+env.schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "dropping the benchmark schema:", err)
			code = 1
		}
		env.admin.Close()
	}
	os.Exit(code)
}

// impl is one way of running the store operations.
type impl struct {
	name   string
	vs     string // if set, the impl its ratio is also reported against
	find   func(ctx context.Context, tok string) ([]byte, bool, error)
	commit func(ctx context.Context, tok string, b []byte, expiry time.Time) error
	del    func(ctx context.Context, tok string) error
	all    func(ctx context.Context) (map[string][]byte, error)
}

func setup(b *testing.B) {
	b.Helper()
	env.once.Do(func() { env.err = build() })
	if env.err != nil {
		testenv.Unavailable(b, "PostgreSQL at "+dsn, "set "+testenv.PostgresEnv, env.err)
	}
}

func build() error {
	ctx := context.Background()
	var err error
	if env.admin, err = pgxpool.New(ctx, dsn); err != nil {
		return err
	}
	env.schema = fmt.Sprintf("pgstore_bench_%d", rand.Uint32())
	if _, err := env.admin.Exec(ctx, "CREATE SCHEMA "+env.schema); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.MaxConns = 12
	cfg.ConnConfig.RuntimeParams["search_path"] = env.schema
	if env.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	store, err := pgstore.NewWithConfig(env.pool, pgstore.Config{CreateTable: true, CleanupInterval: -1})
	if err != nil {
		return err
	}
	_, err = env.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry)
SELECT 'tok-' || g, convert_to(repeat(md5(g::text), 32), 'UTF8'), now() + interval '1 day'
FROM generate_series(1, $1) g`, sessions)
	if err != nil {
		return err
	}
	if _, err := env.pool.Exec(ctx, "VACUUM ANALYZE sessions"); err != nil {
		return err
	}
	for i := 1; i <= sessions; i++ {
		env.tokens = append(env.tokens, fmt.Sprint("tok-", i))
	}
	scs := pgxstore.NewWithCleanupInterval(env.pool, 0)
	env.impls = []impl{rawImpl(env.pool), {
		name: "pgstore", find: store.FindCtx, commit: store.CommitCtx, del: store.DeleteCtx, all: store.AllCtx,
	}, {
		// The proxy's pgxstore predates SCS's context methods.
		name:   "scs",
		find:   func(_ context.Context, tok string) ([]byte, bool, error) { return scs.Find(tok) },
		commit: func(_ context.Context, tok string, b []byte, exp time.Time) error { return scs.Commit(tok, b, exp) },
		del:    func(_ context.Context, tok string) error { return scs.Delete(tok) },
		all:    func(context.Context) (map[string][]byte, error) { return scs.All() },
	}}
	if os.Getenv("PGSTORE_BENCH_SQL") != "" {
		sqlImpls, err := buildSQL()
		if err != nil {
			return err
		}
		env.impls = append(env.impls, sqlImpls...)
	}
	return nil
}

// rawImpl runs the minimal SQL for each operation with pgx directly: what
// any PostgreSQL session store has to pay at least.
func rawImpl(pool *pgxpool.Pool) impl {
	return impl{
		name: "raw",
		find: func(ctx context.Context, tok string) (b []byte, found bool, err error) {
			err = pool.QueryRow(ctx, "SELECT data FROM sessions WHERE token = $1 AND expiry > $2", tok, time.Now()).Scan(&b)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, false, nil
			}
			return b, err == nil, err
		},
		commit: func(ctx context.Context, tok string, b []byte, expiry time.Time) error {
			_, err := pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, tok, b, expiry)
			return err
		},
		del: func(ctx context.Context, tok string) error {
			_, err := pool.Exec(ctx, "DELETE FROM sessions WHERE token = $1", tok)
			return err
		},
		all: func(ctx context.Context) (map[string][]byte, error) {
			rows, err := pool.Query(ctx, "SELECT token, data FROM sessions WHERE expiry > $1", time.Now())
			if err != nil {
				return nil, err
			}
			all := make(map[string][]byte)
			var tok string
			var data []byte
			_, err = pgx.ForEachRow(rows, []any{&tok, &data}, func() error {
				all[tok] = data
				data = nil
				return nil
			})
			return all, err
		},
	}
}

// deletable hands out tokens of sessions that exist and are used by no
// other benchmark, inserting more in chunks when they run out.
type deletable struct {
	mu         sync.Mutex
	next, made int64
}

func (d *deletable) ensure(b *testing.B, n int64) {
	b.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.made-d.next >= n {
		return
	}
	more := max(n, 20_000)
	_, err := env.pool.Exec(context.Background(), `INSERT INTO sessions (token, data, expiry)
SELECT 'del-' || g, convert_to(repeat(md5(g::text), 32), 'UTF8'), now() + interval '1 day'
FROM generate_series($1::bigint, $2::bigint) g`, d.made+1, d.made+more)
	if err != nil {
		b.Fatal(err)
	}
	d.made += more
}

func (d *deletable) take() string {
	return fmt.Sprint("del-", atomic.AddInt64(&d.next, 1))
}

func payload() []byte {
	b := make([]byte, dataSize)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func eachImpl(b *testing.B, f func(b *testing.B, im impl)) {
	setup(b)
	for _, im := range env.impls {
		b.Run("impl="+im.name, func(b *testing.B) { f(b, im) })
	}
}

func BenchmarkFindHit(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		b.ReportAllocs()
		i := rand.IntN(sessions)
		for b.Loop() {
			i = (i + 7919) % sessions
			if _, found, err := im.find(ctx, env.tokens[i]); err != nil || !found {
				b.Fatalf("find: %v, %v", found, err)
			}
		}
	})
}

func BenchmarkFindMiss(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, found, err := im.find(ctx, "missing-7e3ac2f1d5b94b1f8a6e0c2d4f6a8b0c1d2"); err != nil || found {
				b.Fatalf("find: %v, %v", found, err)
			}
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		data := payload()
		expiry := time.Now().Add(24 * time.Hour)
		b.ReportAllocs()
		i := rand.IntN(sessions)
		for b.Loop() {
			i = (i + 7919) % sessions
			if err := im.commit(ctx, env.tokens[i], data, expiry); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCommitNew(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		data := payload()
		expiry := time.Now().Add(time.Minute) // new sessions of the benchmark expire soon
		prefix := fmt.Sprintf("new-%s-%d-", im.name, rand.Uint64())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := im.commit(ctx, prefix+fmt.Sprint(i), data, expiry); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDelete(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		env.del.ensure(b, 1000)
		b.ReportAllocs()
		left := int64(0)
		for b.Loop() {
			if left == 0 {
				b.StopTimer()
				env.del.ensure(b, 20_000)
				left = 20_000
				b.StartTimer()
			}
			left--
			if err := im.del(ctx, env.del.take()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMixed is the request mix of a typical application: 90% Find,
// 9% Commit (of an existing session), 1% Delete, over 100k sessions of
// 1 KiB, at 8 and 64 goroutines.
func BenchmarkMixed(b *testing.B) {
	for _, g := range []int{8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			eachImpl(b, func(b *testing.B, im impl) {
				env.del.ensure(b, int64(b.N/50+1000))
				data := payload()
				expiry := time.Now().Add(24 * time.Hour)
				b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
					for pb.Next() {
						tok := env.tokens[r.IntN(sessions)]
						switch n := r.IntN(100); {
						case n < 90:
							if _, _, err := im.find(ctx, tok); err != nil {
								b.Error(err)
								return
							}
						case n < 99:
							if err := im.commit(ctx, tok, data, expiry); err != nil {
								b.Error(err)
								return
							}
						default:
							if err := im.del(ctx, env.del.take()); err != nil {
								b.Error(err)
								return
							}
						}
					}
				})
			})
		})
	}
}

// BenchmarkAll reads all 100k live sessions (100 MiB) into a map.
func BenchmarkAll(b *testing.B) {
	eachImpl(b, func(b *testing.B, im impl) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			all, err := im.all(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(all) < sessions {
				b.Fatalf("All returned %d sessions, want at least %d", len(all), sessions)
			}
		}
	})
}
