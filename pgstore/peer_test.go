package pgstore

import (
	"context"
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// afterDelete is why SCS's TestCleanup cannot pass here.
const afterDelete = "writes session_token (Commit; Save in SCS v1) after TestDelete deleted it: by our " +
	"tombstone rule that write is a no-op, so its row count is 0 where the test wants 1"

// TestPeerSCS runs SCS's own PostgreSQL store tests against this store,
// each in a schema of its own whose sessions and tombstone tables
// NewWithConfig creates (docs/compatibility.md): pgxstore's, on its pgx
// pool; postgresstore's and SCS v1's pgstore's (whose store writes with
// Save), on the *sql.DB (lib/pq) they open, as their users' code would.
func TestPeerSCS(t *testing.T) {
	for _, c := range []struct {
		name, module, version, dir, file, env string
	}{
		{"pgxstore", "github.com/alexedwards/scs/pgxstore", "v0.0.0-20240316134038-7e11d57e8885", "", "pgxstore_test.go", "SCS_POSTGRES_TEST_DSN"},
		{"postgresstore", "github.com/alexedwards/scs/postgresstore", "v0.0.0-20251002162104-209de6e426de", "", "postgresstore_test.go", "SCS_POSTGRES_TEST_DSN"},
		{"v1pgstore", "github.com/alexedwards/scs", "v1.4.1", "stores/pgstore", "pgstore_test.go", "SESSION_PG_TEST_DSN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			peertest.Run(t, ".", peertest.Peer{
				Module:  c.module,
				Version: c.version,
				Dir:     c.dir,
				Files:   []string{c.file},
				Glue:    "testdata/peers/" + c.name + "_glue.go",
				Env:     []string{c.env + "=" + peerSchema(t)},
				// TRUNCATE TABLE sessions leaves sessions_tombstones, and
				// TestDelete, which runs before, deleted session_token.
				Skip: map[string]string{"TestCleanup": afterDelete},
			})
		})
	}
}

// peerSchema returns the DSN of a fresh schema holding SCS's sessions table
// and its tombstone table, dropped when t ends.
func peerSchema(t *testing.T) string {
	t.Helper()
	pool := newSchemaPool(t)
	ctx := context.Background()
	s, err := NewWithConfig(pool, Config{CreateTable: true, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.StopCleanup()
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	dsn, err := peertest.WithSearchPath(testDSN, schema)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
