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
			s, err := gorillastore.NewPGStoreWithConfig(pool, gorillastore.PGConfig{Config: cfg, TableName: table})
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
