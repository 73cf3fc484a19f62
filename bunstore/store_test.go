package bunstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqltest"
	"github.com/sessionstore/sessionstore/storetest"
)

// The store is a drop-in for every SCS store interface.
var (
	_ scs.Store            = (*bunstore.BunStore)(nil)
	_ scs.CtxStore         = (*bunstore.BunStore)(nil)
	_ scs.IterableStore    = (*bunstore.BunStore)(nil)
	_ scs.IterableCtxStore = (*bunstore.BunStore)(nil)
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
			conformance(t, d, d.open(t), bunstore.Config{}, true)
		})
	}
}

// conformance runs the suite on stores on db configured by base, with a WriteBehind that
// inserts a session row directly, as a writer that ignores tombstones would,
// if indexed, the Index subtests on stores with Config.Owner set, and the
// Touch subtests on stores with Config.TouchWindow set, with a replica on
// the same table.
func conformance(t *testing.T, d dialect, db *bunDB, base bunstore.Config, indexed bool) {
	var tables sync.Map // *bunstore.BunStore -> table name
	newConfigured := func(t *testing.T, cfg bunstore.Config) storetest.Store {
		cfg.Table, cfg.AsyncCommit = tableName(), base.AsyncCommit
		s := newStore(t, db, cfg)
		tables.Store(s, cfg.Table)
		return s
	}
	var index func(t *testing.T, now func() time.Time) storetest.Store
	if indexed {
		index = func(t *testing.T, now func() time.Time) storetest.Store {
			return newConfigured(t, bunstore.Config{Now: now, Owner: storetest.Owner})
		}
	}
	touching := func(t *testing.T, now func() time.Time) storetest.Store {
		return newConfigured(t, bunstore.Config{Now: now, TouchWindow: storetest.TouchWindow})
	}
	// touchReplica is another store on s's table, with its own local view.
	touchReplica := func(t *testing.T, s storetest.Store, now func() time.Time) storetest.Store {
		table, _ := tables.Load(s)
		r, err := bunstore.NewWithConfig(db, bunstore.Config{Table: table.(string), Now: now, CleanupInterval: -1, TouchWindow: storetest.TouchWindow, AsyncCommit: base.AsyncCommit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.StopCleanup)
		return r
	}
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newConfigured(t, bunstore.Config{Now: now})
	}, storetest.Options{Indexed: index, Touching: touching, TouchReplica: touchReplica, WriteBehind: func(t *testing.T, s storetest.Store, tok string, data []byte, expiry time.Time) {
		table, _ := tables.Load(s)
		d := sqltest.Dialect{Dialect: dialectOf(d), Placeholder: placeholders(d)}
		if err := sqltest.WriteBehind(d, sqlDB{db}, table.(string), tok, data, expiry); err != nil {
			t.Fatalf("write behind: %v", err)
		}
	}})
}
