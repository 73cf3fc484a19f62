package pgstore

import (
	"context"
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// afterDelete is why SCS's TestCleanup cannot pass here.
const afterDelete = "writes session_token (Commit; Save in SCS v1) after TestDelete deleted it: by our " +
	"tombstone rule that write is a no-op, so its row count is 0 where the test wants 1"

// TestPeerSCSPgxstore runs SCS's own pgxstore_test.go against this store,
// in a schema of its own whose sessions and tombstone tables
// NewWithConfig creates (docs/compatibility.md).
func TestPeerSCSPgxstore(t *testing.T) {
	dsn := peerSchema(t)
	peertest.Run(t, ".", peertest.Peer{
		Module:  "github.com/alexedwards/scs/pgxstore",
		Version: "v0.0.0-20240316134038-7e11d57e8885",
		Files:   []string{"pgxstore_test.go"},
		Glue:    "testdata/peers/pgxstore_glue.go",
		Env:     []string{"SCS_POSTGRES_TEST_DSN=" + dsn},
		Skip: map[string]string{
			// TRUNCATE TABLE sessions leaves sessions_tombstones, and
			// TestDelete, which runs before, deleted session_token.
			"TestCleanup": afterDelete,
		},
	})
}

// TestPeerSCSPostgresstore runs SCS's own postgresstore_test.go against
// this store, through lib/pq for the test's own statements: the glue
// builds our store on a pgx pool of the same database.
func TestPeerSCSPostgresstore(t *testing.T) {
	dsn := peerSchema(t)
	peertest.Run(t, ".", peertest.Peer{
		Module:  "github.com/alexedwards/scs/postgresstore",
		Version: "v0.0.0-20251002162104-209de6e426de",
		Files:   []string{"postgresstore_test.go"},
		Glue:    "testdata/peers/postgresstore_glue.go",
		Env:     []string{"SCS_POSTGRES_TEST_DSN=" + dsn},
		Skip:    map[string]string{"TestCleanup": afterDelete},
	})
}

// TestPeerSCSv1Pgstore runs SCS v1's own stores/pgstore test file, whose
// store has Save where v2's has Commit, against this store.
func TestPeerSCSv1Pgstore(t *testing.T) {
	dsn := peerSchema(t)
	peertest.Run(t, ".", peertest.Peer{
		Module:  "github.com/alexedwards/scs",
		Version: "v1.4.1",
		Dir:     "stores/pgstore",
		Files:   []string{"pgstore_test.go"},
		Glue:    "testdata/peers/scsv1pgstore_glue.go",
		Env:     []string{"SESSION_PG_TEST_DSN=" + dsn},
		Skip:    map[string]string{"TestCleanup": afterDelete},
	})
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
