package pgstorebench

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sessionstore/sessionstore/pgstore"
)

// buildSQL returns, with PGSTORE_BENCH_SQL set, two more impls on one
// *sql.DB through pgx's stdlib driver, on the same table: "rawsql", the
// raw impl's SQL through database/sql, and "sqldb", pgstore on that
// *sql.DB, whose ratio to rawsql is what pgstore costs over the same
// driver.
func buildSQL() ([]impl, error) {
	db := stdlib.OpenDBFromPool(env.pool)
	store, err := pgstore.NewWithConfig(db, pgstore.Config{CleanupInterval: -1})
	if err != nil {
		return nil, err
	}
	raw := impl{
		name: "rawsql",
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
		name: "sqldb", vs: "rawsql",
		find: store.FindCtx, commit: store.CommitCtx, del: store.DeleteCtx, all: store.AllCtx,
	}}, nil
}
