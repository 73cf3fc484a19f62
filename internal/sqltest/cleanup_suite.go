package sqltest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

var (
	// keyList is a WHERE clause on a list of bind parameters only.
	keyList = regexp.MustCompile(`\btoken (= (\?|\$\d+)|IN \((\?|\$\d+)(, (\?|\$\d+))*\))`)
	// limitParam is a LIMIT taken from a bind parameter.
	limitParam = regexp.MustCompile(`\bLIMIT (\?|\$(\d+))`)
	// fromTable is a statement that reads or writes a table.
	fromTable = regexp.MustCompile(`\b(FROM|UPDATE|INTO)\b`)
)

// Unbounded returns the statements of stmts that may touch more than
// limit rows, each with the reason: every statement that names a table must
// either select its rows with a LIMIT of at most limit (a subquery's LIMIT
// counts) or name its rows by a list of at most limit keys, and contain no
// subquery otherwise. A statement without a table (SELECT
// pg_try_advisory_xact_lock(...)) is bounded.
func Unbounded(stmts []Statement, limit int) []string {
	var bad []string
	for _, st := range stmts {
		q := st.Query
		if !fromTable.MatchString(q) {
			continue
		}
		if m := limitParam.FindStringSubmatchIndex(q); m != nil {
			// The statement is recorded a second time without its
			// arguments when the driver prepares it; check the value
			// where it is known.
			if len(st.Args) == 0 {
				continue
			}
			i := strings.Count(q[:m[0]], "?") // the index of a ? parameter
			if m[4] >= 0 {
				fmt.Sscan(q[m[4]:m[5]], &i)
				i-- // $n is the n-th argument
			}
			if i >= len(st.Args) {
				bad = append(bad, fmt.Sprintf("LIMIT parameter %d of %d arguments: %s", i+1, len(st.Args), q))
				continue
			}
			var n int64
			switch v := st.Args[i].(type) {
			case int:
				n = int64(v)
			case int64:
				n = v
			default:
				bad = append(bad, fmt.Sprintf("LIMIT %v (%T) is not an integer: %s", v, v, q))
				continue
			}
			if n > int64(limit) || n <= 0 {
				bad = append(bad, fmt.Sprintf("LIMIT %d, want at most %d: %s", n, limit, q))
			}
			continue
		}
		loc := keyList.FindStringIndex(q)
		if loc == nil {
			bad = append(bad, "no LIMIT and no key list: "+q)
			continue
		}
		if strings.Count(q, "SELECT") > strings.Count(q[:6], "SELECT") {
			bad = append(bad, "a subquery beside the key list: "+q)
			continue
		}
		if keys := strings.Count(q[loc[0]:loc[1]], "?") + strings.Count(q[loc[0]:loc[1]], "$"); keys > limit {
			bad = append(bad, fmt.Sprintf("%d keys, want at most %d: %s", keys, limit, q))
		}
	}
	return bad
}

