package pgcore

import (
	"context"
	"fmt"

	"github.com/sessionstore/sessionstore"
)

// openIndex is Open's index step with Options.MigrateIndex: on a sessions
// table that exists, the index part of Migrate (the columns, the owner
// index, the backfill), bounded as Migrate's is; a table that does not
// exist yet is left to Migrate, which creates it with the columns. A
// failure (a role that may not alter the table, say) matches
// sessionstore.ErrNoIndex and names Migrate.
func (s *Store) openIndex() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.bound)
	var exists bool
	err := s.db.QueryRow(ctx, `SELECT to_regclass(`+quoteLiteral(s.Names.Sessions)+`) IS NOT NULL`).Scan(&exists)
	cancel()
	if err == nil && exists {
		err = s.migrateIndex(context.Background())
	}
	if err != nil {
		return fmt.Errorf("%s: table %s: %w: %w; run Migrate as a role that may alter the table, or apply the SQL of docs/index.md",
			s.name, s.Names.Display, sessionstore.ErrNoIndex, err)
	}
	return nil
}
