// Command pgstore is what a user of pgstore builds: the store on a pgx pool,
// on PostgreSQL when SESSIONSTORE_POSTGRES_DSN is set.
package main

import (
	"context"
	"fmt"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionstore/sessionstore/pgstore"
)

var _ scs.Store = (*pgstore.PostgresStore)(nil)

func main() {
	if url, ok := dsn("SESSIONSTORE_POSTGRES_DSN"); ok {
		check("pgstore on PostgreSQL: commit, find, delete", run(url))
	}
	exit()
}

func run(url string) (err error) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	name := table()
	store, err := pgstore.NewWithConfig(pool, pgstore.Config{Table: name, CreateTable: true})
	if err != nil {
		return err
	}
	defer func() {
		store.StopCleanup()
		if _, dropErr := pool.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s_tombstones", name, name)); err == nil {
			err = dropErr
		}
	}()
	return exercise(store)
}
