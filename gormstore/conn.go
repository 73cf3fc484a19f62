package gormstore

import (
	"context"
	"database/sql"

	"gorm.io/gorm"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// conn runs the store's statements through GORM (Exec and Raw), so that
// GORM's logger, prepared statement cache and plugins see them. GORM passes
// the values to the driver as bind parameters.
type conn struct{ db *gorm.DB }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r := c.db.WithContext(ctx).Exec(query, args...)
	return r.RowsAffected, r.Error
}

func (c conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.db.WithContext(ctx).Raw(query, args...).Rows()
}

func (c conn) InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	return c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return fn(conn{tx}) })
}
