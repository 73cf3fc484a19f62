package sqltest

import "testing"

// TestUnbounded checks the row-bound rule TestCleanupBounded applies.
func TestUnbounded(t *testing.T) {
	for _, tc := range []struct {
		st    Statement
		bound bool
	}{
		{Statement{"SELECT pg_try_advisory_xact_lock($1)", []any{int64(7)}}, true},
		{Statement{"DELETE FROM t WHERE expiry <= ? ORDER BY expiry LIMIT ?", []any{"x", int64(3)}}, true},
		{Statement{"DELETE FROM t WHERE expiry <= ? ORDER BY expiry LIMIT ?", nil}, true}, // the driver's prepare
		{Statement{"DELETE FROM t WHERE expiry <= ? ORDER BY expiry LIMIT ?", []any{"x", int64(4)}}, false},
		{Statement{"DELETE FROM t WHERE ctid = ANY (ARRAY (SELECT ctid FROM t WHERE expiry <= $1 ORDER BY expiry LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING token", []any{"x", 3}}, true},
		{Statement{"DELETE FROM t WHERE token IN ($1, $2, $3)", []any{"a", "b", "c"}}, true},
		{Statement{"DELETE FROM t WHERE expiry <= ? AND token IN (?, ?)", []any{"x", "a", "b"}}, true},
		{Statement{"DELETE FROM t WHERE token IN (?, ?, ?, ?)", []any{"a", "b", "c", "d"}}, false},
		{Statement{"DELETE FROM t WHERE token IN (SELECT token FROM tt WHERE expiry <= ?)", []any{"x"}}, false},
		{Statement{"DELETE FROM t WHERE token = ? OR token IN (SELECT token FROM tt)", []any{"x"}}, false},
		{Statement{"DELETE FROM t WHERE expiry <= ?", []any{"x"}}, false},
		{Statement{"SELECT token FROM t WHERE expiry <= ?", []any{"x"}}, false},
	} {
		if got := len(Unbounded([]Statement{tc.st}, 3)) == 0; got != tc.bound {
			t.Errorf("%s %v: bounded = %v, want %v", tc.st.Query, tc.st.Args, got, tc.bound)
		}
	}
}
