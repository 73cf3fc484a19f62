package bunstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
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
			conformance(t, d, d.open(t))
		})
	}
}

// conformance runs the suite on stores on db, with a WriteBehind that
// inserts a session row directly, as a writer that ignores tombstones would.
func conformance(t *testing.T, d dialect, db *bunDB) {
	var tables sync.Map // *bunstore.BunStore -> table name
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		table := tableName()
		s := newStore(t, db, bunstore.Config{TableName: table, Now: now})
		tables.Store(s, table)
		return s
	}, storetest.Options{WriteBehind: func(t *testing.T, s storetest.Store, tok string, data []byte, expiry time.Time) {
		table, _ := tables.Load(s)
		st, err := sqlstore.New(dialectOf(d), placeholders(d), table.(string))
		if err != nil {
			t.Fatal(err)
		}
		if err := (sqlDB{db}).Exec(st.CommitPlain, tok, data, st.Time(expiry)); err != nil {
			t.Fatalf("write behind: %v", err)
		}
	}})
}
