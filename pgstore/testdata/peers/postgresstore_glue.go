package postgresstore

// The glue between SCS's postgresstore_test.go, copied into a temporary
// module by TestPeerSCS, and our pgstore: the constructor its tests call
// builds ours on the *sql.DB (lib/pq) the tests opened, which is what a
// switching user's code does once its import names pgstore.

import (
	"database/sql"
	"time"

	"github.com/sessionstore/sessionstore/pgstore"
)

func NewWithCleanupInterval(db *sql.DB, cleanupInterval time.Duration) *pgstore.PostgresStore {
	return pgstore.NewWithCleanupInterval(db, cleanupInterval)
}
