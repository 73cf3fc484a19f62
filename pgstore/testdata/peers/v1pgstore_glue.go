package pgstore

// The glue between SCS v1's stores/pgstore/pgstore_test.go, copied into a
// temporary module by TestPeerSCS, and our pgstore. SCS v1's New takes a
// *sql.DB (lib/pq) and the cleanup interval; ours builds its store on that
// *sql.DB. SCS v1's pgstore.go registered lib/pq, which the tests' own
// sql.Open needs, so this file does now.

import (
	"database/sql"
	"time"

	_ "github.com/lib/pq"

	"github.com/sessionstore/sessionstore/pgstore"
)

func New(db *sql.DB, cleanupInterval time.Duration) *pgstore.PostgresStore {
	return pgstore.NewWithCleanupInterval(db, cleanupInterval)
}
