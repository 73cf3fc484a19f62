package bunstore_test

import (
	"testing"

	"github.com/sessionstore/sessionstore/internal/sqltest"
)

// TestTouchWrites counts the write statements that reach each database, at
// the driver, while unchanged sessions are committed every 5 seconds for 10
// minutes of fake time: at most one per session per minute with
// Config.TouchWindow one minute, one per Commit without it.
func TestTouchWrites(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db, rec := openRecorded(t, d)
			sqltest.TouchWrites(t, sqlDB{db}, rec)
		})
	}
}

// TestTouchWindowNegative checks that NewWithConfig refuses a negative
// Config.TouchWindow.
func TestTouchWindowNegative(t *testing.T) {
	sqltest.TouchWindowNegative(t, sqlDB{openSQLite(t)}, "bunstore")
}
