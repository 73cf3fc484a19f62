package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// Session is the GORM model of the sessions table, for migration tools that
// work from models. Its column types depend on the dialect: token TEXT
// (VARBINARY(512) on MySQL and MariaDB, so that tokens compare byte by
// byte: no case folding, no PAD SPACE), data BYTEA / LONGBLOB / BLOB, expiry TIMESTAMPTZ /
// DATETIME(6) / DATETIME, all NOT NULL. The table also has an index on
// expiry, named <table>_expiry_idx.
type Session struct {
	Token  TokenColumn  `gorm:"column:token;primaryKey;not null"`
	Data   DataColumn   `gorm:"column:data;not null"`
	Expiry ExpiryColumn `gorm:"column:expiry;not null"`
}

// TableName is the default name of the sessions table.
func (Session) TableName() string { return "sessions" }

// Tombstone is the GORM model of the tombstone table (<table>_tombstones):
// the token of each deleted session, kept until that session would have
// expired, with an index on expiry named <table>_tombstones_expiry_idx.
type Tombstone struct {
	Token  TokenColumn  `gorm:"column:token;primaryKey;not null"`
	Expiry ExpiryColumn `gorm:"column:expiry;not null"`
}

// TableName is the default name of the tombstone table.
func (Tombstone) TableName() string { return "sessions_tombstones" }

// TokenColumn is the type of the token column.
type TokenColumn string

// GormDBDataType returns the column type for the dialect of db.
func (TokenColumn) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Dialector.Name() == "mysql" {
		return sqlstore.MySQLTokenType
	}
	return "text"
}

// DataColumn is the type of the data column.
type DataColumn []byte

// GormDBDataType returns the column type for the dialect of db.
func (DataColumn) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	switch db.Dialector.Name() {
	case "postgres":
		return "bytea"
	case "mysql":
		return "longblob"
	}
	return "blob"
}

// ExpiryColumn is the type of the expiry column.
type ExpiryColumn time.Time

// GormDBDataType returns the column type for the dialect of db.
func (ExpiryColumn) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	switch db.Dialector.Name() {
	case "postgres":
		return "timestamptz"
	case "mysql":
		return "datetime(6)"
	}
	return "datetime"
}

// Migrate creates the sessions table, the tombstone table and their expiry
// indexes with GORM's migrator, where they do not exist (on PostgreSQL with
// the statements pgstore's Migrate runs, under its advisory lock, so that
// replicas migrating at once do not collide). It never alters an
// existing table: an SCS table keeps its NOT NULL constraints and its one
// expiry index. New already calls it; it is exported for deployments that
// migrate in a separate step. When both tables and their expiry indexes
// exist it runs no DDL, so a role that may not create anything can call it.
//
// On MySQL and MariaDB the token columns must compare bytes exactly; a
// table made by an earlier version (VARCHAR(512) utf8mb4_bin, which is PAD
// SPACE) or by SCS (CHAR(43), VARCHAR with a case-insensitive collation)
// needs, for both tables:
//
//	ALTER TABLE sessions MODIFY token VARBINARY(512) NOT NULL;
//	ALTER TABLE sessions_tombstones MODIFY token VARBINARY(512) NOT NULL;
//
// NewWithConfig and Migrate return an error naming the statement until then.
//
// With Config.Owner set, Migrate also adds the per-user index columns and
// the owner index where they are missing, and indexes the live sessions no
// indexed Commit has written yet (see the README for the SQL and the
// backfill). It is idempotent.
func (g *GORMStore) Migrate(ctx context.Context) error {
	return g.store.Migrate(ctx)
}

// createTable creates table from model and its expiry index, unless the
// table exists.
func createTable(db *gorm.DB, table string, model any, index string) error {
	if db.Migrator().HasTable(table) {
		return nil
	}
	if db.Dialector.Name() == "mysql" {
		db = db.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	if err := db.Table(table).Migrator().CreateTable(model); err != nil {
		return err
	}
	return db.Exec(index).Error
}

// dialectOf maps GORM's dialector name to the store's dialect.
func dialectOf(db *gorm.DB) (sqlstore.Dialect, error) {
	switch name := db.Dialector.Name(); name {
	case "postgres":
		return sqlstore.Postgres, nil
	case "mysql":
		return sqlstore.MySQL, nil
	case "sqlite", "sqlite3":
		return sqlstore.SQLite, nil
	default:
		return 0, fmt.Errorf("unsupported GORM dialect %q (want postgres, mysql or sqlite)", name)
	}
}
