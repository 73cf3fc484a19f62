package postgresstore

// The glue between SCS's postgresstore_test.go, copied into a temporary
// module by TestPeerSCS, and our pgstore. pgstore takes a pgx
// pool, not a *sql.DB, so code written for postgresstore does not compile
// unchanged (docs/compatibility.md): the constructor its tests call ignores
// the *sql.DB it gets and builds our store on a pgx pool of the same
// database, SCS_POSTGRES_TEST_DSN's, which is what a switching user does.
// The tests' own statements still go through their *sql.DB (lib/pq).

import (
	"context"
	"database/sql"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/pgstore"
)

func NewWithCleanupInterval(_ *sql.DB, cleanupInterval time.Duration) *pgstore.PostgresStore {
	pool, err := pgxpool.New(context.Background(), os.Getenv("SCS_POSTGRES_TEST_DSN"))
	if err != nil {
		panic(err)
	}
	return pgstore.NewWithCleanupInterval(pool, cleanupInterval)
}
