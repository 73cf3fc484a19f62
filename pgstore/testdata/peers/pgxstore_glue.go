package pgxstore

// The glue between SCS's pgxstore_test.go, copied into a temporary module
// by TestPeerSCS, and our pgstore: the constructor its tests call
// builds ours, on the same pgx pool and the same sessions table.

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/pgstore"
)

func NewWithCleanupInterval(pool *pgxpool.Pool, cleanupInterval time.Duration) *pgstore.PostgresStore {
	return pgstore.NewWithCleanupInterval(pool, cleanupInterval)
}
