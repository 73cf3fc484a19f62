package gormstore_test

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/gormstore"
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

func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
				return newStore(t, db, gormstore.Config{Now: now})
			})
		})
	}
}

// TestConformanceCallbacks runs the suite with Config.Callbacks, where the
// statements go through db.Exec and db.Raw (and GORM rewrites the ?
// placeholders), on PostgreSQL, the dialect whose placeholders differ.
func TestConformanceCallbacks(t *testing.T) {
	db := openPostgres(t)
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newStore(t, db, gormstore.Config{Now: now, Callbacks: true})
	})
}
