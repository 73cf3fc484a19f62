package pgstore

import (
	"context"
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// TestPeerSCSPgxstore runs SCS's own pgxstore_test.go against this store,
// in a schema of its own whose sessions and tombstone tables
// NewWithConfig creates (docs/compatibility.md).
func TestPeerSCSPgxstore(t *testing.T) {
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
	peertest.Run(t, ".", peertest.Peer{
		Module:  "github.com/alexedwards/scs/pgxstore",
		Version: "v0.0.0-20240316134038-7e11d57e8885",
		Files:   []string{"pgxstore_test.go"},
		Glue:    "testdata/peers/pgxstore_glue.go",
		Env:     []string{"SCS_POSTGRES_TEST_DSN=" + dsn},
		Skip: map[string]string{
			// TRUNCATE TABLE sessions leaves sessions_tombstones, and
			// TestDelete, which runs before, deleted session_token.
			"TestCleanup": "commits session_token after TestDelete deleted it: by our tombstone rule that Commit is a no-op, so its row count is 0 where the test wants 1",
		},
	})
}
