package pgstore

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/jackc/pgx/v5"

	"github.com/sessionstore/sessionstore/internal/pgcore"
)

// sqlDB is a *sql.DB as the core's DB, for any PostgreSQL driver (lib/pq,
// pgx's stdlib). It runs the same statements as poolDB; the driver sends
// the []string and [][]byte arguments of the per-user index as arrays
// (pgx's stdlib does, and lib/pq since v1.11). AsyncCommit, without a
// batch, runs its set_config and the Commit in a transaction (BEGIN, the
// setting and COMMIT: three round trips more than pgx's one batch).
type sqlDB struct{ db *sql.DB }

var (
	_ pgcore.DB            = sqlDB{}
	_ pgcore.MergeReporter = sqlDB{}
)

// ReportsMerge reports whether the driver is pgx's stdlib, whose result
// counts the rows of a MERGE; lib/pq (v1.12) reports 0 for one. A driver
// that cannot be told apart is taken not to.
func (d sqlDB) ReportsMerge(ctx context.Context) (bool, error) {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	var isPgx bool
	err = c.Raw(func(dc any) error {
		_, isPgx = dc.(interface{ Conn() *pgx.Conn })
		return nil
	})
	return isPgx, err
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d sqlDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return execOn(ctx, d.db, q, args)
}

func (d sqlDB) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return d.db.QueryRowContext(ctx, q, args...)
}

func (d sqlDB) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return queryOn(ctx, d.db, q, args)
}

func (d sqlDB) InTx(ctx context.Context, fn func(pgcore.Conn) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlConn{tx}); err != nil {
		tx.Rollback() //nolint:errcheck // fn's error is the one to report
		return err
	}
	return tx.Commit()
}

func (d sqlDB) OnConn(ctx context.Context, fn func(pgcore.Conn) error) error {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(heldSQLConn{sqlConn{c}, c})
}

// sqlConn is a *sql.Tx or *sql.Conn as the core's Conn.
type sqlConn struct{ q querier }

func (c sqlConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return execOn(ctx, c.q, q, args)
}

func (c sqlConn) QueryRow(ctx context.Context, q string, args ...any) pgcore.Row {
	return c.q.QueryRowContext(ctx, q, args...)
}

func (c sqlConn) Query(ctx context.Context, q string, args ...any) (pgcore.Rows, error) {
	return queryOn(ctx, c.q, q, args)
}

// heldSQLConn is a connection taken from a *sql.DB.
type heldSQLConn struct {
	sqlConn
	c *sql.Conn
}

// Discard marks the connection bad, so that database/sql closes it instead
// of returning it to the pool.
func (c heldSQLConn) Discard(context.Context) {
	c.c.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the error is ErrBadConn, by design
}

func execOn(ctx context.Context, on querier, q string, args []any) (int64, error) {
	res, err := on.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func queryOn(ctx context.Context, on querier, q string, args []any) (pgcore.Rows, error) {
	rows, err := on.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// sqlRows is *sql.Rows with pgx's Close, which returns nothing: its error,
// if any, is also Err's.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
