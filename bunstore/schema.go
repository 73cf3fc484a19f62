package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sessionstore/sessionstore/internal/sqlstore"
)

// Migrate creates the sessions table, the tombstone table and their expiry
// indexes where they do not exist (CREATE ... IF NOT EXISTS). It never alters
// an existing table. When both tables and their expiry indexes exist it
// runs no DDL: PostgreSQL and MySQL refuse CREATE ... IF NOT EXISTS to a
// role without CREATE even when the table is there, and such a role can
// then call Migrate at every start once an administrator has migrated. The statements per dialect are listed in the package
// documentation, for deployments that migrate with their own tools.
//
// On MySQL and MariaDB the token columns must compare bytes exactly; a
// table made by an earlier version (VARCHAR(512) utf8mb4_bin, which is PAD
// SPACE) or by SCS (CHAR(43)) needs, for both tables:
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
func (b *BunStore) Migrate(ctx context.Context) error {
	return b.store.Migrate(ctx)
}

// execAll runs DDL through Bun, so that Bun's query hooks see it. The DDL
// holds no values, only the validated, quoted table name.
func execAll(ctx context.Context, db *bun.DB, stmts []string) error {
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// dialectOf maps Bun's dialect to the store's dialect and placeholders.
func dialectOf(db *bun.DB) (sqlstore.Dialect, sqlstore.Placeholders, error) {
	switch name := db.Dialect().Name(); name {
	case dialect.PG:
		return sqlstore.Postgres, sqlstore.Dollar, nil
	case dialect.MySQL:
		return sqlstore.MySQL, sqlstore.Question, nil
	case dialect.SQLite:
		return sqlstore.SQLite, sqlstore.Question, nil
	default:
		return 0, 0, fmt.Errorf("unsupported Bun dialect %v (want pg, mysql or sqlite)", name)
	}
}