// CleanupBounded records every statement one DeleteExpired issues (rec
// is the Recorder under db) and fails on any that Unbounded reports: expired
// sessions, tombstones past the cutoff and rows written behind them go in
// bounded batches.
func CleanupBounded(t *testing.T, d Dialect, db DB, rec *Recorder) {
	const batch = 3
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	table := fmt.Sprintf("cb_%d", time.Now().UnixNano()%1e12)
	s := db.NewStore(t, Options{Table: table, Now: clock.Now, CleanupBatchSize: batch})
	for i := range 10 {
		if err := s.Commit(fmt.Sprint("short-", i), []byte("x"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		tok := fmt.Sprint("deleted-", i)
		if err := s.Commit(tok, []byte("x"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(tok); err != nil {
			t.Fatal(err)
		}
	}
	writeBehind(t, d, db, table, "deleted-0", clock.Now().Add(100*time.Hour))
	if err := s.Commit("long", []byte("x"), clock.Now().Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(sessionstore.DefaultTombstoneLifetime + sessionstore.DefaultClockSkew + time.Minute)
	rec.Reset()
	if n, err := s.DeleteExpired(context.Background()); err != nil || n != 15 {
		t.Errorf("DeleteExpired = %d, %v; want 15 (10 sessions, 4 tombstones, 1 row written behind one), nil", n, err)
	}
	stmts := rec.Statements()
	deletes := 0
	for _, st := range stmts {
		if strings.HasPrefix(st.Query, "DELETE") {
			deletes++
		}
	}
	if deletes < 10/batch+4/batch {
		t.Errorf("recorded %d DELETE statements, want one per batch at least: %q", deletes, stmts)
	}
	for _, bad := range Unbounded(stmts, batch) {
		t.Error("unbounded cleanup statement: " + bad)
	}
	if all, err := s.All(); err != nil || len(all) != 1 {
		t.Errorf("All after cleanup = %d sessions, %v; want 1 (long)", len(all), err)
	}
}

// CleanupCutoff writes tombstones with known expiries, and a live row
// behind one of them, and runs cleanup just before and at each tombstone's
// expiry plus the default clock-skew allowance: a tombstone goes only when
// its expiry <= now - ClockSkew, and the row behind it goes in the same
// run, never to be served.
func CleanupCutoff(t *testing.T, d Dialect, db DB) {
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	table := fmt.Sprintf("cc_%d", time.Now().UnixNano()%1e12)
	s := db.NewStore(t, Options{Table: table, Now: clock.Now})
	first := clock.Now().Add(time.Minute)
	second := first.Add(time.Second)
	p := placeholders(d, 2)
	for tok, exp := range map[string]time.Time{"first": first, "second": second} {
		q := "INSERT INTO " + table + "_tombstones (token, expiry) VALUES (" + p[0] + ", " + p[1] + ")"
		if err := db.Exec(q, tok, sqlTime(d, exp)); err != nil {
			t.Fatal(err)
		}
	}
	writeBehind(t, d, db, table, "first", first.Add(100*time.Hour))
	blocked := func(tok string) {
		t.Helper()
		if _, ok, err := s.Find(tok); err != nil || ok {
			t.Fatalf("Find(%s) = %v, %v; want not found", tok, ok, err)
		}
		if err := s.Commit(tok, []byte("late"), clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Find(tok); err != nil || ok {
			t.Fatalf("Find(%s) after a Commit behind its tombstone = %v, %v; want not found", tok, ok, err)
		}
	}
	run := func(want int64) {
		t.Helper()
		if n, err := s.DeleteExpired(context.Background()); err != nil || n != want {
			t.Fatalf("DeleteExpired at first's expiry %+v = %d, %v; want %d", clock.Now().Sub(first), n, err, want)
		}
	}
	clock.Set(first.Add(sessionstore.DefaultClockSkew - time.Microsecond))
	run(0)
	blocked("first")
	clock.Set(first.Add(sessionstore.DefaultClockSkew))
	run(2) // first's tombstone and the row behind it
	if _, ok, err := s.Find("first"); err != nil || ok {
		t.Fatalf("Find(first) after its tombstone went = %v, %v; want not found (the row behind it goes too)", ok, err)
	}
	blocked("second")
	if err := s.Commit("first", []byte("new"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.Find("first"); err != nil || !ok || string(got) != "new" {
		t.Fatalf("Find(first) once its tombstone went = %q, %v, %v; want a new session", got, ok, err)
	}
}

// writeBehind writes a live session row for token behind the store's back,
// as a writer that ignores tombstones would.
func writeBehind(t *testing.T, d Dialect, db DB, table, token string, expiry time.Time) {
	t.Helper()
	p := placeholders(d, 3)
	q := "INSERT INTO " + table + " (token, data, expiry) VALUES (" + strings.Join(p, ", ") + ")"
	if err := db.Exec(q, token, []byte("written-behind"), sqlTime(d, expiry)); err != nil {
		t.Fatal(err)
	}
}

// placeholders returns n parameter markers in d's style.
func placeholders(d Dialect, n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = "?"
		if d.Placeholder == sqlstore.Dollar {
			p[i] = fmt.Sprint("$", i+1)
		}
	}
	return p
}

// sqlTime is t as d stores expiries.
func sqlTime(d Dialect, t time.Time) any {
	st, err := sqlstore.New(d.Dialect, d.Placeholder, "sessions")
	if err != nil {
		panic(err)
	}
	return st.Time(t)
}
