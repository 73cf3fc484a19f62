package bunstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// BenchmarkCleanupStall measures the longest and the 99th-percentile
// concurrent Commit while DeleteExpired removes 500k expired sessions of 1M
// (and 50k tombstones), against the same Commit loop without cleanup, on
// PostgreSQL, MariaDB and SQLite (see sqltest.CleanupStall). It loads 1.5M
// rows per database and takes minutes, so it runs only when named:
//
//	cd bunstore && CI=true go test -run '^$' -bench 'BenchmarkCleanupStall' -benchtime 1x -timeout 60m .
func BenchmarkCleanupStall(b *testing.B) {
	if !sqltest.Explicit("CleanupStall") {
		b.Skip("run by name: -bench BenchmarkCleanupStall -benchtime 1x")
	}
	b.Run("db=PostgreSQL", func(b *testing.B) {
		db := withPool(openPostgres(b), benchConns)
		pool := openPool(b)
		table := tableName()
		s := newStore(b, db, bunstore.Config{Table: table, CleanupInterval: -1})
		sqltest.CleanupStall(b, sqltest.StallTarget{
			Name: "PostgreSQL", Store: s, Fill: copyFill(pool, table),
			FillTombstones: func(tokens []string, expiry time.Time) error {
				rows := make([][]any, len(tokens))
				for i, t := range tokens {
					rows[i] = []any{t, expiry}
				}
				_, err := pool.CopyFrom(context.Background(), pgx.Identifier{table + "_tombstones"},
					[]string{"token", "expiry"}, pgx.CopyFromRows(rows))
				return err
			},
		})
	})
	for _, d := range []struct {
		name    string
		open    func(testing.TB) *bun.DB
		dialect sqlstore.Dialect
		conns   int
	}{
		{"MariaDB", openMySQL, sqlstore.MySQL, benchConns},
		{"SQLite", openSQLite, sqlstore.SQLite, 1},
	} {
		b.Run("db="+d.name, func(b *testing.B) {
			db := withPool(d.open(b), d.conns)
			table := tableName()
			s := newStore(b, db, bunstore.Config{Table: table, CleanupInterval: -1})
			sqltest.CleanupStall(b, sqltest.StallTarget{
				Name: d.name, Store: s, Fill: execFill(db, d.dialect, table),
				FillTombstones: tombFill(db, d.dialect, table),
			})
		})
	}
}

// tombFill bulk-loads a tombstone table with multi-row INSERTs.
func tombFill(db *bun.DB, d sqlstore.Dialect, table string) func([]string, time.Time) error {
	st, _ := sqlstore.New(d, sqlstore.Question, table)
	return func(tokens []string, expiry time.Time) error {
		const rows = 1000
		for len(tokens) > 0 {
			n := min(rows, len(tokens))
			q := "INSERT INTO " + table + "_tombstones (token, expiry) VALUES " +
				strings.TrimSuffix(strings.Repeat("(?, ?), ", n), ", ")
			args := make([]any, 0, 2*n)
			for _, t := range tokens[:n] {
				args = append(args, t, st.Time(expiry))
			}
			if _, err := db.DB.ExecContext(context.Background(), q, args...); err != nil {
				return err
			}
			tokens = tokens[n:]
		}
		return nil
	}
}
