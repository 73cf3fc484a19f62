package gormstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/gormstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/storetest"
)

// The store is a drop-in for every SCS store interface.
var (
	_ scs.Store            = (*gormstore.GORMStore)(nil)
	_ scs.CtxStore         = (*gormstore.GORMStore)(nil)
	_ scs.IterableStore    = (*gormstore.GORMStore)(nil)
	_ scs.IterableCtxStore = (*gormstore.GORMStore)(nil)
)

func TestMain(m *testing.M) {
	// scs.New, in the examples, starts a memstore whose cleanup goroutine
	// never ends; SCS offers no way to stop it.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

// TestConformance runs the conformance suite on every dialect.
func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			conformance(t, d, d.open(t), gormstore.Config{}, true)
		})
	}
}

// TestConformanceCallbacks runs the suite with Config.Callbacks, where the
// statements go through db.Exec and db.Raw (and GORM rewrites the ?
// placeholders), on PostgreSQL, the dialect whose placeholders differ, with
// the per-user index.
func TestConformanceCallbacks(t *testing.T) {
	conformance(t, dialects[0], openPostgres(t), gormstore.Config{Callbacks: true}, true)
}

// conformance runs the suite on stores configured by cfg, with a
// WriteBehind that inserts a session row directly, as a writer that ignores
// tombstones would, if indexed, the Index subtests on stores with
// Config.Owner set, and the Touch subtests on stores with Config.TouchWindow
// set, with a replica on the same table.
func conformance(t *testing.T, d dialect, db *gormDB, cfg gormstore.Config, indexed bool) {
	var tables sync.Map // *gormstore.GORMStore -> table name
	newConfigured := func(t *testing.T, now func() time.Time, cfg gormstore.Config) storetest.Store {
		cfg.Table, cfg.Now = tableName(), now
		s := newStore(t, db, cfg)
		tables.Store(s, cfg.Table)
		return s
	}
	var index func(t *testing.T, now func() time.Time) storetest.Store
	if indexed {
		index = func(t *testing.T, now func() time.Time) storetest.Store {
			cfg := cfg
			cfg.Owner = storetest.Owner
			return newConfigured(t, now, cfg)
		}
	}
	touching := func(t *testing.T, now func() time.Time) storetest.Store {
		cfg := cfg
		cfg.TouchWindow = storetest.TouchWindow
		return newConfigured(t, now, cfg)
	}
	// touchReplica is another store on s's table, with its own local view.
	touchReplica := func(t *testing.T, s storetest.Store, now func() time.Time) storetest.Store {
		table, _ := tables.Load(s)
		cfg := cfg
		cfg.Table, cfg.Now, cfg.CleanupInterval, cfg.TouchWindow = table.(string), now, -1, storetest.TouchWindow
		r, err := gormstore.NewWithConfig(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.StopCleanup)
		return r
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newConfigured(t, now, cfg)
	}, storetest.Options{Indexed: index, Touching: touching, TouchReplica: touchReplica, WriteBehind: func(t *testing.T, s storetest.Store, tok string, data []byte, expiry time.Time) {
		table, _ := tables.Load(s)
		d := sqltest.Dialect{Dialect: dialectOf(d), Placeholder: placeholders(d)}
		if err := sqltest.WriteBehind(d, sqlDB{db}, table.(string), tok, data, expiry); err != nil {
			t.Fatalf("write behind: %v", err)
		}
	}})
}
