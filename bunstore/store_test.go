package bunstore_test

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/bunstore"
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

func TestConformance(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t)
			storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
				return newStore(t, db, bunstore.Config{Now: now})
			})
		})
	}
}
