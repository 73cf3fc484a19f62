package hardening

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	gpostgres "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/internal/testenv"
)

// recordedStores are bunstore and gormstore on PostgreSQL connections that
// record every statement they send. (pgstore checks the same on a closed
// pool, in its own tests; memstore has no round trip to make.)
func recordedStores(tb testing.TB) ([]backendStore, *sqltest.Recorder) {
	cfg, err := pgx.ParseConfig(pgDSN)
	if err != nil {
		tb.Fatal(err)
	}
	rec := &sqltest.Recorder{Connector: stdlib.GetConnector(*cfg)}
	sqldb := sql.OpenDB(rec)
	tb.Cleanup(func() { sqldb.Close() })
	if err := sqldb.Ping(); err != nil {
		testenv.Unavailable(tb, "PostgreSQL at 127.0.0.1:5432", "start it, or run make test", err)
	}
	bdb := bun.NewDB(sqldb, pgdialect.New())
	btable := uniqueName("hr")
	bs, err := bunstore.NewWithConfig(bdb, bunstore.Config{Table: btable, CleanupInterval: -1})
	if err == nil {
		err = bs.Migrate(context.Background())
	}
	if err != nil {
		tb.Fatal(err)
	}
	gdb, err := gorm.Open(gpostgres.New(gpostgres.Config{Conn: sqldb}), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	gtable := uniqueName("hr")
	gs, err := gormstore.NewWithConfig(gdb, gormstore.Config{Table: gtable, CleanupInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		bs.StopCleanup()
		gs.StopCleanup()
		for _, tbl := range []string{btable, gtable} {
			sqldb.Exec(`DROP TABLE IF EXISTS "` + tbl + `", "` + tbl + `_tombstones"`)
		}
	})
	return []backendStore{{"bunstore/postgres", bs}, {"gormstore/postgres", gs}}, rec
}

// FuzzNoRoundTrip: a token no session manager could have issued is
// answered without a statement reaching the database.
func FuzzNoRoundTrip(f *testing.F) {
	for _, seed := range []string{"", "a\x00b", "\xff", "\xc3", strings.Repeat("x", 10<<10), strings.Repeat("y", sessionstore.MaxTokenLen+1)} {
		f.Add(seed)
	}
	stores, rec := recordedStores(f)
	for _, s := range stores { // the recorder does see each store's statements
		before := len(rec.Statements())
		if _, _, err := s.store.Find("a-valid-token"); err != nil {
			f.Fatal(err)
		}
		if len(rec.Statements()) == before {
			f.Fatalf("%s: a Find of a valid token was not recorded", s.name)
		}
	}
	var mu sync.Mutex
	f.Fuzz(func(t *testing.T, token string) {
		if sessionstore.ValidToken(token) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, s := range stores {
			before := len(rec.Statements())
			if _, found, err := s.store.Find(token); found || err != nil {
				t.Fatalf("%s: Find(%q) = %v, %v", s.name, token, found, err)
			}
			s.store.Commit(token, []byte("x"), time.Now().Add(time.Hour))
			if err := s.store.Delete(token); err != nil {
				t.Fatalf("%s: Delete(%q) = %v", s.name, token, err)
			}
			if after := rec.Statements(); len(after) != before {
				t.Fatalf("%s: token %q sent %d statements to the database, e.g. %q", s.name, token, len(after)-before, after[before].Query)
			}
		}
	})
}
