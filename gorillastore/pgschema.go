package gorillastore

import (
	"context"
	"fmt"
)

// maxTableName is the longest PGConfig.Table, in bytes: PostgreSQL cuts
// identifiers at 63 bytes, and the longest name derived from the table,
// Table+"_tombstones_expires_on_idx", must fit.
const maxTableName = 63 - len("_tombstones_expires_on_idx")

// checkTableName returns an error for a table name that PostgreSQL would
// truncate, itself or in a name derived from it: two such names would share
// a table.
func checkTableName(table string) error {
	if len(table) > maxTableName {
		return fmt.Errorf("PGConfig.Table %q is %d bytes, over the %d bytes that leave room for %q within PostgreSQL's "+
			"63-byte identifiers (a longer name is truncated, so two names could share a table)",
			table, len(table), maxTableName, "_tombstones_expires_on_idx")
	}
	return nil
}

// checkSchema verifies that the session table, if it exists, has a unique
// key column, which the statements need. An antonlindstrom/pgstore table
// has not. A table that does not exist yet is created with one.
func checkSchema(ctx context.Context, db DBConn, table string) error {
	var ok bool
	err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NULL OR EXISTS (SELECT 1 FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1 AND a.attname = 'key')`, table).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("table %s has no unique key column (is it an antonlindstrom/pgstore table?): "+
			"drop it, or choose another PGConfig.Table", table)
	}
	return nil
}

// dropSchema drops both tables; tests use it.
func (b *pgBackend) dropSchema(ctx context.Context) error {
	_, err := b.db.Exec(ctx, `DROP TABLE IF EXISTS `+b.table+`, `+b.tombs)
	return err
}
