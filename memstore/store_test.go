package memstore_test

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/memstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// The store is a drop-in for every SCS store interface.
var (
	_ scs.Store            = (*memstore.MemStore)(nil)
	_ scs.CtxStore         = (*memstore.MemStore)(nil)
	_ scs.IterableStore    = (*memstore.MemStore)(nil)
	_ scs.IterableCtxStore = (*memstore.MemStore)(nil)
)

func TestMain(m *testing.M) {
	// scs.New starts SCS's own memstore, which the examples replace and
	// whose cleanup goroutine nobody can stop.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}

func TestConformance(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s := mustNew(t, memstore.Config{Now: now, CleanupInterval: time.Hour})
		t.Cleanup(s.StopCleanup)
		return s
	}, storetest.Options{
		Indexed:  indexed(memstore.Config{CleanupInterval: time.Hour}),
		Touching: touching(memstore.Config{CleanupInterval: time.Hour}),
	})
}

// touching returns the storetest.Options.Touching factory of stores
// configured by cfg with storetest.TouchWindow.
func touching(cfg memstore.Config) func(t *testing.T, now func() time.Time) storetest.Store {
	return func(t *testing.T, now func() time.Time) storetest.Store {
		c := cfg
		c.Now, c.TouchWindow = now, storetest.TouchWindow
		s := mustNew(t, c)
		t.Cleanup(func() {
			s.StopCleanup()
			if err := memstore.CheckInvariants(s); err != nil {
				t.Error(err)
			}
		})
		return s
	}
}

// indexed returns the storetest.Options.Indexed factory of stores
// configured by cfg with the per-user index on, each checked for the
// consistency of its index when its test ends.
func indexed(cfg memstore.Config) func(t *testing.T, now func() time.Time) storetest.Store {
	return func(t *testing.T, now func() time.Time) storetest.Store {
		c := cfg
		c.Now, c.Owner = now, storetest.Owner
		s := mustNew(t, c)
		t.Cleanup(func() {
			s.StopCleanup()
			if err := memstore.CheckInvariants(s); err != nil {
				t.Error(err)
			}
		})
		return s
	}
}

func TestConformanceRealClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s := memstore.New()
		t.Cleanup(s.StopCleanup)
		return s
	})
}

func TestConformanceBounded(t *testing.T) {
	// Bounds far above what the suite stores change nothing it can see.
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s := mustNew(t, memstore.Config{Now: now, MaxSessions: 1 << 20, MaxBytes: 1 << 30, CleanupInterval: -1})
		t.Cleanup(s.StopCleanup)
		return s
	}, storetest.Options{
		Indexed:  indexed(memstore.Config{MaxSessions: 1 << 20, MaxBytes: 1 << 30, CleanupInterval: -1}),
		Touching: touching(memstore.Config{MaxSessions: 1 << 20, MaxBytes: 1 << 30, CleanupInterval: -1}),
	})
}

func TestConformanceSmallBounds(t *testing.T) {
	// Bounds a little above what the suite stores at once (7,510 sessions,
	// a session of 1 MiB): the store holds what they say, whichever shards
	// the suite's tokens land in.
	storetest.RunWithOptions(t, func(t *testing.T, now func() time.Time) storetest.Store {
		s := mustNew(t, memstore.Config{Now: now, MaxSessions: 8000, MaxBytes: 4 << 20, CleanupInterval: -1})
		t.Cleanup(s.StopCleanup)
		return s
	}, storetest.Options{
		Indexed:  indexed(memstore.Config{MaxSessions: 8000, MaxBytes: 4 << 20, CleanupInterval: -1}),
		Touching: touching(memstore.Config{MaxSessions: 8000, MaxBytes: 4 << 20, CleanupInterval: -1}),
	})
}
