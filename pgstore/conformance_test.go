package pgstore

import (
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) storetest.Store {
		return newTestStore(t, Config{Now: now, CleanupInterval: time.Hour})
	})
}

func TestConformanceRealClock(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return newTestStore(t, Config{CleanupInterval: time.Hour, Timeout: 5 * time.Second})
	})
}
