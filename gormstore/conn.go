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
type conn struct {
	db        *gorm.DB
	callbacks bool
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if c.callbacks {
		r := c.db.WithContext(ctx).Exec(query, args...)
		return r.RowsAffected, r.Error
	}
	r, err := c.db.Statement.ConnPool.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.callbacks {
		return c.db.WithContext(ctx).Raw(query, args...).Rows()
	}
	return c.db.Statement.ConnPool.QueryContext(ctx, query, args...)
}

func (c conn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	return c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(conn{db: tx, callbacks: c.callbacks})
	})
}
