package sqltest

import (
	"context"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore/internal/pgcore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/storetest"
)

// The statements the tests run behind a store's back: on PostgreSQL,
// whose stores run internal/pgcore, the core's own (written with $1, $2,
// ..., which both ORMs' Exec pass as they are); elsewhere sqlstore's, in
// d's placeholder style.

// WriteBehind writes a session row for tok through db, as a writer that
// ignores tombstones would: an upsert of token, data and expiry.
func WriteBehind(d Dialect, db DB, table, tok string, data []byte, expiry time.Time) error {
	if d.Dialect == sqlstore.Postgres {
		q, _, err := pgQueries(table)
		if err != nil {
			return err
		}
		return db.Exec(q.CommitPlain, tok, data, expiry.UTC().Truncate(time.Microsecond))
	}
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		return err
	}
	return db.Exec(st.CommitPlain, tok, data, st.Time(expiry))
}

// CleanupLock returns the statement that takes, for the rest of the
// transaction it runs in, the advisory lock a PostgreSQL store's cleanup
// of table takes (another replica cleaning up holds it).
func CleanupLock(table string) (string, error) {
	q, _, err := pgQueries(table)
	return q.TryLock, err
}

// indexedCommit commits tok for owner through db, as an indexed Commit of
// another replica does, at now.
func indexedCommit(d Dialect, db DB, table, tok string, data []byte, expiry time.Time, owner string, now time.Time) error {
	if d.Dialect == sqlstore.Postgres {
		_, ix, err := pgQueries(table)
		if err != nil {
			return err
		}
		micro := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
		return db.Exec(ix.Commit, tok, data, micro(expiry), owner, micro(now), nil, nil)
	}
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		return err
	}
	return db.Exec(st.Index.Commit, tok, data, st.Time(expiry), owner, st.Time(now), st.Time(now), nil, nil, tok)
}

// pgQueries returns the core's statements on table.
func pgQueries(table string) (pgcore.Queries, pgcore.IndexQueries, error) {
	names, err := pgcore.ParseTable("sqltest", table)
	if err != nil {
		return pgcore.Queries{}, pgcore.IndexQueries{}, err
	}
	return pgcore.BuildQueries(names), pgcore.BuildIndexQueries(names), nil
}

// RunsCore checks that a store on PostgreSQL runs the statements of the
// shared PostgreSQL core (internal/pgcore) and no others of its own: the
// driver under db (rec records it, and is pgx's) receives the core's
// Find, Commit (a MERGE: pgx reports its row count), Delete, All and
// cleanup statements, byte for byte.
func RunsCore(t *testing.T, db DB, rec *Recorder) {
	table := freshTable("core")
	clock := storetest.NewClock(time.Now().Truncate(time.Microsecond))
	s := db.NewStore(t, Options{Table: table, Now: clock.Now})
	q, _, err := pgQueries(table)
	if err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	if err := s.Commit("core-tok", []byte("v"), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Find("core-tok"); err != nil || !ok {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	if _, err := s.All(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("core-tok"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteExpired(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, st := range rec.Executed() {
		seen[st.Query] = true
	}
	for name, want := range map[string]string{"Commit": q.Commit, "Find": q.Find, "All": q.All, "Delete": q.Del,
		"cleanup lock": q.TryLock, "cleanup": q.CleanSessions} {
		if !seen[want] {
			t.Errorf("the driver did not receive the core's %s statement %q; it received %q", name, want, rec.Executed())
		}
	}
}
