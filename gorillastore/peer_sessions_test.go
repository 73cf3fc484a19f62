package gorillastore

import (
	"context"
	"testing"

	"github.com/sessionstore/sessionstore/internal/peertest"
)

// gorillaPeer is gorilla/sessions v1.4.0's own store tests: store_test.go
// and sessions_test.go, whose tests build gorilla's CookieStore and
// FilesystemStore through their constructors, which the glue maps to one
// of ours. cookie_test.go tests an unexported helper of gorilla's and is
// not copied.
func gorillaPeer(glue string, env ...string) peertest.Peer {
	return peertest.Peer{
		Module:  "github.com/gorilla/sessions",
		Version: "v1.4.0",
		Files:   []string{"store_test.go", "sessions_test.go"},
		Glue:    glue,
		Env:     env,
	}
}

// TestPeerGorillaSessions runs gorilla/sessions' own store tests against
// PGStore and against the adapter over memstore (docs/compatibility.md).
func TestPeerGorillaSessions(t *testing.T) {
	t.Run("PGStore", func(t *testing.T) {
		admin := testPool(t)
		schema := "gs_peer_" + tableName()[len("gs_test_"):]
		ctx := context.Background()
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		dsn, err := peertest.WithSearchPath(testDSN, schema)
		if err != nil {
			t.Fatal(err)
		}
		peertest.Run(t, ".", gorillaPeer("testdata/peers/sessions_pg_glue.go", "GORILLASTORE_PEER_DSN="+dsn))
	})
	t.Run("Adapter", func(t *testing.T) {
		peertest.Run(t, ".", gorillaPeer("testdata/peers/sessions_adapter_glue.go"))
	})
}
