package gormstore

import (
	"context"
	"database/sql"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// newConn returns the connection the store runs its statements on, with
// bind parameters: GORM's connection pool (db.Statement.ConnPool: the
// *sql.DB, GORM's prepared statement cache with PrepareStmt, or the *sql.Tx
// of a transaction), with stmts for the hot statements where GORM's pool is
// a plain *sql.DB on MySQL; or, with Config.Callbacks, db.Exec and db.Raw,
// so that GORM's logger and plugins see them, at about twice the Go
// overhead per call.
func newConn(db *gorm.DB, callbacks bool, stmts *sqlstore.StmtCache) sqlstore.Conn {
	if callbacks {
		return callbackConn{db: db}
	}
	return sqlstore.SQLConn{
		Pool:  db.Statement.ConnPool,
		Stmts: stmts,
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
type callbackConn struct{ db *gorm.DB }

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
