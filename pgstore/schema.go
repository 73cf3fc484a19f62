package pgstore

import "context"

// Migrate creates the sessions table, its expiry index, the tombstone table
// and its index if they do not exist. It is idempotent and safe to run from
// several replicas at once (an advisory lock serialises them). NewWithConfig
// calls it when Config.CreateTable is set; call it yourself from a
// deployment step otherwise, or apply the same DDL with your migrations.
// When everything exists it runs no DDL, so an application whose role may
// not create anything (the schema's owner migrated) can still call it at
// every start.
//
// With Config.Owner set, it also turns the per-user index on: a new table
// is created with the index columns and the owner index; an existing one
// (SCS's, say) gets the columns, then the index, built without blocking
// the table's traffic, then a backfill of the owners of its live sessions
// (see the README). Sessions keep working throughout, and no one is
// logged out. The index part is not bounded by the store's timeout: a
// large table takes as long as it takes, bounded by ctx.
func (s *PostgresStore) Migrate(ctx context.Context) error { return s.core.Migrate(ctx) }
