package bunstore_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sessionstore/sessionstore/bunstore"
	"github.com/sessionstore/sessionstore/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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
