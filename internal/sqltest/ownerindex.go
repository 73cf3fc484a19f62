package sqltest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionstore/sessionstore"
	"github.com/sessionstore/sessionstore/internal/sqlstore"
	"github.com/sessionstore/sessionstore/internal/testenv"
	"github.com/sessionstore/sessionstore/storetest"
)

// wideKey is the key of MySQL's owner index: every column a listing reads.
var wideKey = []string{"owner", "expiry", "last_seen", "created", "user_agent", "ip"}

// narrowKey is the key earlier versions gave it.
var narrowKey = []string{"owner", "expiry"}

// oldSchema returns the DDL of table as an earlier version left it on
// MySQL: the sessions and tombstone tables, the index columns, and the
// owner index on (owner, expiry).
func oldSchema(st *sqlstore.Statements) []string {
	return slices.Concat(st.CreateSessions, st.CreateTombstones, st.Index.AddColumns(sqlstore.IndexColumns),
		[]string{"CREATE INDEX `" + st.Table + "_owner_idx` ON `" + st.Table + "` (" + strings.Join(narrowKey, ", ") + ")"})
}

// oldTable creates a fresh table named from prefix as an earlier version
// left it on MySQL (oldSchema), dropped when t ends, and returns its name.
func oldTable(t *testing.T, d Dialect, db DB, prefix string) string {
	t.Helper()
	table := freshTable(prefix)
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP TABLE IF EXISTS " + table, "DROP TABLE IF EXISTS " + table + "_tombstones"} {
			if err := db.Exec(q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	for _, q := range oldSchema(st) {
		if err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return table
}

// ownerKey returns the key columns of table's owner index, in order, as
// information_schema.statistics lists them.
func ownerKey(t *testing.T, db DB, table string) []string {
	t.Helper()
	rows, err := db.SQL().Query("SELECT column_name FROM information_schema.statistics"+
		" WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? ORDER BY seq_in_index", table, table+"_owner_idx")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, strings.ToLower(c))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// ownerIndexID returns InnoDB's id of table's owner index, which a
// rebuild of the index changes (MariaDB: innodb_sys_*, MySQL 8:
// innodb_*).
func ownerIndexID(t *testing.T, db DB, table string) int64 {
	t.Helper()
	var errs []error
	for _, sys := range []string{"innodb_sys_", "innodb_"} {
		var id int64
		err := db.SQL().QueryRow("SELECT i.index_id FROM information_schema."+sys+"indexes i"+
			" JOIN information_schema."+sys+"tables t ON t.table_id = i.table_id"+
			" WHERE t.name = CONCAT(DATABASE(), '/', ?) AND i.name = ?", table, table+"_owner_idx").Scan(&id)
		if err == nil {
			return id
		}
		errs = append(errs, err)
	}
	t.Fatalf("InnoDB id of %s_owner_idx: %v", table, errs)
	return 0
}

// committedBefore commits sessions on table as an indexed store of an
// earlier version did, and returns their tokens by owner.
func committedBefore(t *testing.T, d Dialect, db DB, table string, exp time.Time) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for i, owner := range []string{"alice", "alice", "alice", "bob", "Alice"} {
		tok := fmt.Sprintf("old-%s-%d", strings.ToLower(owner), i)
		if err := indexedCommit(d, db, table, tok, gobData(t, owner, exp), exp, owner, time.Now()); err != nil {
			t.Fatal(err)
		}
		want[owner] = append(want[owner], tok)
	}
	return want
}

// servesBefore checks that s finds every session of want and lists it
// under its owner.
func servesBefore(t *testing.T, s SQLStore, want map[string][]string) {
	t.Helper()
	idx := s.(sessionstore.UserIndex)
	for owner, toks := range want {
		for _, tok := range toks {
			if _, ok, err := s.Find(tok); err != nil || !ok {
				t.Errorf("Find(%s) = %v, %v", tok, ok, err)
			}
		}
		if got := listedIDs(t, idx, owner); !slices.Equal(got, ids(toks)) {
			t.Errorf("%q has %v listed, want %v", owner, got, ids(toks))
		}
		if n, err := idx.CountUserSessions(context.Background(), owner); err != nil || n != len(toks) {
			t.Errorf("CountUserSessions(%q) = %d, %v; want %d", owner, n, err, len(toks))
		}
	}
}

// warns counts the WARN records of a text log.
func warns(logs *testenv.SyncBuffer) int { return strings.Count(logs.String(), "level=WARN") }

// oldOwnerIndex opens an indexed store on a table whose owner index an
// earlier version made on (owner, expiry): the constructor replaces it
// with the index on every column a listing reads, in place (the statement
// says ALGORITHM=INPLACE, LOCK=NONE, so a server that would copy the table
// refuses it, and the store warns), without a WARN; the sessions committed
// before are found and listed; Migrate again leaves the new index as it is.
// MySQL only: the owner index of the other dialects has kept its key.
func oldOwnerIndex(t *testing.T, d Dialect, db DB) {
	if d.Dialect != sqlstore.MySQL {
		t.Skip("only MySQL's owner index has changed its columns")
	}
	table := oldTable(t, d, db, "oi")
	exp := time.Now().Add(time.Hour)
	want := committedBefore(t, d, db, table, exp)
	before := ownerIndexID(t, db, table)

	logs := &testenv.SyncBuffer{}
	s := db.NewStore(t, Options{Table: table, Owner: storetest.Owner, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if got := ownerKey(t, db, table); !slices.Equal(got, wideKey) {
		t.Fatalf("after the constructor the owner index is on (%s), want (%s)", strings.Join(got, ", "), strings.Join(wideKey, ", "))
	}
	replaced := ownerIndexID(t, db, table)
	if replaced == before {
		t.Errorf("the owner index has its old id %d", before)
	}
	if n := warns(logs); n != 0 {
		t.Errorf("%d WARNs replacing the owner index as the table's owner:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "owner index replaced") {
		t.Errorf("no INFO says the owner index was replaced:\n%s", logs)
	}
	servesBefore(t, s, want)

	// Migrate again: the index is right, nothing is rebuilt.
	logged := logs.String()
	if err := s.(interface{ Migrate(context.Context) error }).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ownerKey(t, db, table); !slices.Equal(got, wideKey) {
		t.Errorf("after Migrate again the owner index is on (%s)", strings.Join(got, ", "))
	}
	if id := ownerIndexID(t, db, table); id != replaced {
		t.Errorf("Migrate again rebuilt the owner index (id %d, was %d)", id, replaced)
	}
	if more := strings.TrimPrefix(logs.String(), logged); more != "" {
		t.Errorf("Migrate again logged:\n%s", more)
	}
	servesBefore(t, s, want)
	if err := s.Commit("new-alice", gobData(t, "alice", exp), exp); err != nil {
		t.Fatal(err)
	}
	want["alice"] = append(want["alice"], "new-alice")
	servesBefore(t, s, want)
}

// oldOwnerIndexNoAlter opens an indexed store, as a role that may read and
// write the table but not alter it, on a table whose owner index an
// earlier version made on (owner, expiry): the constructor succeeds and
// logs one WARN, the old index stays, and the store finds, lists and
// commits sessions. MySQL only, as oldOwnerIndex.
func oldOwnerIndexNoAlter(t *testing.T, d Dialect, admin DB) {
	if d.Dialect != sqlstore.MySQL {
		t.Skip("only MySQL's owner index has changed its columns")
	}
	table := freshTable("oin")
	st, err := sqlstore.New(d.Dialect, d.Placeholder, table)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := restrictedUser(t, d, admin, table, "sqlc", oldSchema(st), table, table+"_tombstones")
	exp := time.Now().Add(time.Hour)
	want := committedBefore(t, d, admin, table, exp)

	logs := &testenv.SyncBuffer{}
	s, err := db.TryStore(t, Options{Table: table, Owner: storetest.Owner, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("NewWithConfig with Owner, without ALTER privilege, over the old owner index: %v", err)
	}
	if n := warns(logs); n != 1 || !strings.Contains(logs.String(), "owner index") || !strings.Contains(logs.String(), table) {
		t.Errorf("the constructor logged %d WARNs, want 1 naming the owner index of %s:\n%s", n, table, logs)
	}
	t.Logf("the WARN: %s", logs)
	if got := ownerKey(t, admin, table); !slices.Equal(got, narrowKey) {
		t.Errorf("the owner index is on (%s), want the old (%s) kept", strings.Join(got, ", "), strings.Join(narrowKey, ", "))
	}
	servesBefore(t, s, want)
	if err := s.Commit("new-bob", gobData(t, "bob", exp), exp); err != nil {
		t.Fatal(err)
	}
	want["bob"] = append(want["bob"], "new-bob")
	servesBefore(t, s, want)
	if n := warns(logs); n != 1 {
		t.Errorf("%d WARNs after the store ran, want the constructor's 1:\n%s", n, logs)
	}
}

// behindTransaction runs open while another connection holds a transaction
// that has read table, and so holds the table's metadata lock until it
// ends, as a long report or a forgotten transaction would, and returns
// what open returned. It fails t if open has not returned after a minute.
func behindTransaction(t *testing.T, db DB, table string, open func() (SQLStore, error)) (SQLStore, error) {
	t.Helper()
	tx, err := db.SQL().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		s   SQLStore
		err error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := open()
		done <- opened{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(time.Minute):
		tx.Rollback() //nolint:errcheck // as above
		<-done
		t.Fatal("the constructor was still waiting for the table's lock after a minute behind an open transaction; every statement on the table queues behind it meanwhile")
		return nil, nil
	}
}

// migrateBehindTransaction turns the index on for a table without its
// columns while a transaction holds the table's metadata lock: the
// constructor's ALTER TABLE gives up after a bounded wait (lock_wait_timeout)
// and the constructor fails with the server's lock wait timeout, rather
// than wait for the transaction, which on MySQL would queue every request
// on the table behind it; once the transaction has ended, the constructor
// migrates and the session committed before is listed. MySQL only.
func migrateBehindTransaction(t *testing.T, d Dialect, db DB) {
	if d.Dialect != sqlstore.MySQL {
		t.Skip("PostgreSQL runs pgcore, which bounds the wait with lock_timeout; SQLite has one writer at a time")
	}
	table := freshTable("mbt")
	plain := db.NewStore(t, Options{Table: table})
	exp := time.Now().Add(time.Hour)
	if err := plain.Commit("behind-alice", gobData(t, "alice", exp), exp); err != nil {
		t.Fatal(err)
	}
	_, err := behindTransaction(t, db, table, func() (SQLStore, error) {
		return db.TryStore(t, Options{Table: table, Owner: storetest.Owner})
	})
	if err == nil || !strings.Contains(err.Error(), "Lock wait timeout") {
		t.Errorf("NewWithConfig with Owner behind an open transaction: %v, want MySQL's lock wait timeout", err)
	}
	s, err := db.TryStore(t, Options{Table: table, Owner: storetest.Owner})
	if err != nil {
		t.Fatalf("NewWithConfig with Owner once the transaction ended: %v", err)
	}
	servesBefore(t, s, map[string][]string{"alice": {"behind-alice"}})
}

// replaceBehindTransaction opens an indexed store on a table with an owner
// index of the earlier shape while a transaction holds the table's
// metadata lock: the replacement gives up after a bounded wait, the store
// keeps the old index with one WARN, and serves. MySQL only.
func replaceBehindTransaction(t *testing.T, d Dialect, db DB) {
	if d.Dialect != sqlstore.MySQL {
		t.Skip("only MySQL's owner index has changed its columns")
	}
	table := oldTable(t, d, db, "rbt")
	want := committedBefore(t, d, db, table, time.Now().Add(time.Hour))
	logs := &testenv.SyncBuffer{}
	s, err := behindTransaction(t, db, table, func() (SQLStore, error) {
		return db.TryStore(t, Options{Table: table, Owner: storetest.Owner, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	})
	if err != nil {
		t.Fatalf("NewWithConfig with Owner over the old owner index, behind an open transaction: %v", err)
	}
	if n := warns(logs); n != 1 || !strings.Contains(logs.String(), "Lock wait timeout") {
		t.Errorf("the constructor logged %d WARNs, want 1 with the lock wait timeout:\n%s", n, logs)
	}
	if got := ownerKey(t, db, table); !slices.Equal(got, narrowKey) {
		t.Errorf("the owner index is on (%s), want the old (%s) kept", strings.Join(got, ", "), strings.Join(narrowKey, ", "))
	}
	servesBefore(t, s, want)
}
