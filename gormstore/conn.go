package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// newConn returns the connection the store runs its statements on, with
// bind parameters: GORM's connection pool (db.Statement.ConnPool: the
// *sql.DB, GORM's prepared statement cache with PrepareStmt, or the *sql.Tx
// of a transaction), with stmts for the hot statements where GORM's pool is
// a plain *sql.DB on MySQL; or, with Config.Callbacks, db.Exec and db.Raw,
// so that GORM's logger and plugins see them, at about twice the Go
// overhead per call. Transactions are GORM's (db.Transaction), so that
// GORM's transaction hooks see them.
//
// On PostgreSQL, without Callbacks, the statements run on sqlDB, the
// *sql.DB under GORM, even with PrepareStmt: pgx prepares each statement
// once per connection already, and the schema statements the store sends
// without arguments hold several commands, which no prepared statement can.
func newConn(db *gorm.DB, sqlDB *sql.DB, d sqlstore.Dialect, callbacks bool, stmts *sqlstore.StmtCache) sqlstore.Conn {
	if callbacks {
		return callbackConn{db: db}
	}
	pool := db.Statement.ConnPool
	if d == sqlstore.Postgres {
		pool = sqlDB
	}
	return sqlstore.SQLConn{
		Pool:  pool,
		Stmts: stmts,
		DB:    sqlDB,
		Begin: func(ctx context.Context, fn func(tx sqlstore.Pool, sqlTx *sql.Tx) error) error {
			return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				pool := tx.Statement.ConnPool
				sqlTx, _ := pool.(*sql.Tx)
				return fn(pool, sqlTx)
			})
		},
	}
}

// callbackConn runs the store's statements through db.Exec and db.Raw.
// GORM passes the arguments of a statement written with $1, $2, ...
// (PostgreSQL's, which the core writes) as they are.
type callbackConn struct{ db *gorm.DB }

var _ sqlstore.Holder = callbackConn{}

func (c callbackConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r := c.db.WithContext(ctx).Exec(query, args...)
	return r.RowsAffected, r.Error
}

func (c callbackConn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.db.WithContext(ctx).Raw(query, args...).Rows()
}

func (c callbackConn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	return c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(callbackConn{db: tx})
	})
}

// OnConn runs fn on one connection of GORM's pool (db.Connection).
func (c callbackConn) OnConn(ctx context.Context, fn func(c sqlstore.Conn) error) error {
	return c.db.WithContext(ctx).Connection(func(tx *gorm.DB) error {
		return fn(callbackConn{db: tx})
	})
}

// Discard marks a connection OnConn holds bad, so that database/sql closes
// it instead of returning it to the pool.
func (c callbackConn) Discard(context.Context) {
	if conn, ok := c.db.Statement.ConnPool.(*sql.Conn); ok {
		conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the error is ErrBadConn, by design
	}
}
