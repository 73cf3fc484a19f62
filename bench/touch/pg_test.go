package touchbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/pgstore"
)

var dsn = testenv.PostgresDSN()

// poolConns is every target's pool size: the same for all, so that the
// ratios compare stores, not pools.
const poolConns = 16

// writeCounter counts the statements that write, as pgx sends them.
type writeCounter struct{ n atomic.Int64 }

func (c *writeCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if q := strings.TrimSpace(d.SQL); !strings.HasPrefix(q, "SELECT") {
		c.n.Add(1) // MERGE, INSERT, UPDATE, DELETE, WITH ... DELETE
	}
	return ctx
}

func (c *writeCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The statements of a batch (AsyncCommit's) are traced one by one here.
func (c *writeCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *writeCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if !strings.HasPrefix(strings.TrimSpace(d.SQL), "SELECT") {
		c.n.Add(1)
	}
}

func (c *writeCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

var pg struct {
	once   sync.Once
	err    error
	admin  *pgxpool.Pool
	schema string
	pools  []*pgxpool.Pool
}

// vacuum vacuums every table of the benchmark schema, if there is one.
// The harness calls it before each round of each goroutine count,
// untimed, so that every round starts from tables without dead rows, as
// autovacuum would keep them: on a server with autovacuum off (this
// project's development VM runs PostgreSQL so), the dead row of every
// update stays, and without it the two tables of BenchmarkAsyncCommit grew
// from 18 MB to 86 MB in five rounds.
func vacuum(b *testing.B) {
	b.Helper()
	if pg.admin == nil || pg.err != nil {
		return
	}
	ctx := context.Background()
	rows, err := pg.admin.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1", pg.schema)
	if err != nil {
		b.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tables {
		if _, err := pg.admin.Exec(ctx, "VACUUM "+pgx.Identifier{pg.schema, t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range pg.pools {
		p.Close()
	}
	if pg.admin != nil {
		if _, err := pg.admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pg.schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "dropping the benchmark schema:", err)
			code = 1
		}
		pg.admin.Close()
	}
	os.Exit(code)
}

// pgPool returns a new pool on the benchmark schema, counting its writes.
func pgPool(b *testing.B) (*pgxpool.Pool, *writeCounter) {
	b.Helper()
	pg.once.Do(func() {
		pg.admin, pg.err = pgxpool.New(context.Background(), dsn)
		if pg.err == nil {
			pg.schema = fmt.Sprintf("touchbench_%d", time.Now().UnixNano())
			_, pg.err = pg.admin.Exec(context.Background(), "CREATE SCHEMA "+pg.schema)
		}
	})
	if pg.err != nil {
		testenv.Unavailable(b, "PostgreSQL at "+dsn, "set "+testenv.PostgresEnv, pg.err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	c := &writeCounter{}
	cfg.ConnConfig.Tracer = c
	cfg.MaxConns = poolConns
	cfg.ConnConfig.RuntimeParams["search_path"] = pg.schema
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	pg.pools = append(pg.pools, pool)
	return pool, c
}

// fill copies the seed sessions into table.
func fill(b *testing.B, pool *pgxpool.Pool, table string, tokens []string, data [][]byte, expiry time.Time) {
	b.Helper()
	rows := make([][]any, len(tokens))
	for i := range tokens {
		rows[i] = []any{tokens[i], data[i], expiry}
	}
	if _, err := pool.CopyFrom(context.Background(), pgx.Identifier{table}, []string{"token", "data", "expiry"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), "ANALYZE "+table); err != nil {
		b.Fatal(err)
	}
}

// rawStore is raw pgx doing the minimal SQL of an SCS store: a SELECT and
// an upsert, what SCS's pgxstore runs.
type rawStore struct {
	pool  *pgxpool.Pool
	table string
}

func (s rawStore) Find(tok string) (b []byte, found bool, err error) {
	err = s.pool.QueryRow(context.Background(), "SELECT data FROM "+s.table+" WHERE token = $1 AND expiry > $2", tok, time.Now()).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	return b, err == nil, err
}

func (s rawStore) Commit(tok string, b []byte, expiry time.Time) error {
	_, err := s.pool.Exec(context.Background(), "INSERT INTO "+s.table+` (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, tok, b, expiry)
	return err
}

func (s rawStore) Delete(tok string) error {
	_, err := s.pool.Exec(context.Background(), "DELETE FROM "+s.table+" WHERE token = $1", tok)
	return err
}

// pgTarget makes a pgstore on its own table and pool, filled with the seed.
func pgTarget(b *testing.B, name string, cfg pgstore.Config, tokens []string, data [][]byte, expiry time.Time) target {
	b.Helper()
	pool, c := pgPool(b)
	cfg.Table = "t_" + strings.NewReplacer("/", "_", "+", "_").Replace(name)
	cfg.CreateTable = true
	cfg.CleanupInterval = -1
	s, err := pgstore.NewWithConfig(pool, cfg)
	if err != nil {
		b.Fatal(err)
	}
	fill(b, pool, cfg.Table, tokens, data, expiry)
	return target{name: name, store: s, writes: c.n.Load}
}

var pgTargets struct {
	once    sync.Once
	tokens  []string
	targets []target
}

// BenchmarkTouchPostgres: raw pgx, pgstore without TouchWindow, and with a
// one-minute window, under the same requests.
func BenchmarkTouchPostgres(b *testing.B) {
	pgTargets.once.Do(func() {
		tokens, data, expiry := seed()
		pool, c := pgPool(b)
		if _, err := pool.Exec(context.Background(), "CREATE TABLE t_raw (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL); CREATE INDEX ON t_raw (expiry)"); err != nil {
			b.Fatal(err)
		}
		fill(b, pool, "t_raw", tokens, data, expiry)
		pgTargets.tokens = tokens
		pgTargets.targets = []target{
			{name: "raw", store: rawStore{pool: pool, table: "t_raw"}, writes: c.n.Load},
			pgTarget(b, "pgstore", pgstore.Config{}, tokens, data, expiry),
			pgTarget(b, "pgstore+touch", pgstore.Config{TouchWindow: window}, tokens, data, expiry),
		}
	})
	if pgTargets.targets == nil {
		b.Skip("setup failed")
	}
	run(b, pgTargets.targets, pgTargets.tokens)
}
