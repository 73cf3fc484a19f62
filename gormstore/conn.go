package gormstore

import (
	"context"
	"database/sql"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// conn runs the store's statements with bind parameters, either on GORM's
// connection pool (db.Statement.ConnPool: the *sql.DB, GORM's prepared
// statement cache with PrepareStmt, or the *sql.Tx of a transaction) or,
// with Config.Callbacks, through db.Exec and db.Raw, so that GORM's logger
// and plugins see them, at about twice the Go overhead per call.
//
// On MySQL, when GORM's pool is a plain *sql.DB (no PrepareStmt), stmts
// holds the frequent statements prepared once: database/sql would otherwise
// prepare, run and close each one, three round trips instead of one.
type conn struct {
	db        *gorm.DB
	callbacks bool
	stmts     *sqlstore.StmtCache
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if c.callbacks {
		r := c.db.WithContext(ctx).Exec(query, args...)
		return r.RowsAffected, r.Error
	}
	var r sql.Result
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return 0, err
	case stmt != nil:
		r, err = stmt.ExecContext(ctx, args...)
	default:
		r, err = c.db.Statement.ConnPool.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.callbacks {
		return c.db.WithContext(ctx).Raw(query, args...).Rows()
	}
	stmt, err := c.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case stmt != nil:
		return stmt.QueryContext(ctx, args...)
	}
	return c.db.Statement.ConnPool.QueryContext(ctx, query, args...)
}

// stmt returns the cached prepared statement for query, bound to the
// transaction if there is one, or nil if query is to run unprepared. It
// never waits for a second connection inside a transaction.
func (c conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	tx, _ := c.db.Statement.ConnPool.(*sql.Tx)
	return c.stmts.Get(ctx, query, tx)
}

func (c conn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	if c.stmts != nil {
		c.stmts.Warm(ctx) // while no connection is held
	}
	return c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(conn{db: tx, callbacks: c.callbacks, stmts: c.stmts})
	})
}
