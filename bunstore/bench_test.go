package bunstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/storetest"
)

// benchConns is the connection pool size of every benchmarked store, the
// raw pgx baseline included.
const benchConns = 16

// BenchmarkPostgres compares bunstore with raw pgx running the minimal SQL
// (plain upsert, plain delete: no tombstones) on the same server.
func BenchmarkPostgres(b *testing.B) {
	db := openPostgres(b)
	db.SetMaxOpenConns(benchConns)
	db.SetMaxIdleConns(benchConns)
	pool := openPool(b)
	raw := newRawPgx(b, pool)
	table := tableName()
	s := newStore(b, db, bunstore.Config{Table: table, CleanupInterval: -1})
	sqltest.Bench(b, []sqltest.Target{
		{Name: "pgx", Store: raw, Fill: copyFill(pool, raw.table)},
		{Name: "bunstore", Store: s, Fill: copyFill(pool, table)},
	})
}

// BenchmarkMariaDB and BenchmarkSQLite measure bunstore alone.
func BenchmarkMariaDB(b *testing.B) { benchDialect(b, openMySQL(b), sqlstore.MySQL, benchConns) }

func BenchmarkSQLite(b *testing.B) { benchDialect(b, openSQLite(b), sqlstore.SQLite, 1) }

func benchDialect(b *testing.B, db *bun.DB, d sqlstore.Dialect, conns int) {
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	table := tableName()
	s := newStore(b, db, bunstore.Config{Table: table, CleanupInterval: -1})
	sqltest.Bench(b, []sqltest.Target{{Name: "bunstore", Store: s, Fill: execFill(db, d, table)}})
}

func openPool(b *testing.B) *pgxpool.Pool {
	dsn := testenv.PostgresDSN()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = benchConns
	cfg.MinConns = benchConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err == nil {
		err = pool.Ping(context.Background())
	}
	if err != nil {
		testenv.Unavailable(b, "PostgreSQL at 127.0.0.1:5432", "set "+testenv.PostgresEnv, err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// rawPgx is the baseline: the least SQL a PostgreSQL session store can
// run, through pgxpool.
type rawPgx struct {
	pool                   *pgxpool.Pool
	table                  string
	find, commit, del, all string
}

func newRawPgx(b *testing.B, pool *pgxpool.Pool) *rawPgx {
	table := tableName()
	names, err := pgcore.ParseTable("bench", table)
	if err != nil {
		b.Fatal(err)
	}
	q := pgcore.BuildQueries(names) // the core's tables, and its statements without tombstones
	if _, err := pool.Exec(context.Background(), q.Migrate); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pool.Exec(context.Background(), `DROP TABLE `+table+`, `+table+`_tombstones`) })
	return &rawPgx{
		pool: pool, table: table,
		find:   q.FindPlain,
		commit: q.CommitPlain,
		del:    q.DelPlain,
		all:    q.AllPlain,
	}
}

func (r *rawPgx) Find(token string) ([]byte, bool, error) {
	var data []byte
	err := r.pool.QueryRow(context.Background(), r.find, token, time.Now()).Scan(&data)
	if err == pgx.ErrNoRows {
		return nil, false, nil
	}
	return data, err == nil, err
}

func (r *rawPgx) Commit(token string, b []byte, expiry time.Time) error {
	_, err := r.pool.Exec(context.Background(), r.commit, token, b, expiry)
	return err
}

func (r *rawPgx) Delete(token string) error {
	_, err := r.pool.Exec(context.Background(), r.del, token)
	return err
}

func (r *rawPgx) All() (map[string][]byte, error) {
	rows, err := r.pool.Query(context.Background(), r.all, time.Now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	all := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		if err := rows.Scan(&token, &data); err != nil {
			return nil, err
		}
		all[token] = data
	}
	return all, rows.Err()
}

// copyFill bulk-loads a PostgreSQL table with COPY.
func copyFill(pool *pgxpool.Pool, table string) func([]string, []byte, time.Time) error {
	return func(tokens []string, data []byte, expiry time.Time) error {
		rows := make([][]any, len(tokens))
		for i, t := range tokens {
			rows[i] = []any{t, data, expiry}
		}
		_, err := pool.CopyFrom(context.Background(), pgx.Identifier{table},
			[]string{"token", "data", "expiry"}, pgx.CopyFromRows(rows))
		return err
	}
}

// execFill bulk-loads a table with multi-row INSERTs.
func execFill(db *bun.DB, d sqlstore.Dialect, table string) func([]string, []byte, time.Time) error {
	st, _ := sqlstore.New(d, sqlstore.Question, table)
	return func(tokens []string, data []byte, expiry time.Time) error {
		const rows = 500
		for len(tokens) > 0 {
			n := min(rows, len(tokens))
			q := "INSERT INTO " + table + " (token, data, expiry) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", n), ", ")
			args := make([]any, 0, 3*n)
			for _, t := range tokens[:n] {
				args = append(args, t, data, st.Time(expiry))
			}
			if _, err := db.DB.ExecContext(context.Background(), q, args...); err != nil {
				return err
			}
			tokens = tokens[n:]
		}
		return nil
	}
}

// BenchmarkIndex compares bunstore with its per-user index off and on, in
// one run, on PostgreSQL and MariaDB (see sqltest.BenchIndex; set
// SESSIONSTORE_BENCH_INDEX_SESSIONS=1000000 for a large table).
func BenchmarkIndex(b *testing.B) {
	for _, d := range []dialect{dialects[0], dialects[1]} {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
			offT, onT := tableName(), tableName()
			off := newStore(b, db, bunstore.Config{CleanupInterval: -1, Table: offT})
			on := newStore(b, db, bunstore.Config{CleanupInterval: -1, Owner: storetest.Owner, Table: onT})
			analyze := sqltest.AnalyzeStatement(d.name == "MariaDB", offT, onT)
			sqltest.BenchIndex(b, off, on, func() error {
				_, err := db.Exec(analyze)
				return err
			})
		})
	}
}
