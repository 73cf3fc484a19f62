package pgstore

// The glue between SCS v1's stores/pgstore/pgstore_test.go, copied into a
// temporary module by TestPeerSCS, and our pgstore. SCS v1's New
// takes a *sql.DB (lib/pq) and the cleanup interval; ours takes a pgx
// pool, so code written for it does not compile unchanged
// (docs/compatibility.md): New ignores the *sql.DB it gets and builds our
// store on a pgx pool of the same database, SESSION_PG_TEST_DSN's. The
// tests' own statements go through their *sql.DB, with lib/pq, which SCS
// v1's pgstore.go registered and this file now does.

import (
	"context"
	"database/sql"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/lib/pq"

	"github.com/sessionstore/sessionstore/pgstore"
)

func New(_ *sql.DB, cleanupInterval time.Duration) *pgstore.PostgresStore {
	pool, err := pgxpool.New(context.Background(), os.Getenv("SESSION_PG_TEST_DSN"))
	if err != nil {
		panic(err)
	}
	return pgstore.NewWithCleanupInterval(pool, cleanupInterval)
}
