package gorillastore_test

import (
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/gorillastore"
	"github.com/sessionstore/sessionstore/gorillastore/gorillatest"
	"github.com/sessionstore/sessionstore/memstore"
)

func TestGorillaPGStore(t *testing.T) {
	gorillatest.Run(t, func(t *testing.T, now func() time.Time) gorillatest.Maker {
		pool := gorillastore.PoolForTest(t)
		table := gorillastore.TableName()
		return func(t *testing.T, cfg gorillastore.Config) gorillatest.Store {
			s, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{Config: cfg, Table: table})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.Close()
				gorillastore.DropTables(t, s)
			})
			return s
		}
	})
}

// ownerKey is how the Index subtests' stores read owners.
var ownerKey = gorillastore.OwnerKey(gorillatest.OwnerKey)

func TestGorillaPGStoreIndex(t *testing.T) {
	runPGStoreIndex(t, gorillastore.PoolForTest)
}

// TestGorillaPGStoreIndexPoolOfOne: no index operation holds a connection
// while it needs another.
func TestGorillaPGStoreIndexPoolOfOne(t *testing.T) {
	runPGStoreIndex(t, gorillastore.PoolOfOneForTest)
}

func runPGStoreIndex(t *testing.T, newPool func(t *testing.T) gorillastore.DBConn) {
	gorillatest.RunIndex(t, func(t *testing.T, now func() time.Time) gorillatest.Maker {
		pool := newPool(t)
		table := gorillastore.TableName()
		return func(t *testing.T, cfg gorillastore.Config) gorillatest.Store {
			s, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{Config: cfg, Table: table, Owner: ownerKey})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.Close()
				gorillastore.DropTables(t, s)
			})
			return s
		}
	})
}

// TestGorillaAdapterPGTableIndex runs the Index subtests on the adapter over
// PGStore's table as an indexed SCS store: the adapter's delegation and ID
// mapping, over a real index.
func TestGorillaAdapterPGTableIndex(t *testing.T) {
	gorillatest.RunAdapterIndex(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		return gorillastore.IndexedBackendForTest(t, now, ownerKey)
	})
}

// TestGorillaAdapterMemstoreIndex runs the Index subtests on the adapter
// over memstore with its per-user index on, as gorilla users configure it.
func TestGorillaAdapterMemstoreIndex(t *testing.T) {
	gorillatest.RunAdapterIndex(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		m, err := memstore.NewWithConfig(memstore.Config{Now: now, CleanupInterval: -1,
			Owner: gorillastore.OwnerKey(gorillatest.OwnerKey)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestGorillaAdapterPGTable(t *testing.T) {
	gorillatest.RunAdapter(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		return gorillastore.BackendForTest(t, now)
	})
}

func TestGorillaAdapterMemstore(t *testing.T) {
	gorillatest.RunAdapter(t, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		m, err := memstore.NewWithConfig(memstore.Config{Now: now, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.StopCleanup)
		return m
	})
}

func TestGorillaPGStoreTouch(t *testing.T) {
	gorillatest.RunTouch(t, func(t *testing.T, now func() time.Time) gorillatest.Maker {
		pool := gorillastore.PoolForTest(t)
		table := gorillastore.TableName()
		return func(t *testing.T, cfg gorillastore.Config) gorillatest.Store {
			s, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{Config: cfg, Table: table})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				s.Close()
				gorillastore.DropTables(t, s)
			})
			return s
		}
	})
}

// TestGorillaAdapterPGTableTouch: the adapter's own view over PGStore's
// table as an SCS store, which reports no expiry on Find.
func TestGorillaAdapterPGTableTouch(t *testing.T) {
	gorillatest.RunAdapterTouch(t, false, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		return gorillastore.BackendForTest(t, now)
	})
}

// TestGorillaAdapterMemstoreTouch: the adapter's own view over memstore
// without a TouchWindow.
func TestGorillaAdapterMemstoreTouch(t *testing.T) {
	gorillatest.RunAdapterTouch(t, false, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		m, err := memstore.NewWithConfig(memstore.Config{Now: now, CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.StopCleanup)
		return m
	})
}

// TestGorillaAdapterMemstoreOwnTouch: memstore's own TouchWindow under an
// adapter without one, as the adapter's documentation advises: gorilla's
// canonical value encoding lets memstore see unchanged sessions.
func TestGorillaAdapterMemstoreOwnTouch(t *testing.T) {
	gorillatest.RunAdapterTouch(t, true, func(t *testing.T, now func() time.Time) gorillastore.CtxStore {
		m, err := memstore.NewWithConfig(memstore.Config{Now: now, CleanupInterval: -1, TouchWindow: gorillatest.TouchWindow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.StopCleanup)
		return m
	})
}
