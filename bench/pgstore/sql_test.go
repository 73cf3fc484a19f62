package pgstorebench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"

	"github.com/sessionstore/sessionstore/pgstore"
)

// buildSQL returns, with PGSTORE_BENCH_SQL set, four more impls on the
// same table, two on each of two *sql.DB: one through pgx's stdlib driver
// ("rawsql", the raw impl's SQL through database/sql, and "sqldb", pgstore
// on that *sql.DB), one through lib/pq ("rawpq" and "pqdb"). Each store's
// ratio to the raw impl on its own *sql.DB is what pgstore costs over the
// same driver; on lib/pq pgstore's Commit is the INSERT ... ON CONFLICT
// form (lib/pq reports no rows for a MERGE: pgcore.MergeReporter).
func buildSQL() ([]impl, error) {
	stdImpls, err := sqlPair(stdlib.OpenDBFromPool(env.pool), "rawsql", "sqldb")
	if err != nil {
		return nil, err
	}
	pq, err := openPQ()
	if err != nil {
		return nil, err
	}
	env.pq = pq
	pq.SetMaxOpenConns(int(env.pool.Config().MaxConns))
	pq.SetMaxIdleConns(int(env.pool.Config().MaxConns))
	pqImpls, err := sqlPair(pq, "rawpq", "pqdb")
	if err != nil {
		return nil, err
	}
	return append(stdImpls, pqImpls...), nil
}

// sqlPair returns the raw impl's SQL on db, named rawName, and pgstore on
// db, named storeName.
func sqlPair(db *sql.DB, rawName, storeName string) ([]impl, error) {
	store, err := pgstore.NewWithConfig(db, pgstore.Config{CleanupInterval: -1})
	if err != nil {
		return nil, err
	}
	raw := impl{
		name: rawName,
		find: func(ctx context.Context, tok string) (b []byte, found bool, err error) {
			err = db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = $1 AND expiry > $2", tok, time.Now()).Scan(&b)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, false, nil
			}
			return b, err == nil, err
		},
		commit: func(ctx context.Context, tok string, b []byte, expiry time.Time) error {
			_, err := db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry`, tok, b, expiry)
			return err
		},
		del: func(ctx context.Context, tok string) error {
			_, err := db.ExecContext(ctx, "DELETE FROM sessions WHERE token = $1", tok)
			return err
		},
		all: func(ctx context.Context) (map[string][]byte, error) {
			rows, err := db.QueryContext(ctx, "SELECT token, data FROM sessions WHERE expiry > $1", time.Now())
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			all := make(map[string][]byte)
			for rows.Next() {
				var tok string
				var data []byte
				if err := rows.Scan(&tok, &data); err != nil {
					return nil, err
				}
				all[tok] = data
			}
			return all, rows.Err()
		},
	}
	return []impl{raw, {
		name: storeName, vs: rawName,
		find: store.FindCtx, commit: store.CommitCtx, del: store.DeleteCtx, all: store.AllCtx,
	}}, nil
}

// openPQ opens lib/pq on the benchmark's database and schema (lib/pq sends
// search_path as a run-time parameter, as pgx does for env.pool).
func openPQ() (*sql.DB, error) {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	ssl := "disable"
	if c.TLSConfig != nil {
		ssl = "require"
	}
	q := func(v string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'" }
	return sql.Open("postgres", fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=%s search_path=%s",
		q(c.Host), c.Port, q(c.User), q(c.Password), q(c.Database), ssl, q(env.schema)))
}
